# Multi-Shot Studio. `make serve` and `make test` are the whole set-up: each installs
# what it is missing first (scripts/ensure-tools.sh skips what is already there).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export TRUNK_SKIP_VERSION_CHECK := true

# Where the release build is served from (GitHub Pages: /<repository>/).
PUBLIC_URL ?= /
DIST ?= dist
FIXTURES := target/fixtures

.PHONY: serve serve-worker worker dist screenshots test lint test-native test-browser test-sdk test-e2e test-clock test-size bench bench-proxy soak fuzz fixtures tools test-tools clean

SANDBOX_PORT ?= 8787
PROXY_PORT ?= 8788
# The sandbox's pretend key: the fake checks it, the proxy holds it, the page never sees it.
SANDBOX_KEY := wsk_sandbox_local_0000
# Where the proxy runs: `binary` (multishot-proxy) or `worker` (the Cloudflare Worker in
# workerd, by proxy-worker/run-local: the same command line).
PROXY_HOME ?= binary
PROXY_COMMAND = $(if $(filter worker,$(PROXY_HOME)),proxy-worker/run-local,target/debug/multishot-proxy)
# The e2e files that start a proxy: run against both homes.
PROXY_E2E = $(shell grep -l startProxy tests/e2e/*.test.mjs)

## serve: install what is missing, then serve the app on http://127.0.0.1:8080 (a debug
## build in target/serve: dist/ is left alone) with the local sandbox as its proxy:
## page → multishot-proxy (127.0.0.1:$(PROXY_PORT), holding a pretend key) → the fake
## WaveSpeed (127.0.0.1:$(SANDBOX_PORT)), as a site owner runs it; the page shows the
## pretend key too, to try direct mode against the fake. Its tasks give three still
## images, as the model most likely does (video shots: a test scenario's `shots_kind`)
serve: tools
	cargo build --quiet -p fake-wavespeed -p multishot-proxy
	@[ "$(PROXY_HOME)" != worker ] || { scripts/ensure-tools.sh worker && proxy-worker/build.sh; }
	target/debug/fake-wavespeed --image-shots --key $(SANDBOX_KEY) --sandbox-proxy http://127.0.0.1:$(PROXY_PORT) --port $(SANDBOX_PORT) & fake=$$!; \
	WAVESPEED_API_KEY=$(SANDBOX_KEY) MULTISHOT_WORKER_STATE=$(CURDIR)/target/worker-state $(PROXY_COMMAND) --listen 127.0.0.1:$(PROXY_PORT) \
	  --upstream http://127.0.0.1:$(SANDBOX_PORT) --allow-origin http://127.0.0.1:8080 --allow-origin http://localhost:8080 \
	  --daily-budget-usd 100 --monthly-budget-usd 1000 --runs-per-ip-per-hour 100 --runs-per-ip-per-day 1000 --runs-per-minute 60 --uploads-per-ip-per-hour 100 & proxy=$$!; \
	trap 'kill $$fake $$proxy' EXIT INT TERM; \
	trunk serve --dist target/serve --proxy-backend=http://127.0.0.1:$(SANDBOX_PORT)/__sandbox/config.json --proxy-rewrite=/config.json

## serve-worker: as `make serve`, with the proxy as the Cloudflare Worker in workerd
## (proxy-worker/run-local: page → Worker → fake; its counters kept in target/worker-state)
serve-worker:
	$(MAKE) --no-print-directory serve PROXY_HOME=worker

## worker: build the proxy's Cloudflare Worker into proxy-worker/build/ (when its
## sources changed), as `wrangler deploy` uploads it
worker:
	scripts/ensure-tools.sh worker
	proxy-worker/build.sh

## dist: release build into $(DIST) (PUBLIC_URL=/sub/path/ for a sub-path; the wasm
## built with the pinned nightly of scripts/release-toolchain.sh, std rebuilt), with
## embed.js, 404.html and the Content-Security-Policy (scripts/finish-dist.mjs)
dist: tools
	scripts/build-release.sh "$(PUBLIC_URL)" "$(DIST)"
	node scripts/finish-dist.mjs "$(DIST)"

## screenshots: the full page and the consumer embed with a finished job, at 320, 390
## and 1280 px, light and dark, into docs/screenshots/ (look at them before committing)
screenshots: test-tools fixtures
	cargo build --quiet -p fake-wavespeed
	$(MAKE) --no-print-directory dist PUBLIC_URL=/
	node scripts/screenshots.mjs

## test: install what the tests need, then run every layer
test: test-tools lint test-native test-browser test-sdk test-e2e test-clock test-size

## lint: formatting and clippy, native and wasm
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p multishot-studio --target wasm32-unknown-unknown --all-targets -- -D warnings
	cargo clippy -p multishot-repair --target wasm32-unknown-unknown --features module --all-targets -- -D warnings
	cargo clippy -p multishot-film --target wasm32-unknown-unknown --features module --all-targets -- -D warnings
	cargo clippy -p multishot-batch --target wasm32-unknown-unknown --features module -- -D warnings
	cargo clippy -p multishot-studio --features prerender --all-targets -- -D warnings
	cargo clippy -p multishot-proxy -p multishot-proxy-worker --target wasm32-unknown-unknown --lib -- -D warnings

## test-native: the pure core, natively (unit and property tests), the proxy in both its
## homes (the Worker built first), and the build-time render of the first view
test-native:
	proxy-worker/build.sh
	cargo test --workspace
	# The proxy's behaviour suite once more, against the Worker in workerd.
	PROXY_HOME=worker cargo test -p multishot-proxy --test proxy
	cargo test -p multishot-studio --features prerender --test prerender

## test-browser: wasm-bindgen-test in headless Chromium (glue and components)
test-browser:
	cargo test --target wasm32-unknown-unknown --test web

## test-e2e: Playwright against the release build and the fake WaveSpeed
test-e2e: fixtures
	cargo build --quiet -p fake-wavespeed -p multishot-proxy
	$(MAKE) --no-print-directory dist PUBLIC_URL=/
	# The GitHub Pages build, as .github/workflows/pages.yml runs it, under a sub-path.
	$(MAKE) --no-print-directory dist PUBLIC_URL=/multishot/ DIST=target/dist-multishot
	PROXY_HOME=binary node --test --test-concurrency=1 tests/e2e/*.test.mjs
	# The proxy's second home: every e2e file that starts a proxy, against the Worker.
	proxy-worker/build.sh
	PROXY_HOME=worker node --test --test-concurrency=1 $(PROXY_E2E)

# The moments test-clock moves every process's clock to: the last seconds of next year,
# and back over a leap day. A run crosses midnight into a new year, or into March.
CLOCK_AHEAD = $(shell echo $$(( $$(date -u +%Y) + 1 )))-12-31 23:59:50 UTC
CLOCK_BACK = 2024-02-29 23:59:50 UTC
# The e2e files that meet a clock (7-day history, ages, a day's budget, tokens);
# `make test-clock CLOCK_E2E='tests/e2e/*.test.mjs'` runs them all.
CLOCK_E2E ?= tests/e2e/history.test.mjs tests/e2e/proxy.test.mjs

## test-clock: the tests that hold on any day, run on other days (scripts/at.sh moves the
## wall clock of the tests and of everything they start: proxy, fake, Redis, Chromium):
## the proxy's and the fake's native tests, and CLOCK_E2E against the release build;
## the proxy's Worker tests at the moment ahead only (workerd refuses to run a Worker
## before its compatibility date, 2025-09-01: "Can't set compatibility date in the future")
test-clock: fixtures
	cargo build --quiet -p fake-wavespeed -p multishot-proxy
	@[ -f dist/index.html ] || $(MAKE) --no-print-directory dist PUBLIC_URL=/
	@for when in "$(CLOCK_AHEAD)" "$(CLOCK_BACK)"; do \
	  scripts/at.sh "$$when" cargo test --quiet -p fake-wavespeed || exit 1; \
	  scripts/at.sh "$$when" cargo test --quiet -p multishot-proxy --lib --bins \
	    --test cli --test distributed --test proxy --test store_contract || exit 1; \
	  scripts/at.sh "$$when" node --test --test-concurrency=1 $(CLOCK_E2E) || exit 1; \
	done
	scripts/at.sh "$(CLOCK_AHEAD)" cargo test --quiet -p multishot-proxy --test worker

## test-size: the first load's brotli total against the budget in size-budget.json
test-size:
	@[ -f dist/index.html ] || $(MAKE) --no-print-directory dist PUBLIC_URL=/
	node scripts/size.mjs dist --budget size-budget.json

## soak: the soak test at full length (50 jobs with seeded faults; SOAK_SEED=n)
soak: test-tools fixtures
	cargo build --quiet -p fake-wavespeed
	$(MAKE) --no-print-directory dist PUBLIC_URL=/
	SOAK_JOBS=50 node --test tests/e2e/soak.test.mjs

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := image_header envelope config history_record

## fuzz: run each fuzz target for FUZZ_SECONDS (cargo-fuzz on the installed nightly
## toolchain); the image-header target starts from the test images
fuzz: fixtures
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	mkdir -p fuzz/corpus/image_header
	find $(FIXTURES) -name '*.png' -size -200k -exec cp {} fuzz/corpus/image_header/ \;
	find $(FIXTURES) -name '*.jpg' -size -200k -exec cp {} fuzz/corpus/image_header/ \;
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz target $$t for $(FUZZ_SECONDS) s"; \
	  cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 -print_final_stats=1 2>&1 \
	    | grep -E '^(INFO: -max_total_time|#[0-9]+ +DONE|Done|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|.*panicked)' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

## bench: build the release and measure it (sizes, load, verdicts, memory, waiting,
## Lighthouse); prints a table and writes target/bench.json. Not a test.
bench: test-tools fixtures
	cargo build --quiet -p fake-wavespeed
	$(MAKE) --no-print-directory dist PUBLIC_URL=/
	node scripts/bench.mjs

## bench-proxy: multishot-proxy's poll throughput, added latency and memory, side by
## side with the fake alone, with nginx (Debian's) in front of it, and with the proxy as
## the Cloudflare Worker in workerd; then CPU time per route in both homes; prints tables
## and writes target/bench-proxy.json (BENCH_SECONDS per run, default 8). Not a test.
bench-proxy: fixtures
	scripts/ensure-tools.sh bench
	proxy-worker/build.sh
	cargo build --quiet -p multishot-proxy-worker --bin multishot-proxy-worker-local
	cargo build --quiet --release -p fake-wavespeed -p multishot-proxy --bins --example bench
	target/release/examples/bench

SDK_VENV := target/sdk-venv
WAVESPEED_SDK := 2.0.5

## test-sdk: WaveSpeed's official Python SDK against the fake (fidelity check)
test-sdk: fixtures
	cargo build --quiet -p fake-wavespeed
	@if ! $(SDK_VENV)/bin/python -c 'import importlib.metadata as m; assert m.version("wavespeed") == "$(WAVESPEED_SDK)"' 2>/dev/null; then \
	  rm -rf $(SDK_VENV) && python3 -m venv $(SDK_VENV) && \
	  $(SDK_VENV)/bin/pip install --quiet --disable-pip-version-check wavespeed==$(WAVESPEED_SDK); \
	fi
	$(SDK_VENV)/bin/python tests/sdk/sdk_fidelity.py

## fixtures: write the test images to target/fixtures
fixtures:
	cargo run --quiet --example make_fixtures -- $(FIXTURES)

tools:
	scripts/ensure-tools.sh build

test-tools:
	scripts/ensure-tools.sh test

clean:
	cargo clean
	rm -rf dist node_modules
