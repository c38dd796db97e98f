#!/usr/bin/env bash
# Installs everything lplb needs to build, test and benchmark on a fresh
# Debian 12 machine (run as root). Idempotent: safe to run again.
set -euo pipefail

APT_PACKAGES=(
  cmake g++ make ninja-build pkg-config zlib1g-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  coinor-libclp-dev                # independent LP oracle for the tests
  libssl-dev                       # sha256 in examples/mpi_planner (libcrypto)
  libopenmpi-dev openmpi-bin       # CPU communicator (distributed planning)
  clang libclang-rt-14-dev         # sanitizer and libFuzzer builds
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check \
  -r "$(dirname "$0")/../requirements-dev.txt"
# torch (large; see requirements-torch.txt). LPLB_SKIP_TORCH=1 leaves it out:
# the torch tests then skip.
if [ "${LPLB_SKIP_TORCH:-0}" != 1 ] && ! "$PY" -c 'import torch' 2>/dev/null; then
  "$PY" -m pip install -q --disable-pip-version-check \
    -r "$(dirname "$0")/../requirements-torch.txt"
fi
