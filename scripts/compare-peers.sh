#!/usr/bin/env bash
# Our prover and verifier against the two peer provers (snarkjs and a plain arkworks prover of a
# job of the same size), back to back on this machine: the example policy over a 2^32-leaf tree.
#
#   PEER_DIR=/path/to/peer scripts/compare-peers.sh [RUNS]      (RUNS defaults to 7)
#
# The peers are not part of this repository: PEER_DIR must hold circom/run.sh and
# ark-baseline/run.sh (docs/peers.md says what they are and what they must print). Without them
# the script exits 2 before building anything.
#
# "prove" for us is end to end: read and check the proving key, prepare the prover, build the
# witness's Merkle path, synthesise, check, prove, encode the payload. The snarkjs figure compared
# is its fullProve (witness + zkey read + prove); the arkworks baseline's is Groth16::prove with the
# key in memory (synthesis included). Ours is built with `parallel` and run with the default thread
# count and with RAYON_NUM_THREADS=1. Figures are medians. The last line is machine-readable:
#   prove_ratio_vs_snarkjs=R1 prove_ratio_vs_arkworks=R2 verify_ms=V batch_ms_per_code=B constraints=N
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-7}
if [ -z "${PEER_DIR:-}" ]; then
  echo "compare-peers.sh: PEER_DIR is not set. The peer provers are not part of this repository;" >&2
  echo "  set PEER_DIR to a directory holding circom/run.sh and ark-baseline/run.sh" >&2
  echo "  (see docs/peers.md for what they are and what they must print)." >&2
  exit 2
fi
peer=$PEER_DIR
[ -d "$peer" ] && peer=$(cd "$peer" && pwd) # absolute: the script changes directory below
missing=()
for f in circom/run.sh ark-baseline/run.sh; do
  [ -x "$peer/$f" ] || missing+=("$peer/$f")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "compare-peers.sh: peer provers missing (PEER_DIR=$peer):" >&2
  printf '  %s (not found or not executable)\n' "${missing[@]}" >&2
  echo "  PEER_DIR must hold circom/run.sh and ark-baseline/run.sh; see docs/peers.md." >&2
  exit 2
fi
case $runs in
  '' | *[!0-9]* | 0) echo "compare-peers.sh: RUNS must be a positive integer, got '$runs'" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"

get() { # get KEY FILE: the value of the last KEY=value in FILE
  grep -o "$1=[^ ]*" "$2" | tail -1 | cut -d= -f2
}

echo "building (release, --features parallel) ..." >&2
cargo build --release -q -p healthcode-prover --features parallel --example compare
bin=$root/target/release/examples/compare

echo "our setup, prove, verify ..." >&2
"$bin" setup "$work/bundle" >"$work/setup.txt"
"$bin" prove "$work/bundle" "$runs" >"$work/prove.txt"
RAYON_NUM_THREADS=1 "$bin" prove "$work/bundle" "$runs" >"$work/prove1.txt"
"$bin" verify "$work/bundle" "$runs" >"$work/verify.txt"

echo "peer: snarkjs ..." >&2
"$peer/circom/run.sh" >"$work/circom.txt"
echo "peer: arkworks baseline (builds under /tmp the first time) ..." >&2
"$peer/ark-baseline/run.sh" "$runs" >"$work/ark.txt"

constraints=$(get constraints "$work/setup.txt")
pk_bytes=$(get proving_key_bytes "$work/setup.txt")
prove=$(get prove_ms "$work/prove.txt")
prove_cpu=$(get prove_cpu_ms "$work/prove.txt")
prove1=$(get prove_ms "$work/prove1.txt")
rss=$(get peak_rss_kb "$work/prove.txt")
rss1=$(get peak_rss_kb "$work/prove1.txt")
verify=$(get verify_ms "$work/verify.txt")
batch=$(get batch_ms_per_code "$work/verify.txt")
snark_prove=$(get fullprove_ms "$work/circom.txt")
snark_verify=$(get verify_ms "$work/circom.txt")
ark_prove=$(get prove_ms_median "$work/ark.txt")
ark_verify=$(get verify_pvk_ms_median "$work/ark.txt")
ark_constraints=$(grep -o "^constraints=[0-9]*" "$work/ark.txt" | cut -d= -f2)
ark_pk=$(get pk_bytes_compressed "$work/ark.txt")
threads=$(nproc)

