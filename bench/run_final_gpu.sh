#!/usr/bin/env bash
# One device call that checks everything GPU-side of the current tree:
# the CUDA planner tests, the NCCL communicator tests (host path + device
# exchange, one rank), the device-exchange benchmark, and the Python package
# built on that machine with its GPU tests. Binaries are built here
# beforehand (the GPU machine lacks GTest and friends):
#   cmake -S . -B build-devcomm -DLPLB_CUDA=ON -DLPLB_BENCH=ON -DCMAKE_CUDA_ARCHITECTURES=90-real
#   cmake --build build-devcomm --target cuda_planner_test nccl_comm_test \
#     nccl_device_exchange_test device_exchange_bench cuda_bench cuda_placement_test
#   copy them and libcudart into BIN; nlohmann-json's headers and CMake
#   package into DEPS (a prefix) for the Python build.
# Usage on the GPU machine: bench/run_final_gpu.sh BIN DEPS   (logs in $OUT)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$(cd "${1:?BIN}" && pwd)
deps=$(cd "${2:?DEPS}" && pwd)
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
nccl_dir=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib"))' 2>/dev/null)
export LD_LIBRARY_PATH="$bin:${nccl_dir}:${LD_LIBRARY_PATH:-}"
step() {  # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2 t0=$SECONDS
  shift 2
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc=$rc ($((SECONDS - t0)) s)" | tee -a "$OUT/summary.txt"
  tail -n 4 "$OUT/$name.log"
}
nvidia-smi -L | tee -a "$OUT/summary.txt"
step cuda_planner_test 120 "$bin/cuda_planner_test"
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
step memcheck 150 env LPLB_CUDA_TEST_SMALL=1 "$sanitizer" --tool memcheck --error-exitcode 9 "$bin/cuda_planner_test"
step racecheck 150 env LPLB_CUDA_TEST_SMALL=1 "$sanitizer" --tool racecheck --error-exitcode 9 "$bin/cuda_planner_test"
# The placement LP on the GPU, when its binaries were copied too (the full
# set with the benchmark and simulate --gpu: bench/gpu_placement.sh).
if [[ -x "$bin/cuda_placement_test" ]]; then
  step cuda_placement_test 90 "$bin/cuda_placement_test"
  step placement_memcheck 60 env LPLB_CUDA_TEST_SMALL=1 "$sanitizer" --tool memcheck \
    --error-exitcode 9 "$bin/cuda_placement_test"
fi
step nccl_comm_test 60 "$bin/nccl_comm_test"
step nccl_device_exchange_test 90 "$bin/nccl_device_exchange_test"
step device_exchange_bench 60 "$bin/device_exchange_bench" 1000
step python_build 240 env LPLB_CUDA=ON CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=90-real -DCMAKE_PREFIX_PATH=$deps" \
  python3 -m pip install --no-build-isolation --no-deps -q ./
step python_tests 150 python3 -m pytest -q tests/python
grep -E "passed|failed" "$OUT/python_tests.log" | tail -2
cat "$OUT/summary.txt"
