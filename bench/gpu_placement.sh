#!/usr/bin/env bash
# The GPU side of CudaPlacementPlanner in one device call: GPU-vs-CPU tests,
# compute-sanitizer memcheck and racecheck on a small run, the benchmark
# (bench/RESULTS.md, "Placement LP on the GPU (H200)") and `lplb simulate
# --gpu` against the CPU simulator on the shared traces.
#
# Here (a machine with nvcc, no GPU needed):
#   cmake -S . -B build-cuda -G Ninja -DLPLB_CUDA=ON -DLPLB_BENCH=ON \
#     -DCMAKE_CUDA_ARCHITECTURES=90-real
#   cmake --build build-cuda --target cuda_placement_test cuda_planner_test \
#     cuda_placement_bench lplb_cli
#   bench/gpu_placement.sh --pack DIR [TRACES_DIR]   # binaries, libs, traces into DIR
# On the GPU machine (logs and a summary under $OUT, default DIR/out):
#   bench/gpu_placement.sh DIR [SECONDS]             # whole run within SECONDS (default 250)
set -uo pipefail

if [[ "${1:-}" == "--pack" ]]; then
  dir=${2:?DIR}
  traces=${3:-/work/shared/traces}
  build=${BUILD:-build-cuda}
  mkdir -p "$dir"
  cp "$build/tests/cuda_placement_test" "$build/tests/cuda_planner_test" \
    "$build/bench/cuda_placement_bench" "$build/tools/lplb" "$dir/"
  for lib in libcudart.so.13 libfmt.so.9; do
    path=$(ldd "$dir/lplb" | awk -v l="$lib" '$1 == l {print $3}')
    [[ -n "$path" ]] && cp -L "$path" "$dir/"
  done
  cp "$traces"/dev_trace_*.json.gz "$dir/" 2>/dev/null || true
  cp "$0" "$dir/"
  du -sh "$dir"
  exit 0
fi

dir=$(cd "${1:?DIR}" && pwd)
budget=${2:-250}
OUT=${OUT:-$dir/out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
start=$SECONDS
step() {  # step NAME LIMIT_S COMMAND...: runs within what is left of the budget
  local name=$1 limit=$2 t0=$SECONDS
  shift 2
  local left=$((budget - (SECONDS - start) - 5))
  ((left < limit)) && limit=$left
  if ((limit < 5)); then
    echo "== $name: skipped (budget)" | tee -a "$OUT/summary.txt"
    return
  fi
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc=$rc ($((SECONDS - t0)) s)" | tee -a "$OUT/summary.txt"
  tail -n 3 "$OUT/$name.log"
}
nvidia-smi -L | tee -a "$OUT/summary.txt"

# Trace batches for the benchmark: steps 500-507, every layer, both traces.
python3 - "$dir" >"$dir/trace_workloads.txt" <<'EOF'
import gzip, json, sys, glob
for path in sorted(glob.glob(sys.argv[1] + "/dev_trace_*.json.gz")):
    counts = json.load(gzip.open(path))["counts"]
    for step in range(500, 508):
        for layer in counts[step]:
            print(" ".join(str(int(x)) for x in layer))
EOF

step placement_test 90 "$dir/cuda_placement_test"
step bench 80 "$dir/cuda_placement_bench" --workloads "$dir/trace_workloads.txt"
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
step memcheck 60 env LPLB_CUDA_TEST_SMALL=1 "$sanitizer" --tool memcheck --error-exitcode 9 \
  "$dir/cuda_placement_test"
step racecheck 60 env LPLB_CUDA_TEST_SMALL=1 "$sanitizer" --tool racecheck --error-exitcode 9 \
  "$dir/cuda_placement_test" --gtest_filter='-*MapMatches*'
step planner_test 60 "$dir/cuda_planner_test"
for t in skewed balanced; do
  for mode in cpu gpu; do
    flag=""
    [[ $mode == gpu ]] && flag="--gpu"
    step "sim_${t}_$mode" 40 "$dir/lplb" simulate --trace "$dir/dev_trace_$t.json.gz" \
      --methods eplb_lp,lplb_lp,hybrid_lp -q $flag --json "$OUT/sim_${t}_$mode.json"
  done
  python3 - "$OUT/sim_${t}_cpu.json" "$OUT/sim_${t}_gpu.json" <<'EOF' | tee -a "$OUT/summary.txt"
import json, sys
try:
    a, b = (json.load(open(p)) for p in sys.argv[1:3])
except Exception as e:
    print("sim compare: missing output", e); sys.exit(0)
ma, mb = a["methods"], b["methods"]
for name in ma:
    if name == "none" or name not in mb: continue
    # [steps][streams] per method: flatten
    x = [v for row in ma[name]["imbalance"] for v in row]
    y = [v for row in mb[name]["imbalance"] for v in row]
    worst = max(abs(p - q) / max(p, 1e-12) for p, q in zip(x, y))
    same = sum(p == q for p, q in zip(x, y))
    print(f"sim {sys.argv[1].split('sim_')[1].split('_')[0]} {name}: mean imbalance cpu "
          f"{sum(x)/len(x):.4f} gpu {sum(y)/len(y):.4f}; identical steps {same}/{len(x)}; "
          f"worst rel diff {worst:.2e}")
EOF
done
# At most a few files come back from a device call: one archive of the
# logs and JSON figures, plus the summary and the benchmark's tables.
(cd "$OUT" && tar czf gpu_placement_logs.tgz --exclude=gpu_placement_logs.tgz ./*.log ./*.json 2>/dev/null &&
  find . -maxdepth 1 \( -name '*.json' -o -name '*.log' \) ! -name bench.log -delete)
cat "$OUT/bench.log" 2>/dev/null | grep -v "^$"
cat "$OUT/summary.txt"
