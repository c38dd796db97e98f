"""The usage examples in docs/PYTHON.md run exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import HAVE_TORCH

DOC = Path(__file__).resolve().parents[2] / "docs" / "PYTHON.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_doc_has_examples():
    assert len(BLOCKS) >= 3
    assert "planner.run(indices, avail_counter, N_SMS)" in BLOCKS[0]


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index, capsys):
    code = BLOCKS[index]
    if re.search(r"^import torch", code, flags=re.M) and not HAVE_TORCH:
        pytest.skip("the example needs torch")
    namespace: dict = {"__name__": "__main__"}
    exec(compile(code, f"{DOC.name}[example {index}]", "exec"), namespace)
