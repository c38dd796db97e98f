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
