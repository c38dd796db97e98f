"""The balancers the example compares, built from a workload history the
way `lplb simulate` builds them (same calls, same defaults), so measured and
modelled figures see the same placements:

- none:       expert e on rank e // (E / P), no copies.
- eplb:       rebalance_experts(history, E + R * P, 1 group, 1 node, P),
              each expert's tokens split evenly over its copies.
- lplb:       lplb.Planner (cube topology, R copies per rank), placement
              from update_redundancy_mapping(history), per-batch LP.
- eplb_lp:    EPLB's placement + the exact per-batch LP (PlacementPlanner).
- hybrid_lp:  design_placement(predicted, P, E / P + R, deviation) + the LP;
              predicted = the last <= 100 batches' mean weighted by a
              half-life of 3 batches, deviation = their standard deviation.

history = the sum of the previous `window` steps' counts.
"""

from __future__ import annotations

import numpy as np

import lplb
from lplb.integrations.torch import (
    Balancer,
    LplbBalancer,
    NoBalancer,
    PlacementBalancer,
    StaticBalancer,
)

METHODS = ("none", "eplb", "lplb", "eplb_lp", "hybrid_lp")
SIM_NAME = {"none": "none", "eplb": "eplb", "lplb": "lplb_exact", "eplb_lp": "eplb_lp", "hybrid_lp": "hybrid_lp"}

HYBRID_KEEP = 100  # batches the hybrid design remembers (as the simulator)
HYBRID_HALF_LIFE = 3.0


def _eplb_phy2log(history: np.ndarray, experts: int, ep: int, redundant: int) -> np.ndarray:
    phy2log, _, _ = lplb.rebalance_experts(history[None].astype(np.float64), experts + redundant * ep, 1, 1, ep)
    return np.asarray(phy2log[0])


def build(
    method: str, recent: list[np.ndarray], experts: int, ep: int, redundant: int, topology: str = "cube"
) -> Balancer:
    """The balancer of method, planned from recent per-step counts (oldest
    first; the history is their sum)."""
    history = np.sum(recent, axis=0) if recent else np.zeros(experts)
    if method == "none":
        return NoBalancer(experts, ep)
    if method == "eplb":
        return StaticBalancer(_eplb_phy2log(history, experts, ep, redundant), experts, ep, name="eplb")
    if method == "lplb":
        planner = lplb.Planner(lplb.topology(topology), experts + redundant * ep, experts, ep)
        b = LplbBalancer(planner)
        if recent:
            b.refresh(history)
        return b
    if method == "eplb_lp":
        return PlacementBalancer(_eplb_phy2log(history, experts, ep, redundant), experts, ep, name="eplb_lp")
    if method == "hybrid_lp":
        kept = np.asarray(recent[-HYBRID_KEEP:] if recent else [np.ones(experts)], dtype=np.float64)
        decay = 0.5 ** (np.arange(len(kept))[::-1] / HYBRID_HALF_LIFE)
        predicted = decay @ kept / decay.sum()
        phy2log = lplb.design_placement(predicted, ep, experts // ep + redundant, deviation=kept.std(axis=0))
        return PlacementBalancer(phy2log, experts, ep, name="hybrid_lp")
    raise ValueError(f"--methods: unknown method {method!r} (known: {', '.join(METHODS)})")
