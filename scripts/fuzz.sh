#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/*_fuzz.cpp) with clang + ASan + UBSan and
# runs each for a bounded time, starting from its seed corpus in
# fuzz/corpus/<target>/. Exits non-zero if any target crashes, hangs (one
# input over FUZZ_TIMEOUT s) or breaks an invariant; the inputs that did are
# saved under $ARTIFACTS and the log tail is printed.
#
# Environment:
#   SECONDS_PER_TARGET  fuzzing time per target (default 15: ~75 s in all)
#   TARGETS             space-separated subset (default: every *_fuzz.cpp)
#   BUILD_DIR           build directory (default build-fuzz)
#   ARTIFACTS           where crashing inputs go (default $BUILD_DIR/artifacts)
#   FUZZ_JOBS           parallel fuzzing processes per target (default 1)
#   FUZZ_TIMEOUT        seconds one input may take (default 10)
#   FUZZ_SEED           libFuzzer -seed (default: random, printed in the log)
#   CXX_FUZZ            clang++ to use (default clang++, then clang++-14)
# Longer runs: SECONDS_PER_TARGET=600 FUZZ_JOBS=$(nproc) scripts/fuzz.sh
# To reproduce a crash: $BUILD_DIR/fuzz/<target>_fuzz <artifact file>
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-15}
BUILD_DIR=${BUILD_DIR:-build-fuzz}
ARTIFACTS=${ARTIFACTS:-$BUILD_DIR/artifacts}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
if [ -z "${TARGETS:-}" ]; then
  TARGETS=$(ls fuzz/*_fuzz.cpp | sed 's|fuzz/||; s|_fuzz.cpp||' | tr '\n' ' ')
fi

CXX_FUZZ=${CXX_FUZZ:-}
if [ -z "$CXX_FUZZ" ]; then
  for c in clang++ clang++-14 clang++-15 clang++-16; do
    if command -v "$c" >/dev/null 2>&1; then CXX_FUZZ=$c; break; fi
  done
fi
[ -n "$CXX_FUZZ" ] || { echo "fuzz.sh: no clang++ found (libFuzzer needs clang)" >&2; exit 1; }

echo "== fuzz: build ($CXX_FUZZ, ASan+UBSan, $BUILD_DIR)"
start=$(date +%s)
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DLPLB_FUZZ=ON -DLPLB_TESTS=OFF -DLPLB_CUDA=OFF \
  -DLPLB_SANITIZE=address,undefined >/dev/null
build_targets=""
for t in $TARGETS; do build_targets="$build_targets ${t}_fuzz"; done
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j"${JOBS:-$(nproc)}" --target $build_targets
echo "   built in $(( $(date +%s) - start )) s"

mkdir -p "$ARTIFACTS" "$BUILD_DIR/fuzz-logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=""
for t in $TARGETS; do
  # New inputs the fuzzer finds go to a work corpus in the build directory,
  # never into the repository's seeds.
  work="$BUILD_DIR/fuzz-corpus/$t"
  log="$BUILD_DIR/fuzz-logs/$t.log"
  mkdir -p "$work"
  args=(-max_total_time="$SECONDS_PER_TARGET" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb=2560
        -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t-")
  [ -n "${FUZZ_SEED:-}" ] && args+=(-seed="$FUZZ_SEED")
  if [ "$FUZZ_JOBS" -gt 1 ]; then
    args+=(-fork="$FUZZ_JOBS" -ignore_crashes=0)
  fi
  printf "== fuzz: %-14s %4s s ... " "$t" "$SECONDS_PER_TARGET"
  if "$BUILD_DIR/fuzz/${t}_fuzz" "${args[@]}" "$work" "fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    echo "ok (${runs:-?} runs)"
  else
    echo "FAILED"
    tail -n 40 "$log"
    failed="$failed $t"
  fi
done

if [ -n "$failed" ]; then
  echo "fuzz.sh: crashes in:$failed (inputs in $ARTIFACTS, logs in $BUILD_DIR/fuzz-logs)" >&2
  exit 1
fi
echo "== fuzz: all targets clean ($(( $(date +%s) - start )) s in all)"
