#!/usr/bin/env bash
# Everything GPU-side of the tree on a GPU machine, in selectable steps; logs
# (one per step, plus summary.txt) go to $OUT (default build-gpu/out).
#
#   bench/run_gpu.sh [--steps LIST] --pack DIR
#       build here (nvcc, no GPU needed) into build-cuda for sm_90 and copy the
#       GPU binaries and libcudart into DIR, for GPU machines without the
#       project's dependencies (GTest, Google Benchmark, CLI11, ...)
#   bench/run_gpu.sh [--steps LIST] DIR
#       run the steps with the binaries in DIR
#   bench/run_gpu.sh [--steps LIST]
#       configure + build build-gpu here (needs the dependencies), then run
#
# Steps (LIST is comma-separated; default planner,bench,sanitize,placement,nccl,exchange):
#   planner   cuda_planner_test
#   bench     cuda_bench (bench/RESULTS.md, "CUDA backend (H200)")
#   sanitize  compute-sanitizer memcheck + racecheck on cuda_planner_test in
#             its small mode (LPLB_CUDA_TEST_SMALL)
#   placement cuda_placement_test and its memcheck (the placement LP on the GPU;
#             its benchmark and simulate --gpu: bench/gpu_placement.sh)
#   nccl      nccl_comm_test (the NCCL communicator, one rank)
#   exchange  nccl_device_exchange_test, device_exchange_bench 1000 and a
#             memcheck of the exchange (bench/RESULTS.md, "Device-side exchange")
#   python    build the Python package on the GPU machine (LPLB_CUDA=ON, sm_90;
#             DEPS=<prefix with nlohmann-json's headers and CMake package>)
#             and run tests/python
# A step whose binary is missing is skipped. Each step is time-limited.
#
# libnccl is not carried (200+ MB): the run uses the machine's, preferring a
# 2.28 one (the device API the exchange kernels were built against), from the
# CUDA toolkit or the nvidia-nccl wheel of the machine's Python; with none the
# exchange reports kHostAllReduce and its device tests skip. NVLink multicast
# stays off (NCCL_NVLS_ENABLE=0 and friends).
set -uo pipefail
cd "$(dirname "$0")/.."

steps=planner,bench,sanitize,placement,nccl,exchange
if [ "${1:-}" = "--steps" ]; then
  steps=${2:?usage: bench/run_gpu.sh --steps LIST ...}
  shift 2
fi
want() { case ",$steps," in *",$1,"*) return 0 ;; esac; return 1; }
targets=(cuda_planner_test cuda_bench cuda_placement_test nccl_comm_test nccl_device_exchange_test device_exchange_bench)

copy_binaries() {  # copy_binaries BUILD DIR: the GPU binaries that were built, plus libcudart
  local build=$1 dir=$2 t f
  mkdir -p "$dir"
  for t in "${targets[@]}"; do
    for f in "$build/tests/$t" "$build/bench/$t"; do [ -x "$f" ] && cp "$f" "$dir"/; done
  done
  cp -L "$(ldd "$dir/cuda_planner_test" | awk '/libcudart/ {print $3}')" "$dir"/
}

build_targets() {  # build_targets BUILD: those of the GPU targets this configuration has
  local build=$1 t have=()
  for t in "${targets[@]}"; do
    cmake --build "$build" --target help | grep -q "^$t:" && have+=("$t")
  done
  cmake --build "$build" --target "${have[@]}"
}

if [ "${1:-}" = "--pack" ]; then
  dir=${2:?usage: bench/run_gpu.sh --pack DIR}
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DLPLB_CUDA=ON -DLPLB_BENCH=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90-real >/dev/null && build_targets build-cuda || exit 1
  copy_binaries build-cuda "$dir"
  ls -la "$dir"
  exit 0
fi

OUT=${OUT:-$PWD/build-gpu/out}
mkdir -p "$OUT"
bin=${1:-}
if [ -z "$bin" ]; then
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLPLB_CUDA=ON -DLPLB_BENCH=ON \
    -DCMAKE_CUDA_ARCHITECTURES=native 2>&1 | tail -3 && build_targets build-gpu 2>&1 | tail -3 || exit 1
  copy_binaries build-gpu build-gpu/bin
  bin=build-gpu/bin
fi
bin=$(cd "$bin" && pwd)

# libnccl: prefer a 2.28 one.
nccl_version() { grep -a -m1 -o 'NCCL version [0-9.]*' "$1" 2>/dev/null | head -1 | awk '{print $3}'; }
candidates=$(ls /usr/local/cuda/lib64/libnccl.so.2 /usr/local/cuda/lib/libnccl.so.2 \
  /usr/local/cuda-*/lib*/libnccl.so.2 2>/dev/null)
