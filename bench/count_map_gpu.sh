#!/usr/bin/env bash
# count/map bandwidth on the GPU machine in one call: exactness tests,
# compute-sanitizer memcheck of the count/map tests (small mode), and the
# count/map section of cuda_bench (variants A/B), against the build before
# the change where DIR holds one (cuda_bench_base).
#
#   here:  bench/count_map_gpu.sh copy BUILD DIR   (binaries + libcudart into DIR)
#   there: bench/count_map_gpu.sh run DIR          (logs under $OUT when set)
set -uo pipefail
mode=${1:?copy|run}
if [[ $mode == copy ]]; then
  build=${2:?build dir} dir=${3:?target dir}
  mkdir -p "$dir"
  cp "$build/bench/cuda_bench" "$build/tests/cuda_planner_test" "$build/tests/cuda_placement_test" "$dir"/
  cp -L "$(ldd "$dir/cuda_planner_test" | awk '/libcudart/ {print $3}')" "$dir"/
  exit 0
fi
dir=$(cd "${2:?dir}" && pwd)
out=${OUT:-/tmp}
export LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw --format=csv 2>&1 | tee "$out/gpu.log"
echo "== bench (this build)"
timeout 30 "$dir/cuda_bench" bandwidth 2>&1 | tee "$out/bench.log"
if [[ -x $dir/cuda_bench_base ]]; then
  echo "== bench (before the change)"
  timeout 15 "$dir/cuda_bench_base" bandwidth 2>&1 | tee "$out/bench_base.log"
fi
filter='CudaPlanner.CountAndMap*:CudaPlanner.MapVariants*:CudaPlanner.BallotMatch*:CudaPlanner.Rejects*'
echo "== cuda_planner_test (count/map)"
timeout 25 "$dir/cuda_planner_test" --gtest_filter="$filter" > "$out/test_countmap.log" 2>&1
echo "rc=$?"; tail -12 "$out/test_countmap.log"
echo "== memcheck (small)"
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
LPLB_CUDA_TEST_SMALL=1 timeout 25 "$sanitizer" --tool memcheck --error-exitcode 9 \
  "$dir/cuda_planner_test" --gtest_filter="$filter" > "$out/memcheck.log" 2>&1
echo "memcheck rc=$?"; tail -6 "$out/memcheck.log"
echo "== cuda_placement_test (shares count)"
LPLB_CUDA_TEST_SMALL=1 timeout 20 "$dir/cuda_placement_test" > "$out/test_placement.log" 2>&1
echo "rc=$?"; grep -E "^\[  (PASSED|FAILED) |FAILED|tests ran" "$out/test_placement.log" | tail -8
echo "== cuda_planner_test (all)"
timeout 25 "$dir/cuda_planner_test" > "$out/test_all.log" 2>&1
echo "rc=$?"; grep -E "^\[  (PASSED|FAILED) |FAILED|tests ran" "$out/test_all.log" | tail -12
