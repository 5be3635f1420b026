#!/usr/bin/env bash
# Runs a command with the wall clock moved, for it and every process it starts:
#
#   scripts/at.sh WHEN COMMAND [ARG...]
#
# WHEN is anything GNU date reads ("2027-12-31 23:58 UTC", "now + 13 months",
# "now - 1 year"); the command's clock starts there and runs on. Monotonic clocks are
# not moved. The library doing it (tests/clock/shift.c) is built into target/ once.
# `make test-clock` runs the suites this way, ahead and back across a year's end and a
# leap day.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -lt 2 ]; then
  echo "usage: scripts/at.sh WHEN COMMAND [ARG...]" >&2
  exit 2
fi
when=$1
shift
target=$(date -u -d "$when" +%s) || {
  echo "scripts/at.sh: cannot read the time \"$when\"" >&2
  exit 2
}
lib="$root/target/clock-shift.so"
source="$root/tests/clock/shift.c"
if [ ! -f "$lib" ] || [ "$source" -nt "$lib" ]; then
  mkdir -p "$root/target"
  gcc -O2 -Wall -Werror -Wno-nonnull-compare -shared -fPIC -o "$lib.tmp" "$source" -ldl
  mv "$lib.tmp" "$lib"
fi
export MULTISHOT_CLOCK_SHIFT_S=$((target - $(date -u +%s)))
export LD_PRELOAD="$lib${LD_PRELOAD:+ $LD_PRELOAD}"
# The moved clock is checked before the command runs: a shim that did not load must not
# pass for a suite that ran on another day.
seen=$(date -u +%s)
if [ $((seen - target)) -gt 5 ] || [ $((target - seen)) -gt 5 ]; then
  echo "scripts/at.sh: the clock did not move (wanted $target, read $seen)" >&2
  exit 1
fi
echo "[at] $(date -u '+%Y-%m-%d %H:%M:%S UTC') (moved ${MULTISHOT_CLOCK_SHIFT_S} s): $*" >&2
exec "$@"