awk -v p="$prove" -v pc="$prove_cpu" -v p1="$prove1" -v sp="$snark_prove" -v ap="$ark_prove" \
  -v v="$verify" -v sv="$snark_verify" -v av="$ark_verify" -v b="$batch" \
  -v n="$constraints" -v an="$ark_constraints" -v pk="$pk_bytes" -v apk="$ark_pk" \
  -v rss="$rss" -v rss1="$rss1" -v runs="$runs" -v th="$threads" -v date="$(date -u +%Y-%m-%dT%H:%MZ)" \
  -v load="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
  printf "\n%s, %s cores, load average %s, medians of %s runs (snarkjs: 3 warm)\n\n", date, th, load, runs
  printf "| %-36s | %12s | %12s | %12s | %9s | %9s |\n", "", "ours", "snarkjs", "ark-baseline", "vs snarkjs", "vs ark"
  printf "|%s|%s|%s|%s|%s|%s|\n", "--------------------------------------", "--------------", "--------------", "--------------", "-----------", "-----------"
  printf "| %-36s | %12d | %12s | %12s | %9s | %9s |\n", "constraints", n, "8418", an, "", ""
  printf "| %-36s | %12.1f | %12.1f | %12.1f | %9.3f | %9.3f |\n", "prove ms, default threads (e2e)", p, sp, ap, p / sp, p / ap
  printf "| %-36s | %12.1f | %12s | %12s | %9.3f | %9.3f |\n", "prove ms, RAYON_NUM_THREADS=1 (e2e)", p1, "", "", p1 / sp, p1 / ap
  printf "| %-36s | %12.1f | %12s | %12s | %9s | %9s |\n", "prove CPU ms, default threads", pc, "", "", "", ""
  printf "| %-36s | %12.3f | %12.3f | %12.3f | %9.3f | %9.3f |\n", "verify one code ms", v, sv, av, v / sv, v / av
  printf "| %-36s | %12.3f | %12s | %12s | %9s | %9s |\n", "batch of 64, ms per code", b, "", "", "", ""
  printf "| %-36s | %12.2f | %12s | %12.2f | %9s | %9s |\n", "proving key MB on disk", pk / 1e6, "", apk / 1e6, "", ""
  printf "| %-36s | %12.1f | %12s | %12s | %9s | %9s |\n", "peak prover RSS MB (default threads)", rss / 1024, "", "", "", ""
  printf "| %-36s | %12.1f | %12s | %12s | %9s | %9s |\n", "peak prover RSS MB (1 thread)", rss1 / 1024, "", "", "", ""
  printf "\ngoals: prove <= 0.1 x snarkjs: %s; <= 0.4 x arkworks: %s; verify <= 1.5 ms: %s; batch <= 0.4 ms/code: %s; constraints <= 6500: %s; key <= 4 MB: %s; RSS <= 64 MB: %s\n\n",
    (p / sp <= 0.1 ? "met" : "NOT met"), (p / ap <= 0.4 ? "met" : "NOT met"), (v <= 1.5 ? "met" : "NOT met"),
    (b <= 0.4 ? "met" : "NOT met"), (n <= 6500 ? "met" : "NOT met"), (pk <= 4e6 ? "met" : "NOT met"),
    (rss <= 65536 ? "met" : "NOT met")
  printf "prove_ratio_vs_snarkjs=%.3f prove_ratio_vs_arkworks=%.3f verify_ms=%.3f batch_ms_per_code=%.3f constraints=%d\n",
    p / sp, p / ap, v, b, n
}'
