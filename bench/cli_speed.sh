#!/usr/bin/env bash
# Whole-process cost of the `lplb` command on its two big inputs: `lplb eplb`
# on 58 layers x 256 experts -> 288 replicas, and `lplb simulate --trace`
# loading a recorded trace (2 steps of one layer: the run itself is ~1 ms).
# Usage: bench/cli_speed.sh [path/to/lplb] [runs] [trace.json.gz]. Needs perf (linux-perf);
# reports task-clock (CPU ms, robust to other load) and elapsed wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
L=${1:-build/tools/lplb}
RUNS=${2:-20}
TRACE=${3:-data/traces/skewed.json.gz}
W=$(mktemp --suffix=.json)
trap 'rm -f "$W"' EXIT
python3 -c "import json, random; random.seed(0); json.dump([[random.randint(0, 10000) for _ in range(256)] for _ in range(58)], open('$W', 'w'))"
echo "== lplb eplb: 58 x 256 -> 288 replicas, $RUNS runs"
perf stat -r "$RUNS" "$L" eplb --weights "$W" --replicas 288 --groups 8 --nodes 4 --gpus 32 -o /dev/null 2>&1 |
  grep -E "task-clock|elapsed"
echo "== lplb simulate --trace $TRACE (load + 2 steps), 5 runs"
perf stat -r 5 "$L" simulate --trace "$TRACE" --methods none --steps 2 --layer 0 -q \
  --json /dev/null 2>&1 >/dev/null | grep -E "task-clock|elapsed"
