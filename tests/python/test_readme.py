"""The usage examples in docs/PYTHON.md and README.md run exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import HAVE_TORCH

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "PYTHON.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
README_BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_the_doc_has_examples():
    assert len(BLOCKS) >= 3
    assert "planner.run(indices, avail_counter, N_SMS)" in BLOCKS[0]


EXAMPLES = [("PYTHON.md", b) for b in BLOCKS] + [("README.md", b) for b in README_BLOCKS]


def test_the_readme_has_examples():
    assert len(README_BLOCKS) >= 2
    assert "planner.run(indices, avail_counter, N_SMS)" in README_BLOCKS[0]


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_example_runs(index, capsys):
    name, code = EXAMPLES[index]
    if re.search(r"^import torch", code, flags=re.M) and not HAVE_TORCH:
        pytest.skip("the example needs torch")
    namespace: dict = {"__name__": "__main__"}
    exec(compile(code, f"{name}[example {index}]", "exec"), namespace)


# ---------------------------------------------------------------- shell commands

SH_BLOCKS = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
# Blocks that install, build or run the whole test suite are not cheap.
EXPENSIVE = ("install-deps.sh", "scripts/test.sh", "cmake ", "requirements-torch.txt")
CHEAP_SH = [b for b in SH_BLOCKS if not any(x in b for x in EXPENSIVE)]


def build_dir() -> Path:
    import os

    return Path(os.environ.get("LPLB_BUILD_DIR", ROOT / "build"))


def test_the_readme_has_cheap_commands():
    assert len(CHEAP_SH) >= 2
    assert any("data/traces/" in b for b in CHEAP_SH)


@pytest.mark.parametrize("index", range(len(CHEAP_SH)))
def test_readme_commands_run_as_written(index, tmp_path):
    """Each cheap ```sh block runs from a fresh clone's root (a scratch
    directory holding the clone's data/ and scripts/ and the build)."""
    import subprocess

    cli = build_dir() / "tools" / "lplb"
    if not cli.is_file():
        pytest.skip(f"no CLI at {cli} (set LPLB_BUILD_DIR)")
    for name in ("data", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "build").symlink_to(build_dir())
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", CHEAP_SH[index]], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"README sh block {index} failed:\n{CHEAP_SH[index]}\n{r.stderr[-2000:]}"
