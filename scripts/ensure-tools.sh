#!/usr/bin/env bash
# Installs whatever is missing for building (`build`) or testing (`test`) Multi-Shot
# Studio, skipping every step whose right version is already present, so a warm machine
# is ready in seconds. Only package registries are used (crates.io, npm, Debian).
#
#   scripts/ensure-tools.sh build   wasm target, the release wasm's pinned nightly with
#                                   rust-src, Trunk, wasm-bindgen CLI, wasm-opt
#   scripts/ensure-tools.sh test    the above, plus Chromium, ChromeDriver, Playwright, and
#                                   redis-server (the proxy's shared-counter tests), ffmpeg
#                                   (ffprobe reads the films back)
#   scripts/ensure-tools.sh worker  the proxy's Cloudflare Worker: worker-build, the pinned
#                                   nightly's wasm target, workerd (npm)
#   scripts/ensure-tools.sh test    adds the worker's tools too
#   scripts/ensure-tools.sh bench   the test tools, plus nginx (make bench-proxy compares)
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
# Builds the proxy's Worker (proxy-worker/build.sh); its version matches the worker crate.
WORKER_BUILD_VERSION=0.8.7
# The wasm-bindgen CLI must match the library version in Cargo.lock exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$PWD/node_modules/.bin:$CARGO_BIN:$PATH"

. scripts/release-toolchain.sh

say() { printf '\033[1m[tools]\033[0m %s\n' "$*"; }

ensure_wasm_target() {
  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then return; fi
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
}

# The release wasm's nightly (scripts/release-toolchain.sh) with rust-src, and the
# crates std itself depends on in the local registry (Trunk builds offline).
ensure_release_toolchain() {
  local stamp="target/.std-deps-$RELEASE_TOOLCHAIN"
  if rustup run "$RELEASE_TOOLCHAIN" rustc --version >/dev/null 2>&1 &&
    rustup component list --toolchain "$RELEASE_TOOLCHAIN" --installed 2>/dev/null | grep -q '^rust-src' &&
    [ -f "$stamp" ]; then return; fi
  say "installing $RELEASE_TOOLCHAIN with rust-src (the release wasm rebuilds std with it)"
  rustup toolchain install "$RELEASE_TOOLCHAIN" --profile minimal --component rust-src
  local library
  library="$(rustup run "$RELEASE_TOOLCHAIN" rustc --print sysroot)/lib/rustlib/src/rust/library"
  RUSTUP_TOOLCHAIN="$RELEASE_TOOLCHAIN" cargo fetch --manifest-path "$library/Cargo.toml"
  mkdir -p target && touch "$stamp"
}

# Trunk's own release profile links it with fat LTO in one codegen unit, most of its
# build on 2 cores, for a tool that only starts cargo, wasm-bindgen and wasm-opt: built
# here without (ordinary thin local LTO, 16 units), and without its update check (which
# TRUNK_SKIP_VERSION_CHECK turns off anyway).
ensure_trunk() {
  if [ "$(trunk --version 2>/dev/null)" = "trunk $TRUNK_VERSION" ]; then return; fi
  say "installing Trunk $TRUNK_VERSION"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install trunk --version "$TRUNK_VERSION" --locked --no-default-features --features rustls
}

ensure_wasm_bindgen() {
  if [ -z "$WASM_BINDGEN_VERSION" ]; then
    echo "no wasm-bindgen version in Cargo.lock" >&2
    exit 1
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $WASM_BINDGEN_VERSION" ] &&
    command -v wasm-bindgen-test-runner >/dev/null; then return; fi
  say "installing the wasm-bindgen CLI $WASM_BINDGEN_VERSION (about 3 minutes)"
  # Not --locked: the CLI's own lock file names a crate version the registry lacks.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
}

ensure_npm_packages() {
  local stamp=node_modules/.installed-from-lock
  if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then return; fi
  say "installing npm packages (binaryen for wasm-opt, playwright-core)"
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
}

# worker-build, and the wasm target of the pinned nightly it builds the Worker with
# (panic=unwind rebuilds std: proxy-worker/toolchain/pin).
ensure_worker_build() {
  if [ "$(worker-build --version 2>/dev/null)" != "$WORKER_BUILD_VERSION" ]; then
    say "installing worker-build $WORKER_BUILD_VERSION (about 4 minutes on 2 cores)"
    cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
  fi
}

