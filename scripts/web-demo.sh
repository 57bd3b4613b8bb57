#!/usr/bin/env bash
# Opens the two web pages locally, in one command: builds them, starts a witness and a registry
# service (on the example policy, with development keys) serving the pages, accredits a lab, and
# makes one demo citizen with a positive test whose secret you can restore in the citizen's page.
# Then open   http://127.0.0.1:${PORT:-8080}/           the citizen's page
#             http://127.0.0.1:${PORT:-8080}/gate.html  the checkpoint's page
# Ctrl-C stops everything. Needs Node and npm (installed from Debian if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8080}
WPORT=${WPORT:-8081}
scripts/web-build.sh
cargo build --bin healthcode -q
hc() { target/debug/healthcode "$@"; }
dir=$(mktemp -d -t healthcode-web-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s)['$1']))"; }
now=$(date +%s)

init=$(hc registry init "$dir/reg.db" --policy policies/henan-2022.toml --json)
registry=$(echo "$init" | json registry)
logkey=$(echo "$init" | json head_log_vkey)
wkey=$(hc witness keygen --name witness.local -o "$dir/witness.key" --json | json vkey)
op=$(hc signer keygen -o "$dir/operator.key" --json | json public_key)
lab=$(hc signer keygen -o "$dir/lab.key" --json | json public_key)
hc setup --policy policies/henan-2022.toml --out "$dir/bundle" >/dev/null

hc witness serve --key "$dir/witness.key" --state "$dir/witness.state" --log "$logkey" \
  --listen "127.0.0.1:$WPORT" 2>"$dir/witness.log" &
hc serve --db "$dir/reg.db" --listen "127.0.0.1:$PORT" --operator-key "$op" \
  --witness "http://127.0.0.1:$WPORT=$wkey" --web web/dist --bundle "$dir/bundle" \
  --publish-every 60 2>"$dir/registry.log" &
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

operator() { hc operator --url "http://127.0.0.1:$PORT" --key "$dir/operator.key" "$@"; }
operator add-signer --name lab-demo --role lab --signer-key "$lab" --from $((now - 30 * 86400)) >/dev/null
demo=$(hc holder new --document DEMO-0001 -o "$dir/demo-holder.json" --json)
operator enroll --commitment "$(echo "$demo" | json commitment)" \
  --device-key "$(echo "$demo" | json device_key)" >/dev/null
hc sign-event --key "$dir/lab.key" --registry "$registry" --holder 0 --kind positive_test \
  --time $((now - 2 * 86400)) --submit "http://127.0.0.1:$PORT" >/dev/null 2>&1
operator publish >/dev/null
HEALTHCODE_PASSPHRASE="demo passphrase" hc holder backup --holder "$dir/demo-holder.json" \
  -o "$dir/demo.backup" 2>/dev/null

cat <<TEXT

  The citizen's page    http://127.0.0.1:$PORT/
  The checkpoint's page http://127.0.0.1:$PORT/gate.html

  A demo citizen (a positive test two days ago, so RED): on the citizen's page choose
  "I have a backup", paste the contents of
      $dir/demo.backup
  and the passphrase   demo passphrase

  Or create your own secret on the page and register it, with the two lines the page shows:
      target/debug/healthcode operator --url http://127.0.0.1:$PORT --key $dir/operator.key \\
        enroll --commitment COMMITMENT --device-key DEVICE_KEY
  and give yourself events as the lab:
      target/debug/healthcode sign-event --key $dir/lab.key --registry $registry \\
        --holder LEAF --kind negative_test --time \$(date +%s) --submit http://127.0.0.1:$PORT
  (published within a minute).

  Files and logs: $dir      Ctrl-C stops the registry and the witness.
TEXT
wait
