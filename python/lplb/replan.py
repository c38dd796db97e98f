"""lplb.replan: online re-placement with a move budget.

Keep a replica placement fresh by rewriting a few slots often instead of
the whole layout rarely (each rewritten slot copies one expert's weights).
See include/lplb/replan.hpp and docs/PLACEMENT.md ("Online re-placement").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _arrays, _core
from ._arrays import Kind
from .placement import _host_array, _host_floats, _host_ints, _real


def replan(
    phy2log: Any,
    history: Any,
    ep_size: int,
    budget: int,
    *,
    gpus_per_node: int = 8,
    num_experts: int | None = None,
    half_life: float = 10.0,
    hedge_deviations: float = 1.0,
    hedge_weight: float = 0.5,
    recent_steps: int = 8,
    recent_weight: float = 0.5,
) -> dict[str, Any]:
    """A placement that differs from ``phy2log`` in at most ``budget`` slots,
    chosen to minimise the expected largest rank load under the exact
    per-batch placement LP over the recent load, and the copies to make.

    :param phy2log: integer [ep_size * n_local]: the current placement.
    :param history: [steps, E] recent per-step loads, oldest first (or [E]:
        a prediction); finite, >= 0.
    :param ep_size: ranks P.
    :param budget: most slots rewritten (0 keeps the placement).
    :param gpus_per_node: ranks per node: copy sources prefer the slot's node.
    :param num_experts: E (default: the history's last dimension).
    :returns: dict with ``phy2log`` (int32, phy2log's kind), ``moves`` (int64
        [k, 4]: slot, expert received, expert replaced, source rank),
        ``objective_before`` / ``objective_after`` (scenario-weighted LP
        optimum / mean rank load).
    :raises ValueError: on sizes or values that do not fit together.
    :raises TypeError: on wrong types or CUDA tensors.
    """
    p = _host_array(phy2log, "phy2log")
    kind = Kind.of(p)
    flat = _host_ints(p, "phy2log")
    h = _host_array(history, "history")
    _arrays.check_numeric_dtype(h, "history")
    hn = _arrays.to_numpy(h)
    if hn.ndim not in (1, 2) or hn.size == 0:
        raise ValueError(f"history: expected a non-empty [steps, E] or [E] array, got shape {hn.shape}")
    E = _arrays.py_int(num_experts if num_experts is not None else hn.shape[-1], "num_experts", 1)
    steps = 1 if hn.ndim == 1 else int(hn.shape[0])
    out, moves, before, after = _core.replan(
        flat,
        _host_floats(hn.reshape(-1), "history"),
        steps,
        E,
        _arrays.py_int(ep_size, "ep_size", 1),
        _arrays.py_int(gpus_per_node, "gpus_per_node", 1),
        _arrays.py_int(budget, "budget", 0),
        _real(half_life, "half_life", -np.inf),
        _real(hedge_deviations, "hedge_deviations"),
        _real(hedge_weight, "hedge_weight"),
        _arrays.py_int(recent_steps, "recent_steps", 0),
        _real(recent_weight, "recent_weight"),
    )
    return {
        "phy2log": kind.from_host(out),
        "moves": np.asarray(moves, dtype=np.int64).reshape(-1, 4),
        "objective_before": before,
        "objective_after": after,
    }
