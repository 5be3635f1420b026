#!/usr/bin/env bash
# Builds the Worker into proxy-worker/build/ when a source it is made of is newer than
# the build (or FORCE=1): worker-build --release, pointed at this machine's wasm-bindgen
# (the workspace's pinned version), wasm-opt (npm binaryen) and esbuild (npm).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
built="$here/build/index_bg.wasm"
if [[ "${FORCE:-0}" != 1 && -f "$built" ]] && [[ -z "$(find "$root/proxy/src" "$root/proxy/Cargo.toml" \
    "$here/src" "$here/Cargo.toml" "$root/crates/rules/src" "$root/Cargo.lock" -newer "$built" -print -quit)" ]]; then
  exit 0
fi
command -v worker-build >/dev/null || { echo "worker-build is missing: scripts/ensure-tools.sh worker" >&2; exit 1; }
echo "building the Worker (worker-build --release)…"
cd "$here"
WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" \
WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt" \
ESBUILD_BIN="$root/node_modules/.bin/esbuild" \
  worker-build --release
touch "$built"
