"""lplb.rebalance_experts against deepseek-ai/EPLB's own outputs.

tests/data/eplb/*.json hold the reference's outputs (scripts/gen_eplb_golden.py
ran deepseek-ai/EPLB under torch 1.13); the result must be identical,
including log2phy's order (ties break as the reference's libstdc++ sort).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lplb

# Parity cases include the reference's global-policy fallback on purpose
# (test_notices.py checks its warning).
pytestmark = pytest.mark.filterwarnings("ignore:rebalance_experts.*global policy:UserWarning")

DATA = Path(__file__).resolve().parents[1] / "data" / "eplb"


def golden_cases():
    cases = []
    for path in sorted(DATA.glob("*.json")):
        for case in json.loads(path.read_text())["cases"]:
            cases.append(pytest.param(case, id=f"{path.stem}:{case['name']}"))
    return cases


CASES = golden_cases()


def test_golden_data_is_there():
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES)
def test_matches_reference(case):
    weight = np.array(case["weight"], dtype=np.int64)
    phy2log, log2phy, logcnt = lplb.rebalance_experts(
        weight, case["num_replicas"], case["num_groups"], case["num_nodes"], case["num_gpus"]
    )
    for got, key in ((phy2log, "phy2log"), (log2phy, "log2phy"), (logcnt, "logcnt")):
        assert isinstance(got, np.ndarray) and got.dtype == np.int64
        np.testing.assert_array_equal(got, np.array(case[key]), err_msg=key)


def test_readme_example(kind):
    """deepseek-ai/EPLB's README example, with its printed output."""
    weight = kind.make(
        np.array(
            [
                [90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86],
                [20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27],
            ]
        )
    )
    phy2log, log2phy, logcnt = lplb.rebalance_experts(weight, 16, 4, 2, 8)
    for a in (phy2log, log2phy, logcnt):
        kind.assert_kind(a, "int64")
    np.testing.assert_array_equal(
        kind.numpy(phy2log),
        [
            [5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1],
            [7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1],
        ],
    )
    assert tuple(log2phy.shape) == (2, 12, 2) and tuple(logcnt.shape) == (2, 12)


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
def test_input_dtypes_and_consistency(kind, dtype):
    rng = np.random.default_rng(7)
    weight = rng.integers(1, 50000, size=(3, 64)).astype(dtype)
    phy2log, log2phy, logcnt = (
        kind.numpy(a) for a in lplb.rebalance_experts(kind.make(weight), 96, 8, 2, 16)
    )
    assert phy2log.shape == (3, 96) and logcnt.shape == (3, 64)
    assert log2phy.shape[:2] == (3, 64) and log2phy.shape[2] == logcnt.max()
    for l in range(3):
        np.testing.assert_array_equal(np.bincount(phy2log[l], minlength=64), logcnt[l])
        for e in range(64):
            slots = log2phy[l, e, : logcnt[l, e]]
            assert np.all(phy2log[l, slots] == e)
            assert np.all(log2phy[l, e, logcnt[l, e] :] == -1)


def test_nested_list_input():
    phy2log, _, _ = lplb.rebalance_experts([[1, 2, 3, 4]], 4, 1, 1, 2)
    assert isinstance(phy2log, np.ndarray) and sorted(phy2log[0]) == [0, 1, 2, 3]


def test_spread_replicas_option():
    rng = np.random.default_rng(1)
    weight = rng.integers(1, 1000, size=(2, 16))
    weight[:, 0] = 2000  # a hot expert gets several replicas
    phy2log, _, logcnt = lplb.rebalance_experts(weight, 32, 1, 1, 8, spread_replicas=True)
    assert logcnt[:, 0].min() >= 3 and logcnt.max() <= 8  # so they can be spread
    for l in range(2):
        per_gpu = phy2log[l].reshape(8, 4)
        for g in range(8):
            assert len(set(per_gpu[g])) == 4  # no GPU holds two replicas of one expert
