# The toolchain and flags of the release wasm, sourced by scripts/ensure-tools.sh (which
# installs the toolchain) and scripts/build-release.sh (which builds with it).
#
# A pinned nightly, for the page's release wasm only: std rebuilt for it (build-std)
# with panics that abort, no file names or lines in panic locations and no Debug
# formatting text. Native tests, browser tests and clippy stay on stable.
RELEASE_TOOLCHAIN=nightly-2026-05-20
