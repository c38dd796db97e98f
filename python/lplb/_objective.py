"""Checks lplb.Planner's objective options and builds the core's CostModel.

The planner minimises the largest rank's token count by default; with
objective='time' it minimises the largest modelled GEMM time (a CostModel),
and with min_moves=True it then moves the fewest tokens among the splits
within (1 + move_tolerance) of the optimum. See include/lplb/objective.hpp
and docs/COST_MODEL.md.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _arrays, _core

OBJECTIVES = tuple(_core.objective_names())  # ("tokens", "time")
_SCALARS = ("a_us", "b_us_per_token", "c_us_per_expert")
_PER_RANK = ("speed", "extra_us")


def _real(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    return float(value)


def _per_rank(value: Any, name: str) -> list[float]:
    a = _arrays.as_array(value, name, allow_sequence=True)
    _arrays.check_numeric_dtype(a, name)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array with one entry per rank, got shape {tuple(a.shape)}")
    return [float(v) for v in _arrays.to_numpy(a).astype(np.float64)]


def cost_model(spec: Any, ep_size: int) -> Any:
    """A validated lplb._core.CostModel from None (the default H200 fit), a
    CostModel, or a dict with any of a_us, b_us_per_token, c_us_per_expert,
    speed [P], extra_us [P]; missing keys keep their defaults."""
    if spec is None:
        model = _core.CostModel()
    elif isinstance(spec, _core.CostModel):
        model = spec
    elif isinstance(spec, Mapping):
        model = _core.CostModel()
        for key, value in spec.items():
            if key in _SCALARS:
                setattr(model, key, _real(value, f"cost_model.{key}"))
            elif key in _PER_RANK:
                setattr(model, key, _per_rank(value, f"cost_model.{key}"))
            else:
                raise ValueError(
                    f"cost_model: unknown key {key!r} (expected {', '.join(_SCALARS + _PER_RANK)})"
                )
    else:
        raise TypeError(
            f"cost_model: expected None, a dict or an lplb.CostModel, got {type(spec).__name__}"
        )
    model.validate(ep_size)  # ValueError naming cost_model / cost_model.speed / ...
    return model


def check_options(objective: Any, min_moves: Any, move_tolerance: Any) -> tuple[str, bool, float]:
    """(objective, min_moves, move_tolerance) checked, with argument-named errors."""
    if not isinstance(objective, str):
        raise TypeError(f"objective: expected 'tokens' or 'time', got {type(objective).__name__}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective: unknown objective {objective!r} (expected 'tokens' or 'time')")
    if not isinstance(min_moves, (bool, np.bool_)):
        raise TypeError(f"min_moves: expected a bool, got {type(min_moves).__name__}")
    tol = _real(move_tolerance, "move_tolerance")
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"move_tolerance: must be finite and >= 0, got {tol}")
    return objective, bool(min_moves), tol


def as_dict(model: Any) -> dict[str, Any]:
    """The fields of a core CostModel as a plain dict (lists for per-rank ones)."""
    return {key: getattr(model, key) for key in _SCALARS + _PER_RANK}
