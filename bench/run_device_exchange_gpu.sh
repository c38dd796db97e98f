#!/usr/bin/env bash
# The device-side exchange (issue 12) on a GPU machine: its test and its
# benchmark, logs in $OUT (default ./gpu-out). Same scheme as run_gpu.sh:
#
#   bench/run_device_exchange_gpu.sh --pack DIR   build here (no GPU needed) into
#                                                 build-devcomm and copy the test,
#                                                 the benchmark and libcudart to DIR
#   bench/run_device_exchange_gpu.sh DIR          run them from DIR on the GPU machine
#
# libnccl is not carried (200+ MB): the run uses the machine's, preferring a
# 2.28 one (the device API the kernels were built against), from the CUDA
# toolkit or from the nvidia-nccl wheel of the machine's Python; with none
# of those the exchange reports kHostAllReduce and the device tests skip.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--pack" ]; then
  dir=${2:?usage: bench/run_device_exchange_gpu.sh --pack DIR}
  cmake -S . -B build-devcomm -G Ninja -DCMAKE_BUILD_TYPE=Release -DLPLB_CUDA=ON -DLPLB_BENCH=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90-real >/dev/null &&
    cmake --build build-devcomm --target nccl_device_exchange_test device_exchange_bench || exit 1
  mkdir -p "$dir"
  cp build-devcomm/tests/nccl_device_exchange_test build-devcomm/bench/device_exchange_bench "$dir"/
  cp -L "$(ldd build-devcomm/tests/nccl_device_exchange_test | awk '/libcudart/ {print $3}')" "$dir"/
  ls -la "$dir"
  exit 0
fi

bin=${1:?usage: bench/run_device_exchange_gpu.sh DIR}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
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
export LD_LIBRARY_PATH="$PWD/$bin:$(dirname "${chosen:-/nonexistent/x}"):${LD_LIBRARY_PATH:-}"
export NCCL_DEBUG=${NCCL_DEBUG:-WARN} NCCL_NVLS_ENABLE=0

step() {  # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc=$rc ($((SECONDS - t0)) s)" | tee -a "$OUT/summary.txt"
  return $rc
}
nvidia-smi -L >>"$OUT/summary.txt" 2>&1
step test 90 "$bin/nccl_device_exchange_test"
grep -E "SKIP|mode|FAILED|PASSED|OK \]|Failure|error" "$OUT/test.log" | head -60
step bench 70 "$bin/device_exchange_bench" 1000
cat "$OUT/bench.log"
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
step memcheck 45 "$sanitizer" --tool memcheck --error-exitcode 9 "$bin/nccl_device_exchange_test" \
  --gtest_filter='NcclDeviceExchange.EveryLength*:NcclDeviceExchange.OneRank*'
tail -n 6 "$OUT/memcheck.log"
cat "$OUT/summary.txt"
