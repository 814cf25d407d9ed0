#!/usr/bin/env bash
# The benchmark suite, one command: installs what it needs (wslay, valgrind, a matplotlib venv),
# builds bench/ (its own workspace and Cargo.lock), checks every implementation's output, then
# measures and prints the markdown table; writes bench/results/latest.md, latest.csv and
# throughput.png. Takes about 10 minutes; run it on a quiet machine (other load skews it).
#
# Usage: scripts/bench.sh [FILTER]        e.g. scripts/bench.sh recv/binary
#        scripts/bench.sh instr           instructions only (callgrind, exact; about 3 minutes):
#                                         per message vs the peers, per export vs the floor of one
#                                         exported call; writes bench/results/instructions.md
#   BENCH_QUICK=1  60 ms x 3 runs per case and scale up to 10 000 handles (a rough look)
#   BENCH_MS, BENCH_RUNS, BENCH_RBS, BENCH_SBS: see bench/README.md
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/setup.sh base bench >&2
VENV=$ROOT/.deps/bench-venv
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null; then
  echo "bench: python venv with matplotlib" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'matplotlib>=3.5' >&2
fi

cargo build --release --manifest-path bench/Cargo.toml >&2
BIN=bench/target/release/wsbench
mkdir -p bench/results
if [[ ${1:-} == instr ]]; then
  exec "$BIN" instructions
fi
"$BIN" all "$@"
"$VENV/bin/python" bench/plot.py bench/results/latest.csv bench/results/throughput.png >&2
