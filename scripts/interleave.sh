#!/usr/bin/env bash
# The wall-clock leg of the PR gate, interleaved (docs/measurement.md):
# base and head measured in alternating rounds on the same machine (base,
# head, then head, base, then base, head, ...; ROUNDS >= 3 each), judged by
# `caxton-perf compare` on the paired ratios head / base of each round, so
# the machine's drift between minutes cancels.
#
#   scripts/interleave.sh build SRC_DIR DEST [cargo args...]
#       builds caxton-perf and the bench executables of SRC_DIR (a checkout)
#       and copies them into DEST (e.g. --features caxton-runtime/planted-slowdown).
#   scripts/interleave.sh run BASE_BIN HEAD_BIN OUT [same|slower]
#       measures ROUNDS rounds of each into OUT, writes OUT/{suite,criterion}.{md,json,out}
#       and exits 1 on a regression (with same|slower: on a missed expectation
#       of the gate's self-check, see scripts/gate-check.sh).
#   scripts/interleave.sh judge BIN OUT [same|slower]
#       compares the rounds already in OUT again with BIN/caxton-perf.
#
# Environment: ROUNDS (3), THRESHOLD (10 %), SUITE (1: also `caxton-perf
# run`), BENCHES ("throughput latency peers"), CRITERION_ARGS (short
# criterion runs, see below), CARGO_TARGET_DIR.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
THRESHOLD=${THRESHOLD:-10}
SUITE=${SUITE:-1}
BENCHES=${BENCHES-"throughput latency peers"}
# Short criterion runs: one round of the three bench files takes about a
# minute on 2 cores. Criterion's own flags override the groups' budgets.
CRITERION_ARGS=${CRITERION_ARGS:-"--warm-up-time 0.3 --measurement-time 1 --noplot"}

build() {
    local src=$1 dest=$2
    shift 2
    mkdir -p "$dest"
    dest=$(cd "$dest" && pwd)
    (
        cd "$src"
        local target=${CARGO_TARGET_DIR:-target}
        cargo build --release -q -p caxton-perf "$@"
        cp "$target/release/caxton-perf" "$dest/caxton-perf"
        [ -n "$BENCHES" ] || exit 0
        local bench_args=()
        for b in $BENCHES; do bench_args+=(--bench "$b"); done
        cargo bench -q -p caxton-benches --no-run "${bench_args[@]}" "$@" --message-format=json > "$dest/build.json"
        for b in $BENCHES; do
            local exe
            exe=$(grep '"kind":\["bench"\]' "$dest/build.json" | grep "\"name\":\"$b\"" |
                sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
            [ -n "$exe" ] || { echo "no executable for bench $b" >&2; exit 2; }
            cp "$exe" "$dest/$b"
        done
    )
}

# measure BIN DIR NAME: one run of the suite and the benches.
measure() {
    local bin=$1 dir=$2 name=$3
    if [ "$SUITE" = 1 ]; then
        mkdir -p "$dir/suite-$name"
        "$bin/caxton-perf" run --no-progress --out "$dir/suite-$name" > "$dir/suite-$name.log" 2>&1 || true
        [ -f "$dir/suite-$name/results.json" ] || { echo "suite run $name wrote no results (see $dir/suite-$name.log)" >&2; exit 2; }
    fi
    for b in $BENCHES; do
        # shellcheck disable=SC2086
        CRITERION_HOME="$dir/criterion" "$bin/$b" --bench --save-baseline "$name" $CRITERION_ARGS \
            > "$dir/bench-$b-$name.log" 2>&1
    done
}

run() {
    local base=$1 head=$2 dir=$3 expect=${4:-}
    rm -rf "$dir"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local bases=() heads=()
    for r in $(seq 1 "$ROUNDS"); do
        echo "   round $r/$ROUNDS ($(date -u +%H:%M:%S)) -> $dir"
        # Counterbalanced (base, head, head, base, base, head, ...): a bias
        # of the second run of a pair (seen here: ~7 % faster) falls on base
        # and head alike instead of on head every time.
        if [ $((r % 2)) = 1 ]; then
            measure "$base" "$dir" "base$r"
            measure "$head" "$dir" "head$r"
        else
            measure "$head" "$dir" "head$r"
            measure "$base" "$dir" "base$r"
        fi
        bases+=("base$r")
        heads+=("head$r")
    done
    judge "$head" "$dir" "$expect"
}

# judge BIN DIR [same|slower]: compares the rounds measured into DIR (again,
# e.g. with another threshold or a newer caxton-perf in BIN).
judge() {
    local bin=$1 dir=$2 expect=${3:-}
    dir=$(cd "$dir" && pwd)
    local bases=() heads=()
    for r in $(seq 1 "$ROUNDS"); do
        bases+=("base$r")
        heads+=("head$r")
    done
    local extra=()
    [ -n "$expect" ] && extra=(--expect "$expect")
    local status=0
    if [ "$SUITE" = 1 ]; then
        local sb sh
        sb=$(printf '%s,' "${bases[@]/#/$dir/suite-}" | sed 's/,/\/results.json,/g')
        sh=$(printf '%s,' "${heads[@]/#/$dir/suite-}" | sed 's/,/\/results.json,/g')
        "$bin/caxton-perf" compare "$sb" "$sh" --threshold "$THRESHOLD" "${extra[@]}" \
            --markdown "$dir/suite.md" --json "$dir/suite.json" > "$dir/suite.out" || status=1
    fi
    if [ -n "$BENCHES" ]; then
        local b h
        b=$(IFS=,; echo "${bases[*]}")
        h=$(IFS=,; echo "${heads[*]}")
        "$bin/caxton-perf" compare --criterion --criterion-dir "$dir/criterion" "$b" "$h" \
            --threshold "$THRESHOLD" "${extra[@]}" \
            --markdown "$dir/criterion.md" --json "$dir/criterion.json" > "$dir/criterion.out" || status=1
    fi
    return "$status"
}

case "${1:-}" in
    build) shift; build "$@" ;;
    run) shift; run "$@" ;;
    judge) shift; judge "$@" ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
