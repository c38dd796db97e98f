#!/usr/bin/env bash
# One device call: the GPU side of the latency work. Builds the Python
# package there, runs the CUDA tests (and compute-sanitizer on the small
# mode), the C++ benchmark (graph replay + bandwidth), the eager host
# profile, and the side-by-side with deepseek-ai/LPLB when its prepared
# source is there. Everything lands in $OUT (summary.txt last).
#
# Prepare on a machine with nvcc (no GPU needed), into a folder PACK that the
# device call carries (e.g. /work/main/.gpu/latency, listed in .git/info/exclude):
#   cmake -S . -B build-cuda -G Ninja -DLPLB_CUDA=ON -DLPLB_BENCH=ON -DCMAKE_CUDA_ARCHITECTURES=90-real
#   cmake --build build-cuda --target cuda_planner_test cuda_bench
#   bench/run_latency_gpu.sh --pack build-cuda PACK      # binaries, sources, nlohmann-json
#   LPLB=... MATHDX_WHEEL=... LIBMATHDX_WHEEL=... bench/peer/prepare.sh PACK   # optional: the peer
# On the GPU machine (from the folder holding PACK):
#   bash PACK/run_latency_gpu.sh PACK [quick|full]
# quick: no sanitizer, no peer (fits 200 s). full (default): everything (fits 330 s).
# BUDGET=seconds overrides the time the steps may use in all.
set -uo pipefail
if [ "${1:-}" = "--pack" ]; then
  build=$(cd "$2" && pwd)
  pack=$(mkdir -p "$3" && cd "$3" && pwd)
  cd "$(dirname "$0")/.."
  mkdir -p "$pack/bin"
  cp "$build/tests/cuda_planner_test" "$build/bench/cuda_bench" "$pack/bin/"
  cp -L /usr/local/cuda/lib64/libcudart.so.13 "$pack/bin/" 2>/dev/null || true
  git archive --prefix=ours/ HEAD | xz -T0 >"$pack/ours_src.tar.xz"
  git rev-parse HEAD >"$pack/ours_commit.txt"
  stage=$(mktemp -d)
  mkdir -p "$stage/deps/include" "$stage/deps/share/cmake"
  cp -r /usr/include/nlohmann "$stage/deps/include/"
  cp -r /usr/share/cmake/nlohmann_json "$stage/deps/share/cmake/"
  tar cJf "$pack/deps.tar.xz" -C "$stage" deps
  rm -rf "$stage"
  cp bench/run_latency_gpu.sh "$pack/"
  du -sh "$pack"
  exit 0
fi
pack=$(cd "${1:?PACK}" && pwd)
mode=${2:-full}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
W=/tmp/latency
rm -rf "$W" && mkdir -p "$W"
S=$OUT/summary.txt
T0=$SECONDS
BUDGET=${BUDGET:-$([ "$mode" = full ] && echo 315 || echo 185)} # seconds for the whole call
step() { # step NAME LIMIT_S COMMAND...  (log in $W/logs/NAME.log; the limit is cut to the budget)
  local name=$1 limit=$2 t0=$SECONDS
  shift 2
  local rem=$((BUDGET - (SECONDS - T0)))
  if [ "$rem" -lt 8 ]; then
    echo "== $name: skipped, budget spent" | tee -a "$S"
    return 99
  fi
  [ "$limit" -gt "$rem" ] && limit=$rem
  timeout "$limit" "$@" >"$W/logs/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc=$rc ($((SECONDS - t0)) s, at $((SECONDS - T0)) s)" | tee -a "$S"
  tail -n 4 "$W/logs/$name.log"
  return $rc
}
mkdir -p "$W/logs"
finish() {
  cp "$W"/logs/*.md "$OUT/" 2>/dev/null
  tar czf "$OUT/logs.tar.gz" -C "$W" logs res 2>/dev/null
  echo "== total $((SECONDS - T0)) s" | tee -a "$S"
}
trap finish EXIT
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv
  python3 -c 'import torch, sys; print(sys.version.split()[0], torch.__version__, torch.version.cuda)'
  cat "$pack/ours_commit.txt"
} 2>&1 | tee -a "$S"
tar xJf "$pack/ours_src.tar.xz" -C "$W"
tar xJf "$pack/deps.tar.xz" -C "$W"
export LD_LIBRARY_PATH="$pack/bin:${LD_LIBRARY_PATH:-}"
B=$W/ours/bench
mkdir -p "$W/res"

# Builds (CPU) while the GPU runs the tests.
(cd "$W/ours" && LPLB_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL=14 \
  CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=90-real -DCMAKE_PREFIX_PATH=$W/deps" \
  timeout $((BUDGET - 80)) python3 -m pip install --no-build-isolation --no-deps -q --target "$W/site" . \
  >"$W/logs/build_ours.log" 2>&1; echo "rc=$?" >>"$W/logs/build_ours.log") &
pid_ours=$!
have_peer=0
if [ "$mode" = full ] && [ -f "$pack/lplb_src.tar.xz" ]; then
  have_peer=1
  bash "$B/peer/device_peer.sh" build "$pack/lplb_src.tar.xz" "$W/peer" >"$W/logs/build_lplb.log" 2>&1 &
  pid_lplb=$!
fi
step cuda_planner_test 150 "$pack/bin/cuda_planner_test"
wait $pid_ours
tail -n 2 "$W/logs/build_ours.log" | tee -a "$S"
step pytest_cuda 120 bash -c "cd $W/ours && PYTHONPATH=$W/site python3 -m pytest -q -p no:cacheprovider \
  tests/python/test_cuda_fast_path.py tests/python/test_cuda.py tests/python/test_planner_api.py"
if [ "$mode" = full ]; then
  san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  step memcheck 80 env LPLB_CUDA_TEST_SMALL=1 "$san" --tool memcheck --error-exitcode 9 \
    "$pack/bin/cuda_planner_test" --gtest_filter='-*Ipm*'
  step racecheck 60 env LPLB_CUDA_TEST_SMALL=1 "$san" --tool racecheck --error-exitcode 9 \
    "$pack/bin/cuda_planner_test" --gtest_filter='*Fused*:*RunEquals*'
fi
if [ "$have_peer" = 1 ]; then
  wait $pid_lplb
  tail -n 6 "$W/logs/build_lplb.log" | tee -a "$S"
fi
# Timings with the CPU quiet.
step cuda_bench_pipeline 60 "$pack/bin/cuda_bench" pipeline
step cuda_bench_bandwidth 60 "$pack/bin/cuda_bench" bandwidth
step cuda_bench_solve 120 "$pack/bin/cuda_bench" solve
step libstdcxx 60 bash "$B/peer/check_libstdcxx.sh" "$W/site"
step eager_profile 60 env PYTHONPATH="$W/site" python3 "$B/eager_profile.py"
pb="python3 $B/peer/peer_bench.py"
step bench_ours 120 env PYTHONPATH="$W/site" $pb --pkg ours --out "$W/res/res_ours.json"
step graph_ours 90 env PYTHONPATH="$W/site" $pb --graphs --pkg ours --out "$W/res/res_ours_graph.json"
if [ "$have_peer" = 1 ]; then
  step peer_lplb 120 bash "$B/peer/device_peer.sh" bench "$W/peer" "$W/res"
fi
python3 "$B/peer/tables.py" "$W/res" >"$W/logs/tables.md" 2>&1
cat "$W/logs/tables.md"
grep -hE "^\| |passed|failed" "$W"/logs/cuda_bench_*.log "$W/logs/eager_profile.log" | head -80 >"$W/logs/bench_tables.md"
