#!/usr/bin/env bash
# Builds and installs the lplb Python package from this checkout, then runs
# the Python tests. Needs the packages of requirements-dev.txt (scikit-build-core,
# nanobind, numpy, scipy, highspy, pytest): the build runs without isolation,
# so it needs no network. The CUDA backend is built when nvcc is found.
# Environment: PYTHON (default python3); LPLB_CUDA=ON|OFF|AUTO (default AUTO).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
echo "== pip install ./ (lplb Python package)"
"$PY" -m pip install --no-build-isolation --disable-pip-version-check -q ./
echo "== Python tests"
"$PY" -m pytest -q tests/python "$@"
