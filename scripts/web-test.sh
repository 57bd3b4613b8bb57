#!/usr/bin/env bash
# The web pages in a real browser: builds them (scripts/web-build.sh), then runs web/tests/ in
# Debian's Chromium (headless, driven by playwright-core) against a real registry service and
# witness started through the CLI (target/debug/healthcode, built here if missing). Screenshots
# of every screen land in target/web-screens/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
scripts/web-build.sh
cargo build --bin healthcode -q
# The browser build's own lints (it is a workspace of its own, for the wasm32 target).
(cd wasm && cargo fmt -- --check)
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" \
  cargo clippy --manifest-path wasm/Cargo.toml --target wasm32-unknown-unknown --locked -q -- -D warnings
node --test --test-concurrency=1 web/tests/
