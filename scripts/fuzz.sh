#!/usr/bin/env bash
# Builds every fuzz target in fuzz/ once (cargo-fuzz, libFuzzer, no sanitizer: the code is safe
# Rust; release with debug assertions and overflow checks) and runs each for SECONDS (default 20)
# from its committed corpus, printing one line per target. Exits 1 if any target crashes, leaks
# memory past the limit or times out on an input; the input is kept in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS]            all targets
#   FUZZ_TARGETS="zkey ptau" scripts/fuzz.sh 60
#
# Environment: CARGO_TARGET_DIR (default fuzz/target), FUZZ_TOOLCHAIN (default stable; cargo-fuzz
# needs no nightly with -s none), FUZZ_JOBS (cargo build jobs, default 1), FUZZ_LOGS (default a
# temporary directory), FUZZ_KEEP (a directory: new inputs are kept in FUZZ_KEEP/<target>, to be
# merged into the corpus with `cargo fuzz cmin`; by default they are thrown away).
set -euo pipefail

secs=${1:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
toolchain=${FUZZ_TOOLCHAIN:-stable}
target_dir=${CARGO_TARGET_DIR:-$root/fuzz/target}
logs=${FUZZ_LOGS:-$(mktemp -d)}
mkdir -p "$logs"

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$toolchain" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

start=$(date +%s)
CARGO_BUILD_JOBS=${FUZZ_JOBS:-1} cargo "+$toolchain" fuzz build -s none --target-dir "$target_dir"
built=$(date +%s)
echo "fuzz: built in $((built - start)) s"

bin_dir=$target_dir/x86_64-unknown-linux-gnu/release
targets=${FUZZ_TARGETS:-$(cargo "+$toolchain" fuzz list)}
failed=()
# One thread for the ceremony's parallel point decoding: libFuzzer runs one input at a time.
export RAYON_NUM_THREADS=1
for t in $targets; do
    if [ -n "${FUZZ_KEEP:-}" ]; then
        work=$FUZZ_KEEP/$t
        mkdir -p "$work"
    else
        work=$(mktemp -d)
    fi
    mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
    set +e
    # New inputs go to a scratch directory; the committed corpus is only read.
    "$bin_dir/$t" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$t/" "$work" "fuzz/corpus/$t" >"$logs/$t.log" 2>&1
    rc=$?
    set -e
    [ -n "${FUZZ_KEEP:-}" ] || rm -rf "$work"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$logs/$t.log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    if [ "$rc" -eq 0 ]; then
        verdict=ok
    else
        verdict="FAILED (exit $rc, log $logs/$t.log)"
        failed+=("$t")
    fi
    printf '%-16s %8s runs %7s exec/s  cov %5s  ft %6s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" \
        "${ft:-?}" "$verdict"
    if [ "$rc" -ne 0 ]; then
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$logs/$t.log" | head -5 || true
    fi
done
echo "fuzz: ${secs} s per target, total $(($(date +%s) - start)) s; logs in $logs"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}"
    exit 1
fi
