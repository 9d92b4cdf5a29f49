#!/usr/bin/env bash
# The trend page at scale: a synthetic history of RUNS runs x METRICS
# figures (default 1000 x 50) recorded with `caxton-perf history import`,
# `caxton-perf trend --html` timed, and the page opened in headless
# Chromium, which reports (in #cx-timing, written by the page itself) how
# long after navigation start every chart was drawn.
#
#   bash crates/caxton-report/scripts/trend-at-scale.sh [RUNS] [METRICS]
#
# Needs python3 (to write the synthetic result files) and chromium.
set -euo pipefail
cd "$(dirname "$0")/../../.."
runs=${1:-1000}
metrics=${2:-50}
cargo build --release -q -p caxton-perf
perf=$PWD/target/release/caxton-perf
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$runs" "$metrics" <<'PY'
import json, math, random, sys
work, runs, metrics = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
for r in range(runs):
    ms = []
    for m in range(metrics):
        # Figures from ~1 to ~1e7: some charts need a log scale.
        base = 10 ** (m % 8) * (1 + m / 10)
        drift = 1 + 0.1 * math.sin(r / 50 + m)
        value = base * drift * random.uniform(0.97, 1.03)
        samples = [value * random.uniform(0.95, 1.05) for _ in range(5)]
        meas = {"metric": f"metric_{m:02}", "variant": "native", "value": value,
                "unit": ["us", "msg/s", "B", "ms"][m % 4], "samples": samples}
        if m % 3 == 0:
            meas["reference"] = {"name": "raw tokio", "value": value * random.uniform(1.1, 1.3)}
        ms.append(meas)
    json.dump({"schema": 1, "source": "synthetic", "finished_at_unix": 1_700_000_000 + r * 3600,
               "machine": {"cores": 2, "os": "linux x86_64"}, "measurements": ms},
              open(f"{work}/run{r:05}.json", "w"))
PY
export CAXTON_HISTORY_URL="$work/history.sqlite"
start=$(date +%s.%N)
for f in "$work"/run*.json; do
    n=$(basename "$f" .json); n=${n#run}
    "$perf" history import "$f" --commit "$(printf '%08x' "$((10#$n))")" >/dev/null
done
end=$(date +%s.%N)
echo "recorded $runs runs x $metrics figures, one import each: $(python3 -c "print(f'{($end - $start) * 1000 / $runs:.1f}')") ms per run (process start included)"
start=$(date +%s.%N)
"$perf" trend --html "$work/trend.html"
end=$(date +%s.%N)
echo "trend --html: $(python3 -c "print(f'{($end - $start) * 1000:.0f}')") ms, page $(du -k "$work/trend.html" | cut -f1) KiB"
dom=$(chromium --headless --no-sandbox --disable-gpu --dump-dom "$work/trend.html" 2>/dev/null)
charts=$(grep -o 'class="uplot' <<<"$dom" | wc -l)
timing=$(grep -o 'id="cx-timing"[^<]*' <<<"$dom" | sed 's/.*">//')
echo "chromium: $charts uPlot chart(s); $timing"
[ "$charts" = "$metrics" ]
if [ -n "${SCREENSHOT:-}" ]; then
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,2400 \
        --screenshot="$SCREENSHOT" "$work/trend.html" 2>/dev/null
    echo "screenshot: $SCREENSHOT"
fi
