#!/usr/bin/env bash
# Fuzzes the registry service's HTTP API from its own OpenAPI description (schemathesis, from
# PyPI, pinned), for SECONDS seconds: no answer may be a 5xx and the server must survive.
# Usage: scripts/api-fuzz.sh [SECONDS]   (default 60; needs python3 with venv)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_BUDGET="${1:-60}"
VENV="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'schemathesis==4.32.5'
fi
cargo build -q --bin healthcode
BIN=target/debug/healthcode
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
OP=$("$BIN" signer keygen -o "$WORK/op.key" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --db "$WORK/reg.db" --policy policies/henan-2022.toml --listen "127.0.0.1:$PORT" \
  --operator-key "$OP" --publish-every 2 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 200); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  python3 - "$PORT" <<'PY' 2>/dev/null && break
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1)
PY
  sleep 0.1
done
status=0
"$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
  --checks not_a_server_error --max-time "$SECONDS_BUDGET" --workers 2 \
  --suppress-health-check all --warnings off || status=$?
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "api-fuzz: the server died during the run" >&2
  tail -20 "$WORK/server.log" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "api-fuzz: schemathesis found failures (server log tail below)" >&2
  tail -20 "$WORK/server.log" >&2
fi
exit "$status"
