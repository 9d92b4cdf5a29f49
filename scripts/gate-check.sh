#!/usr/bin/env bash
# The PR gate's self-check (docs/measurement.md, "Checking the gate"):
#
#   * A/A: the same build on both sides, AA times: every row the gate flags
#     is a false alarm.
#   * planted slowdown: base against the same commit built with
#     `--features caxton-runtime/planted-slowdown` (one heap allocation per
#     routed message): every row slowed past the threshold should be flagged.
#
# Each comparison is scripts/interleave.sh: base and head interleaved on
# this machine, ROUNDS rounds each, the suite (`caxton-perf run`) and the
# criterion benches in BENCHES, judged on paired ratios; the comparison
# prints its false alarms or its sensitivity.
#
#   scripts/gate-check.sh                  # 1 A/A + 1 planted, 5 rounds
#   AA=5 scripts/gate-check.sh             # the issue's five A/A comparisons
#   SUITE=0 BENCHES=throughput scripts/gate-check.sh   # a smaller check
#   JUDGE=target/release THRESHOLD=20 scripts/gate-check.sh  # re-judge, no measuring
#   SKIP_BUILD=1 OUT=dir scripts/gate-check.sh  # measure the binaries already in dir/bin
#
# Everything goes under OUT (default target/gate-check): per comparison the
# Markdown and JSON tables, and summary.txt with one line per comparison.
# Nothing is asserted on timings; the exit code is 1 when a comparison
# missed its expectation (a false alarm, or a slowed row not flagged).
set -euo pipefail
cd "$(dirname "$0")/.."

AA=${AA:-1}
PLANTED=${PLANTED:-1}
OUT=${OUT:-target/gate-check}
export ROUNDS=${ROUNDS:-5} THRESHOLD=${THRESHOLD:-10} SUITE=${SUITE:-1}
export BENCHES=${BENCHES-"throughput latency peers"}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
say() { echo "== $*" | tee -a "$OUT/summary.txt"; }

# JUDGE=DIR: measure nothing; compare the rounds of every comparison
# already in OUT again with DIR/caxton-perf (e.g. at another THRESHOLD).
if [ -n "${JUDGE:-}" ]; then
    : > "$OUT/summary-rejudged.txt"
    for dir in "$OUT"/planted* "$OUT"/aa*; do
        [ -d "$dir" ] || continue
        label=$(basename "$dir")
        case $label in planted*) expect=slower ;; *) expect=same ;; esac
        scripts/interleave.sh judge "$JUDGE" "$dir" "$expect" || true
        for k in suite criterion; do
            [ -f "$dir/$k.out" ] && echo "== $label, $k (threshold $THRESHOLD %): $(tail -n 1 "$dir/$k.out")" |
                tee -a "$OUT/summary-rejudged.txt"
        done
    done
    exit 0
fi

: > "$OUT/summary.txt"
if [ "${SKIP_BUILD:-0}" = 1 ]; then
    say "not building (SKIP_BUILD=1): the binaries already in $OUT/bin/{base,planted}"
else
    say "building: the planted slowdown first, then the default build (the one left in the target dir)"
    scripts/interleave.sh build . "$OUT/bin/planted" --features caxton-runtime/planted-slowdown
    scripts/interleave.sh build . "$OUT/bin/base"
fi

failed=0
check() {
    local label=$1 expect=$2 head=$3
    scripts/interleave.sh run "$OUT/bin/base" "$head" "$OUT/$label" "$expect" || failed=1
    [ "$SUITE" = 1 ] && say "$label, suite: $(tail -n 1 "$OUT/$label/suite.out")"
    [ -n "$BENCHES" ] && say "$label, criterion ($BENCHES): $(tail -n 1 "$OUT/$label/criterion.out")"
    return 0
}

say "gate self-check: $AA A/A and $PLANTED planted comparison(s), $ROUNDS interleaved rounds each, threshold $THRESHOLD %, suite=$SUITE, benches: ${BENCHES:-none}; started $(date -u +%H:%M:%S)"
for i in $(seq 1 "$PLANTED"); do check "planted$i" slower "$OUT/bin/planted"; done
for i in $(seq 1 "$AA"); do check "aa$i" same "$OUT/bin/base"; done
say "finished $(date -u +%H:%M:%S); tables in $OUT/<comparison>/{suite,criterion}.md"
exit "$failed"
