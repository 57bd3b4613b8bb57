#!/usr/bin/env bash
# Fails when `cargo build` (what `cargo run -- demo` compiles) and `cargo test --workspace` would
# compile a dependency with different features or settings: the test run would then rebuild the
# dependency tree a newcomer just waited for. Needs a nightly cargo for --unit-graph; without
# one it says so and exits 0 (the check is advisory there).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "check-feature-unification: no nightly cargo (needed for --unit-graph); skipped"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo +nightly build --unit-graph -Z unstable-options >"$tmp/build.json"
cargo +nightly test --workspace --no-run --unit-graph -Z unstable-options >"$tmp/test.json"
python3 - "$tmp/build.json" "$tmp/test.json" <<'PY'
import json, sys

def units(path):
    out = {}
    for u in json.load(open(path))["units"]:
        if "path+file" in u["pkg_id"]:
            continue  # our own crates are rebuilt for tests anyway
        key = (u["pkg_id"].split("#")[-1], u["target"]["name"], u["mode"])
        p = u["profile"]
        out.setdefault(key, set()).add((tuple(sorted(u["features"])), p["opt_level"], str(p.get("debuginfo"))))
    return out

build, test = units(sys.argv[1]), units(sys.argv[2])
bad = [(k, build[k], test[k]) for k in build if k in test and build[k] != test[k]]
for k, b, t in bad:
    print(f"{k[0]} ({k[1]}, {k[2]}):\n  demo build {sorted(b)}\n  test build {sorted(t)}")
if bad:
    print(f"{len(bad)} dependency units differ: add the test build's features to the root crate's dependencies")
    sys.exit(1)
print(f"feature unification: the {len(build)} dependency units of the demo build are the test build's")
PY
