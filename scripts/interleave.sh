#!/usr/bin/env bash
# The wall-clock leg of the PR gate, interleaved (docs/measurement.md):
# base and head measured on the same machine in ROUNDS rounds (>= 5), and
# within a round paired unit by unit, seconds apart: each suite step
# (`caxton-perf run --only STEP`) and each criterion benchmark (a group with
# a raw_tokio reference as one unit) runs for base and head back to back,
# in alternating order. `caxton-perf compare` judges every row on its
# paired ratios head / base, so the machine's drift between pairs cancels.
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
# Environment: ROUNDS (5), THRESHOLD (10 %), SUITE (1: also `caxton-perf
# run`), BENCHES ("throughput latency peers"), CRITERION_ARGS (short
# criterion runs, see below), CARGO_TARGET_DIR.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
THRESHOLD=${THRESHOLD:-10}
SUITE=${SUITE:-1}
BENCHES=${BENCHES-"throughput latency peers"}
# Short criterion runs (each benchmark's base and head are seconds apart,
# so a short run is enough). Criterion's own flags override the groups'
# budgets.
CRITERION_ARGS=${CRITERION_ARGS:-"--warm-up-time 0.2 --measurement-time 0.5 --noplot"}

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

# units BIN: what is paired, one per line: `suite STEP` for each suite
# step, `bench FILE --exact ID` for each criterion benchmark, and
# `bench FILE ^GROUP/` for a group with a raw_tokio member (read as ratios
# to it, so the group runs as one unit).
units() {
    local bin=$1
    if [ "$SUITE" = 1 ]; then
        "$bin/caxton-perf" run --list-steps | sed 's/^/suite /'
    fi
    for b in $BENCHES; do
        local ids
        ids=$("$bin/$b" --bench --list 2>/dev/null | sed -n 's/: benchmark$//p')
        local groups
        groups=$(echo "$ids" | grep '/raw_tokio$' | sed 's,/raw_tokio$,,' || true)
        for g in $groups; do echo "bench $b ^$g/"; done
        echo "$ids" | while read -r id; do
            [ -n "$id" ] || continue
            if ! echo "$groups" | grep -qx "${id%%/*}"; then echo "bench $b --exact $id"; fi
        done
    done
}

# measure BIN DIR NAME UNIT...: one run of one unit (see units).
measure() {
    local bin=$1 dir=$2 name=$3 kind=$4
    shift 4
    case $kind in
        suite)
            "$bin/caxton-perf" run --only "$1" --no-progress --out "$dir/suite-$name/$1" \
                < /dev/null >> "$dir/suite-$name.log" 2>&1 ||
                { echo "suite step $1 ($name) failed (see $dir/suite-$name.log)" >&2; exit 2; }
            ;;
        bench)
            local b=$1
            shift
            # shellcheck disable=SC2086
            CRITERION_HOME="$dir/criterion" "$bin/$b" --bench --save-baseline "$name" $CRITERION_ARGS "$@" \
                < /dev/null >> "$dir/bench-$b-$name.log" 2>&1 ||
                { echo "bench $b $* ($name) failed (see $dir/bench-$b-$name.log)" >&2; exit 2; }
            ;;
    esac
}

run() {
    local base=$1 head=$2 dir=$3 expect=${4:-}
    rm -rf "$dir"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    units "$base" > "$dir/units.txt"
    local n
    n=$(wc -l < "$dir/units.txt")
    for r in $(seq 1 "$ROUNDS"); do
        echo "   round $r/$ROUNDS, $n units ($(date -u +%H:%M:%S)) -> $dir"
        local i=0
        while read -r -a unit; do
            # Each unit's base and head back to back, seconds apart; the
            # order alternates from unit to unit and round to round, so a
            # bias of the second run of a pair falls on base and head alike.
            if [ $(((r + i) % 2)) = 1 ]; then
                measure "$base" "$dir" "base$r" "${unit[@]}"
                measure "$head" "$dir" "head$r" "${unit[@]}"
            else
                measure "$head" "$dir" "head$r" "${unit[@]}"
                measure "$base" "$dir" "base$r" "${unit[@]}"
            fi
            i=$((i + 1))
        done < "$dir/units.txt"
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
        sb=$(IFS=,; echo "${bases[*]/#/$dir/suite-}")
        sh=$(IFS=,; echo "${heads[*]/#/$dir/suite-}")
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
