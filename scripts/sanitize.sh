#!/usr/bin/env bash
# Builds the core, the CLI and the C++ tests with AddressSanitizer and
# UndefinedBehaviorSanitizer (any UB report aborts) and runs the C++ test
# suite under them. Exits non-zero on a test failure or a sanitizer report.
#
# Environment:
#   BUILD_DIR        build directory (default build-asan)
#   CXX_SANITIZE     compiler (default g++; clang++ works too)
#   SANITIZE_EXCLUDE ctest -E regex of tests too slow under ASan (default below)
#   JOBS             build and test parallelism (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build-asan}
CXX_SANITIZE=${CXX_SANITIZE:-g++}
JOBS=${JOBS:-$(nproc)}
# Tests that need a GPU or an MPI launcher. The `install` label (a downstream
# project linking the installed static library) is skipped too: an
# instrumented liblplb.a cannot link into an uninstrumented consumer.
SANITIZE_EXCLUDE=${SANITIZE_EXCLUDE:-'Cuda|Nccl|Mpi'}

start=$(date +%s)
echo "== sanitize: build ($CXX_SANITIZE, ASan+UBSan, $BUILD_DIR)"
# -O1 -g1 compiles in half the time of -O2 -g and still gives ASan/UBSan
# reports with file:line; NDEBUG stays off so debug-only checks run too.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_CXX_COMPILER="$CXX_SANITIZE" -DLPLB_SANITIZE=address,undefined \
  -DLPLB_TESTS=ON -DLPLB_CUDA=OFF -DLPLB_MPI=OFF -DLPLB_BENCH=OFF -DLPLB_PYTHON=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS"
built=$(date +%s)
echo "   built in $(( built - start )) s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "== sanitize: ctest (excluding: $SANITIZE_EXCLUDE)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$JOBS" --timeout 600 -E "$SANITIZE_EXCLUDE" \
  -LE install
echo "== sanitize: clean (build $(( built - start )) s, tests $(( $(date +%s) - built )) s)"
