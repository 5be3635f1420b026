#!/usr/bin/env bash
# The release build of the page: `scripts/build-release.sh PUBLIC_URL DIST` (make dist).
# Trunk builds the wasm with the pinned nightly of scripts/release-toolchain.sh, std
# rebuilt for size; its own target folder keeps the stable builds' caches apart.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/release-toolchain.sh
export RUSTUP_TOOLCHAIN="$RELEASE_TOOLCHAIN"
export CARGO_TARGET_DIR=target/release-wasm
export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
# No std features (no backtrace symbolisation and the like).
export CARGO_UNSTABLE_BUILD_STD_FEATURES=
# Panic locations without file and line; `{:?}` prints nothing. A panic still reaches
# the console with its message (Display), which is what the panic hook shows.
export RUSTFLAGS="-Zlocation-detail=none -Zfmt-debug=none"
exec trunk build --release --public-url "$1" --dist "$2"
