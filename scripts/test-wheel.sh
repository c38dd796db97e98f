#!/usr/bin/env bash
# Builds a wheel of this checkout and installs it into a fresh virtual
# environment, then checks what a user gets: `import lplb` works and the
# `lplb` console script runs the packaged command-line tool.
# The venv sees the system site-packages (numpy) so that no network is
# needed; lplb itself comes only from the wheel. The build runs without
# isolation, like scripts/test-python.sh (needs scikit-build-core, nanobind
# and nlohmann-json: the system package or `pip install nlohmann_json`).
# Environment: PYTHON (default python3); LPLB_CUDA=ON|OFF|AUTO (default AUTO).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== pip wheel ./"
"$PY" -m pip wheel --no-build-isolation --no-deps --disable-pip-version-check -q -w "$work/dist" ./
echo "== fresh venv + pip install the wheel"
"$PY" -m venv --system-site-packages "$work/venv"
# --ignore-installed: an lplb in the system site-packages would otherwise
# count as already installed and the venv would import that one.
"$work/venv/bin/python" -m pip install --no-deps --ignore-installed --disable-pip-version-check -q "$work"/dist/lplb-*.whl
cd "$work"  # not the checkout: import the installed package
"$work/venv/bin/python" -c "
import lplb, numpy as np
assert lplb.__file__.startswith('$work/venv'), lplb.__file__
p = lplb.Planner(lplb.topology('cube'), 320, 256, 32)
out = p.run(np.arange(256, dtype=np.int64))
assert out.shape == (256,)
print('import lplb', lplb.__version__, 'ok')"
echo "== lplb --version (console script)"
"$work/venv/bin/lplb" --version
