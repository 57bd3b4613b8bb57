#!/usr/bin/env bash
# Regenerates the seed corpora fuzz/corpus/<target>/ with fuzz/examples/seeds.rs, built with the
# flags `cargo fuzz build -s none` uses so it shares the fuzz targets' build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
target_dir=${CARGO_TARGET_DIR:-$root/fuzz/target}
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cllvm-args=-simplifycfg-branch-fold-threshold=0 -Cllvm-args=-sanitizer-coverage-stack-depth -Cdebug-assertions -Ccodegen-units=1" \
    CARGO_BUILD_JOBS=${FUZZ_JOBS:-1} cargo "+${FUZZ_TOOLCHAIN:-stable}" run --target x86_64-unknown-linux-gnu --release \
    --config 'profile.release.debug="line-tables-only"' --target-dir "$target_dir" --example seeds -- corpus