py_nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib"))' 2>/dev/null)
[ -n "$py_nccl" ] && candidates="$candidates $(ls "$py_nccl"/libnccl.so.2 2>/dev/null)"
candidates="$candidates $(ldconfig -p 2>/dev/null | awk '/libnccl.so.2/ {print $NF}')"
chosen=""
for lib in $candidates; do
  v=$(nccl_version "$lib")
  echo "libnccl candidate: $lib ($v)" | tee -a "$OUT/summary.txt"
  case "$v" in 2.28.*) [ -z "$chosen" ] && chosen=$lib ;; esac
done
[ -z "$chosen" ] && chosen=$(echo $candidates | awk '{print $1}')
echo "using libnccl: ${chosen:-none}" | tee -a "$OUT/summary.txt"
export LD_LIBRARY_PATH="$bin:$(dirname "${chosen:-/nonexistent/x}"):${LD_LIBRARY_PATH:-}"
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)

step() {  # step NAME LIMIT_S COMMAND...: runs, logs to $OUT/NAME.log, prints a status line
  local name=$1 limit=$2 t0=$SECONDS
  shift 2
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc=$rc ($((SECONDS - t0)) s)" | tee -a "$OUT/summary.txt"
  return $rc
}
have() {  # have BINARY: present in $bin, or say the step is skipped
  [ -x "$bin/$1" ] && return 0
  echo "== $1: not in $bin, skipped" | tee -a "$OUT/summary.txt"
  return 1
}

nvidia-smi -L | tee -a "$OUT/summary.txt"
nvidia-smi >"$OUT/nvidia-smi.log" 2>&1
if want planner && have cuda_planner_test; then
  step tests 120 "$bin/cuda_planner_test"
  tail -n 25 "$OUT/tests.log"
fi
if want bench && have cuda_bench; then
  step bench 180 "$bin/cuda_bench"
  cat "$OUT/bench.log"
fi
if want sanitize && have cuda_planner_test; then
  step memcheck 150 env LPLB_CUDA_TEST_SMALL=1 "$sanitizer" --tool memcheck --error-exitcode 9 \
    "$bin/cuda_planner_test"
  tail -n 4 "$OUT/memcheck.log"
  step racecheck 150 env LPLB_CUDA_TEST_SMALL=1 "$sanitizer" --tool racecheck --error-exitcode 9 \
    "$bin/cuda_planner_test" --gtest_filter=-CudaPlanner.IpmSolveEqualsCpu:CudaSplit.*
  tail -n 4 "$OUT/racecheck.log"
  step racecheck_ipm 100 env LPLB_CUDA_TEST_SMALL=2 "$sanitizer" --tool racecheck --error-exitcode 9 \
    "$bin/cuda_planner_test" --gtest_filter=CudaPlanner.IpmSolveEqualsCpu
  tail -n 4 "$OUT/racecheck_ipm.log"
fi
if want placement && have cuda_placement_test; then
  step cuda_placement_test 90 "$bin/cuda_placement_test"
  tail -n 4 "$OUT/cuda_placement_test.log"
  step placement_memcheck 60 env LPLB_CUDA_TEST_SMALL=1 "$sanitizer" --tool memcheck \
    --error-exitcode 9 "$bin/cuda_placement_test"
  tail -n 4 "$OUT/placement_memcheck.log"
fi
if want nccl && have nccl_comm_test; then
  step nccl_comm_test 60 "$bin/nccl_comm_test"
  tail -n 4 "$OUT/nccl_comm_test.log"
fi
if want exchange && have nccl_device_exchange_test; then
  step nccl_device_exchange_test 90 "$bin/nccl_device_exchange_test"
  grep -E "SKIP|mode|FAILED|PASSED|OK \]|Failure|error" "$OUT/nccl_device_exchange_test.log" | head -60
  if have device_exchange_bench; then
    step device_exchange_bench 70 "$bin/device_exchange_bench" 1000
    cat "$OUT/device_exchange_bench.log"
  fi
  step exchange_memcheck 45 "$sanitizer" --tool memcheck --error-exitcode 9 \
    "$bin/nccl_device_exchange_test" --gtest_filter='NcclDeviceExchange.EveryLength*:NcclDeviceExchange.OneRank*'
  tail -n 6 "$OUT/exchange_memcheck.log"
fi
if want python; then
  deps=$(cd "${DEPS:?the python step needs DEPS=<prefix with nlohmann-json>}" && pwd)
  step python_build 240 env LPLB_CUDA=ON \
    CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=90-real -DCMAKE_PREFIX_PATH=$deps" \
    python3 -m pip install --no-build-isolation --no-deps -q ./
  tail -n 4 "$OUT/python_build.log"
  step python_tests 150 python3 -m pytest -q tests/python
  grep -E "passed|failed" "$OUT/python_tests.log" | tail -2
fi
cat "$OUT/summary.txt"
