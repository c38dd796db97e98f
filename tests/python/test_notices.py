"""Silent fallbacks and ignored options warn (warnings.warn), as the CLI
prints a note: EPLB's global-policy fallback, move_tolerance without
min_moves."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import lplb
from lplb_testing import CUBE


def test_eplb_global_fallback_warns():
    w = np.random.default_rng(0).integers(0, 100, (2, 8))
    with pytest.warns(UserWarning, match="num_groups 2 is not a multiple of num_nodes 4.*global policy"):
        lplb.rebalance_experts(w, 12, 2, 4, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lplb.rebalance_experts(w, 12, 4, 2, 4)


def test_move_tolerance_without_min_moves_warns():
    with pytest.warns(UserWarning, match="move_tolerance has no effect without min_moves"):
        lplb.Planner(CUBE, 320, 256, 32, move_tolerance=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lplb.Planner(CUBE, 320, 256, 32, min_moves=True, move_tolerance=0.1)


def test_transposed_r2o_gets_a_hint():
    with pytest.raises(ValueError, match=r"looks transposed.*\(2, 8\).*\.T"):
        lplb.Planner(CUBE.T.copy(), 320, 256, 32)
    with pytest.raises(ValueError) as err:
        lplb.Planner(np.full((8, 2), 9), 320, 256, 32)
    assert "transposed" not in str(err.value)
