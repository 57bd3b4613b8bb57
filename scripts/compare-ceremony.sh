#!/usr/bin/env bash
# The ceremony's steps for the example policy, ours and snarkjs 0.7.6's, on the same files and this
# machine, one after the other (wall seconds and peak memory):
#
#   scripts/compare-ceremony.sh
#
# Needs snarkjs installed by `npm ci --prefix tools/snarkjs` (Node 18+). Steps: the initial key
# from the circuit and a 2^13 .ptau (`ceremony init` / `groth16 setup`), one contribution
# (`ceremony contribute` / `zkey contribute`), and verifying the transcript with its .ptau check and
# initial key rebuilt (`ceremony verify` / `zkey verify`). Each tool verifies the other's file too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
snarkjs=$root/tools/snarkjs/node_modules/snarkjs/build/cli.cjs
if [ ! -f "$snarkjs" ]; then
  echo "snarkjs is not installed: run  npm ci --prefix tools/snarkjs  (needs Node and npm)" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
echo "building (release) ..." >&2
cargo build --release -q
hc=$root/target/release/healthcode
policy=$root/policies/henan-2022.toml
cd "$work"

timed() { # timed LABEL CMD...: prints "LABEL  seconds s  peak MB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o t.txt "$@" >out.txt 2>&1 || { cat out.txt >&2; echo "$label failed" >&2; exit 1; }
  read -r secs kb <t.txt
  printf '%-34s %8.2f s %8.0f MB\n' "$label" "$secs" "$((kb / 1024))"
}

"$hc" ceremony new-ptau --power 13 -o p.ptau >/dev/null
"$hc" circuit export-r1cs --policy "$policy" -o c.r1cs >/dev/null
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
timed "init: ours" "$hc" ceremony init --policy "$policy" --ptau p.ptau -o ours0.zkey
timed "init: snarkjs groth16 setup" node "$snarkjs" groth16 setup c.r1cs p.ptau theirs0.zkey
cmp -s ours0.zkey theirs0.zkey && echo "(the two initial keys are identical)"
timed "contribute: ours" "$hc" ceremony contribute ours0.zkey ours1.zkey --name us
timed "contribute: snarkjs" node "$snarkjs" zkey contribute ours0.zkey theirs1.zkey --name=them -e=entropy
timed "verify: ours (of snarkjs's)" "$hc" ceremony verify --policy "$policy" --ptau p.ptau theirs1.zkey
timed "verify: snarkjs (of ours)" node "$snarkjs" zkey verify c.r1cs p.ptau ours1.zkey
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
