#!/usr/bin/env bash
# The measured MoE table on one GPU (H200): the example layer with every
# balancer on both shared traces and the synthetic stream, and the
# torch.compile(fullgraph=True) check. Builds the lplb Python package with
# its CUDA backend into /tmp/lplb-site unless an lplb with CUDA and
# lplb.integrations is importable already.
#
# Usage (from the repository root, on the GPU machine; logs and a tarball
# of the outputs in $OUT):
#   examples/torch_moe/run_gpu.sh DEPS [TRACES [STEPS]]
# DEPS: a prefix holding nlohmann-json's headers and CMake package
#   (include/nlohmann, share/cmake/nlohmann_json) for the package build
#   (unused when lplb is importable already);
# TRACES: a folder with skewed.json.gz and balanced.json.gz (or
#   dev_trace_*.json.gz); default data/traces (the shipped excerpts);
# STEPS: measured steps per workload (default 40: about 25 s each).
# Environment: MOE_RUNS="skewed balanced synthetic" (which workloads, in order).
# Afterwards, on a machine with the lplb command (no GPU needed), the table
# for bench/RESULTS.md: untar $OUT/torch_moe_out.tgz into DIR, then
#   python3 examples/torch_moe/compare_sim.py --lplb build/tools/lplb DIR/skewed DIR/balanced DIR/synthetic
set -uo pipefail
cd "$(dirname "$0")/../.."
deps=$(cd "${1:?DEPS}" && pwd)
traces=$(cd "${2:-data/traces}" && pwd)
steps=${3:-40}
OUT=${OUT:-$PWD/gpu-out}
work=/tmp/torch_moe_out
mkdir -p "$OUT" "$work"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 PYTHONUNBUFFERED=1
step() {  # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2 t0=$SECONDS
  shift 2
  timeout "$limit" "$@" >"$work/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc=$rc ($((SECONDS - t0)) s)" | tee -a "$work/summary.txt"
  tail -n 25 "$work/$name.log"
}
nvidia-smi -L | tee -a "$work/summary.txt"
if ! python3 -c 'import lplb, lplb.integrations.torch; assert lplb.has_cuda' 2>/dev/null; then
  step python_build 150 env LPLB_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=90-real -DCMAKE_PREFIX_PATH=$deps" \
    python3 -m pip install --no-build-isolation --no-deps -q --target /tmp/lplb-site ./
  export PYTHONPATH=/tmp/lplb-site${PYTHONPATH:+:$PYTHONPATH}
fi
step compile_check 60 python3 examples/torch_moe/compile_check.py --methods eplb,lplb,eplb_lp
for run in ${MOE_RUNS:-skewed balanced synthetic}; do
  case $run in
    synthetic) src=() ;;
    *) f=$traces/$run.json.gz
       [ -f "$f" ] || f=$traces/dev_trace_$run.json.gz
       src=(--trace "$f") ;;
  esac
  step "moe_$run" $((40 + steps)) python3 examples/torch_moe/run.py "${src[@]}" --steps "$steps" --out "$work/$run"
done
tar czf "$OUT/torch_moe_out.tgz" -C "$work" .
cp "$work/summary.txt" "$OUT/summary.txt"
cat "$work/summary.txt"