# (After ensure_release_toolchain, which installs that toolchain.)
ensure_worker_target() {
  if ! rustup target list --installed --toolchain "$RELEASE_TOOLCHAIN" | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target to $RELEASE_TOOLCHAIN (the Worker's build)"
    rustup target add wasm32-unknown-unknown --toolchain "$RELEASE_TOOLCHAIN"
  fi
}

APT_UPDATED=""
# apt_install COMMAND PACKAGE...: installs the Debian packages unless COMMAND is there.
apt_install() {
  local command=$1
  shift
  if command -v "$command" >/dev/null || [ -x "/usr/sbin/$command" ]; then return; fi
  say "installing $* from Debian"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  if [ -z "$APT_UPDATED" ]; then
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

# The film tests read the saved videos back with ffprobe and decode frames with ffmpeg;
# make bench compares the page's film with ffmpeg's (Debian's, libx264).
ensure_ffmpeg() { apt_install ffprobe --no-install-recommends ffmpeg; }

# The tests' Debian packages, those not there yet: Chromium and ChromeDriver with
# redis-server (the tests start their own, on a free port) in one apt-get run (one
# download, one set of triggers; Chromium with its recommended packages, as before),
# then ffmpeg without its recommended ones.
ensure_test_packages() {
  local missing=()
  command -v chromium >/dev/null && command -v chromedriver >/dev/null || missing+=(chromium chromium-driver)
  command -v redis-server >/dev/null || [ -x /usr/sbin/redis-server ] || missing+=(redis-server)
  # (apt_install's own check is for a command none of these has.)
  [ ${#missing[@]} -eq 0 ] || apt_install multishot-no-such-command "${missing[@]}"
  ensure_ffmpeg
}

# The three tools built from crates.io (the wasm-bindgen CLI, Trunk, worker-build) are
# built at once, in the background while the rest is downloaded: each build has
# stretches on one core (build scripts, its last crates and link), which the others
# fill. wait_cargo_tools shows what they said, and a failed one's log; it fails then.
# Measured on 2 cores (2026-12-07): 16.9 min for the three at once, Trunk without its
# LTO; 17.7 min one after another with it. Most of a cold `make test`'s set-up.
CARGO_TOOL_PIDS=()
CARGO_TOOL_NAMES=()
start_cargo_tools() {
  mkdir -p target/tools-logs
  for step in "$@"; do
    "$step" >"target/tools-logs/$step.log" 2>&1 &
    CARGO_TOOL_PIDS+=($!)
    CARGO_TOOL_NAMES+=("$step")
  done
}
wait_cargo_tools() {
  local failed=0 i log
  for i in "${!CARGO_TOOL_PIDS[@]}"; do
    log="target/tools-logs/${CARGO_TOOL_NAMES[$i]}.log"
    if ! wait "${CARGO_TOOL_PIDS[$i]}"; then
      echo "${CARGO_TOOL_NAMES[$i]} failed:" >&2
      tail -n 40 "$log" >&2
      failed=1
    fi
    grep -h '\[tools\]' "$log" || true
  done
  return "$failed"
}

# make bench-proxy runs nginx as the reverse proxy a site owner would otherwise pick.
ensure_nginx() { apt_install nginx nginx-light; }

case "${1:-build}" in
  build)
    ensure_wasm_target
    start_cargo_tools ensure_wasm_bindgen ensure_trunk
    ensure_release_toolchain
    ensure_npm_packages
    wait_cargo_tools
    ;;
  test)
    ensure_wasm_target
    start_cargo_tools ensure_wasm_bindgen ensure_trunk ensure_worker_build
    ensure_release_toolchain
    ensure_npm_packages
    ensure_test_packages
    ensure_worker_target
    wait_cargo_tools
    ;;
  worker)
    ensure_wasm_target
    ensure_release_toolchain
    ensure_npm_packages
    ensure_wasm_bindgen
    ensure_worker_build
    ensure_worker_target
    ;;
  bench)
    "$0" test
    ensure_nginx
    ;;
  *)
    echo "usage: $0 build|test|worker|bench" >&2
    exit 2
    ;;
esac
