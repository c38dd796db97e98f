#!/usr/bin/env bash
# Installs dependencies, builds lplb (with the CUDA backend when nvcc exists)
# and runs every default test suite. Exits non-zero if any test fails.
# Environment: LPLB_SKIP_INSTALL=1 skips the dependency step; JOBS=N.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

[ "${LPLB_SKIP_INSTALL:-0}" = 1 ] || bash scripts/install-deps.sh

cuda=OFF
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  cuda=ON
  export PATH=$PATH:/usr/local/cuda/bin
fi

echo "== build (CUDA=$cuda)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLPLB_CUDA=$cuda -DLPLB_MPI=ON \
  -DLPLB_BENCH=ON >/dev/null
cmake --build build -j"$JOBS"

echo "== C++ tests"
ctest --test-dir build --output-on-failure -j"$JOBS" --timeout 600

echo "== Python package and tests"
bash scripts/test-python.sh
bash scripts/test-wheel.sh

echo "== C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer"
bash scripts/sanitize.sh

echo "== fuzzing, bounded (longer runs: see docs/RELIABILITY.md)"
FUZZ_SEED=${FUZZ_SEED:-1} bash scripts/fuzz.sh

echo "== all test suites passed"
