#!/usr/bin/env bash
# Runs the whole criterion suite with default settings, times it, and
# regenerates docs/benchmarks.md from the results.
#
#   bash benches/run-suite.sh                 # run + regenerate the doc
#   bash benches/run-suite.sh --save-baseline main   # extra args go to criterion
set -euo pipefail
cd "$(dirname "$0")/.."

cargo bench -p caxton-benches --no-run
start=$(date +%s)
cargo bench -p caxton-benches -- "$@"
end=$(date +%s)
wall=$((end - start))
echo "suite wall time: ${wall} s"

target_dir=${CARGO_TARGET_DIR:-target}
cargo run --release -q -p caxton-perf -- bench-table \
    --criterion-dir "$target_dir/criterion" --since-unix "$start" --wall-time-s "$wall" \
    --command "bash benches/run-suite.sh" > docs/benchmarks.md
echo "wrote docs/benchmarks.md"
