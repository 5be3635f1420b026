#!/usr/bin/env bash
# Builds the Worker into proxy-worker/build/ when a source it is made of is newer than
# the build (or FORCE=1): worker-build --release --panic-unwind (a panic becomes an
# error for its one request instead of aborting the instance: see docs/worker.md),
# with the project's pinned nightly (toolchain/pin) and this machine's wasm-bindgen,
# wasm-opt (npm binaryen) and esbuild (npm): nothing is downloaded but crates.
# Concurrent callers (tests starting several Workers) wait for one build.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
export PATH="$here/toolchain:$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
built="$here/build/index_bg.wasm"
fresh() {
  [[ "${FORCE:-0}" != 1 && -f "$built" ]] && [[ -z "$(find "$root/proxy/src" "$root/proxy/Cargo.toml" \
    "$here/src" "$here/Cargo.toml" "$here/build.sh" "$root/crates/rules/src" "$root/Cargo.lock" \
    -newer "$built" -not -path "$here/src/bin/*" -print -quit)" ]]
}
fresh && exit 0
mkdir -p "$root/target"
exec 9>"$root/target/worker-build.lock"
flock 9
fresh && exit 0
command -v worker-build >/dev/null || { echo "worker-build is missing: scripts/ensure-tools.sh test installs it" >&2; exit 1; }
echo "building the Worker (worker-build --release --panic-unwind; a few minutes the first time)…"
cd "$here"
WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" \
WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt" \
ESBUILD_BIN="$root/node_modules/.bin/esbuild" \
  worker-build --release --panic-unwind
touch "$built"
