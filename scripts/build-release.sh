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
# No std features (no backtrace symbolisation and the like) but `optimize_for_size`, which
# picks std's smaller implementations (sorts, formatting): −0.3 KB brotli, measured.
export CARGO_UNSTABLE_BUILD_STD_FEATURES=optimize_for_size
# A panic stops the module at once (`panic = "immediate-abort"`, the cargo -Z flag
# instead of `cargo-features` in Cargo.toml, which stable cargo would refuse): no
# formatting, no hook. The console then shows the browser's "RuntimeError: unreachable"
# with the wasm stack, not the panic's message. No file and line in panic locations;
# `{:?}` prints nothing.
export CARGO_UNSTABLE_PANIC_IMMEDIATE_ABORT=true
export CARGO_PROFILE_WASM_RELEASE_PANIC=immediate-abort
# (The modules' profile, Cargo.toml's wasm-module, too.)
export CARGO_PROFILE_WASM_MODULE_PANIC=immediate-abort
# `erase_components`: Leptos type-erases each component's view (AnyView) instead of
# monomorphising the whole tree's type, as cargo-leptos can: −5.9 KB brotli.
# EXTRA_RUSTFLAGS: for measuring a further flag (see docs/performance.md).
# (Measured and not taken, 2026-12-07: LLVM's `-inline-threshold=0`, −1.2 KB brotli, but
# it applies to Make it fit's pixel loops too, whose speed was not measured with it;
# `-jump-threading-threshold=0` and `-unroll-threshold=0` on top, +2.8 KB; `-Zinline-mir=no`
# and `-Zshare-generics`, nothing.)
export RUSTFLAGS="-Zlocation-detail=none -Zfmt-debug=none --cfg erase_components ${EXTRA_RUSTFLAGS:-}"
exec trunk build --release --public-url "$1" --dist "$2"
