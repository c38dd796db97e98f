#!/usr/bin/env bash
# Builds, tests and benchmarks the CUDA backend on a GPU machine in one go;
# logs go to $OUT (default build-gpu/out).
#
#   bench/run_gpu.sh            configure + build build-gpu (needs the project's
#                               dependencies: nlohmann-json, fmt, GTest,
#                               Google Benchmark, CLI11, zlib), then run
#   bench/run_gpu.sh DIR        run prebuilt binaries from DIR instead
#   bench/run_gpu.sh --pack DIR build here (no GPU needed) into build-cuda and
#                               copy cuda_planner_test, cuda_bench and
#                               libcudart into DIR, for machines that have a
#                               GPU but not the dependencies
#
# Steps: nvidia-smi; the CUDA tests; the benchmark (bench/RESULTS.md, "CUDA
# backend (H200)"); compute-sanitizer memcheck and racecheck on the tests in
# their small mode (LPLB_CUDA_TEST_SMALL=1). Each step is time-limited so
# the whole run stays within a few minutes.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--pack" ]; then
  dir=${2:?usage: bench/run_gpu.sh --pack DIR}
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DLPLB_CUDA=ON -DLPLB_BENCH=ON >/dev/null &&
    cmake --build build-cuda --target cuda_planner_test cuda_bench || exit 1
  mkdir -p "$dir"
  cp build-cuda/tests/cuda_planner_test build-cuda/bench/cuda_bench "$dir"/
  cp -L "$(ldd build-cuda/tests/cuda_planner_test | awk '/libcudart/ {print $3}')" "$dir"/
  ls -la "$dir"
  exit 0
fi

OUT=${OUT:-$PWD/build-gpu/out}
mkdir -p "$OUT"
bin=${1:-}
if [ -z "$bin" ]; then
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLPLB_CUDA=ON -DLPLB_BENCH=ON \
    -DCMAKE_CUDA_ARCHITECTURES=native 2>&1 | tail -3 &&
    cmake --build build-gpu --target cuda_planner_test cuda_bench 2>&1 | tail -3 || exit 1
  mkdir -p build-gpu/bin
  cp build-gpu/tests/cuda_planner_test build-gpu/bench/cuda_bench build-gpu/bin/
  bin=build-gpu/bin
fi
export LD_LIBRARY_PATH="$PWD/$bin:${LD_LIBRARY_PATH:-}"
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)

step() {  # step NAME LIMIT_S COMMAND...: runs, logs to $OUT/NAME.log, prints a status line
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc=$rc ($((SECONDS - t0)) s)" | tee -a "$OUT/summary.txt"
  return $rc
}

nvidia-smi >"$OUT/nvidia-smi.log" 2>&1
step tests 120 "$bin/cuda_planner_test"
tail -n 25 "$OUT/tests.log"
step bench 180 "$bin/cuda_bench"
cat "$OUT/bench.log"
export LPLB_CUDA_TEST_SMALL=1
step memcheck 90 "$sanitizer" --tool memcheck --error-exitcode 9 "$bin/cuda_planner_test"
tail -n 4 "$OUT/memcheck.log"
step racecheck 120 "$sanitizer" --tool racecheck --error-exitcode 9 "$bin/cuda_planner_test" --gtest_filter=-CudaPlanner.IpmSolveEqualsCpu:CudaSplit.*
tail -n 4 "$OUT/racecheck.log"
LPLB_CUDA_TEST_SMALL=2 step racecheck_ipm 100 "$sanitizer" --tool racecheck --error-exitcode 9 \
  "$bin/cuda_planner_test" --gtest_filter=CudaPlanner.IpmSolveEqualsCpu
tail -n 4 "$OUT/racecheck_ipm.log"
cat "$OUT/summary.txt"
