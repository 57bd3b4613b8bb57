#!/usr/bin/env bash
# Builds the web pages into web/dist: the prover and the checkpoint compiled to WebAssembly
# (wasm/, release, one thread), their JavaScript bindings (wasm-bindgen-cli at the version of
# the wasm-bindgen crate, installed when missing), then the pages (Vite).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
want=$(grep -A1 '^name = "wasm-bindgen"$' wasm/Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "web-build: installing wasm-bindgen-cli $want (was: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want" --force -q
fi
# wasm/ is a workspace of its own (see Cargo.toml), built into the shared target directory.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" \
  cargo build --manifest-path wasm/Cargo.toml --target wasm32-unknown-unknown --profile web --locked -q
wasm-bindgen --target web --out-dir web/pkg --no-typescript \
  "${CARGO_TARGET_DIR:-$PWD/target}/wasm32-unknown-unknown/web/healthcode_wasm.wasm"
if command -v npm >/dev/null 2>&1; then :; else
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
[ -d web/node_modules ] && [ web/node_modules/.package-lock.json -nt web/package-lock.json ] \
  || npm ci --prefix web --no-audit --no-fund --loglevel=error
(cd web && node_modules/.bin/vite build --logLevel warn)
echo "web-build: pages in web/dist ($(du -sh web/dist | cut -f1))"
