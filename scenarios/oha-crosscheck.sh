#!/usr/bin/env bash
# The oha cross-check: runs the http scenario, which drives the front door
# with caxton-load and then with oha (`oha -q RATE --latency-correction
# --output-format json`) at the same rate against the same route, and
# reports oha's p50/p99 beside caxton-load's (oha_latency_p50/_p99 rows).
#
#   bash scenarios/oha-crosscheck.sh            # oha must be installed
#   bash scenarios/oha-crosscheck.sh --install  # installs oha 1.16.0 first
#   bash scenarios/oha-crosscheck.sh --quick    # the CI-sized run
#
# Other flags go to the http scenario (--rate, --connections, --duration).
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
for a in "$@"; do
    if [ "$a" = "--install" ]; then
        command -v oha >/dev/null || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/oha" ] \
            || cargo install oha --version 1.16.0 --locked
    else
        args+=("$a")
    fi
done
command -v oha >/dev/null || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/oha" ] || {
    echo "oha is not installed: run with --install, or: cargo install oha --version 1.16.0 --locked" >&2
    exit 2
}
cargo build --release -q -p caxton-server -p caxton-load -p caxton-scenarios --bin http
exec ./target/release/http "${args[@]}"
