"""lplb.replan and PlacementPlanner(absent=...): the budget, the copy list,
bad input, and absent slots never serving."""

import numpy as np
import pytest

import lplb


def _setup(seed=0, E=64, P=8, slots=80, steps=20):
    rng = np.random.default_rng(seed)
    pop = rng.zipf(1.5, E).astype(np.float64)
    placed = lplb.design_placement(rng.permutation(pop), P, slots // P)
    history = rng.poisson(np.tile(pop * 50, (steps, 1))).astype(np.float64)
    return np.asarray(placed, dtype=np.int64), history


@pytest.mark.parametrize("budget", [0, 1, 4, 16])
def test_budget_and_moves(budget):
    placed, history = _setup()
    r = lplb.replan(placed, history, 8, budget, gpus_per_node=4)
    new = np.asarray(r["phy2log"])
    changed = np.flatnonzero(new != placed)
    assert len(changed) <= budget
    assert r["moves"].shape == (len(changed), 4)
    assert sorted(r["moves"][:, 0]) == sorted(changed)
    assert set(new) == set(range(64))
    assert r["objective_after"] <= r["objective_before"]
    again = lplb.replan(placed, history, 8, budget, gpus_per_node=4)
    assert np.array_equal(again["phy2log"], r["phy2log"])


def test_bad_input():
    placed, history = _setup()
    with pytest.raises(ValueError, match="budget"):
        lplb.replan(placed, history, 8, -1)
    with pytest.raises(ValueError, match="history"):
        lplb.replan(placed, -history, 8, 1)
    with pytest.raises(ValueError, match="phy2log"):
        lplb.replan(placed[:-1], history, 8, 1)
    with pytest.raises(TypeError):
        lplb.replan(placed.astype(np.float64), history, 8, 1)


def test_absent_slots_never_serve():
    placed, history = _setup()
    absent = np.zeros(len(placed), dtype=bool)
    seen = set()
    for s, e in enumerate(placed):
        if e in seen:
            absent[s] = True  # every expert keeps its first slot
        seen.add(e)
    planner = lplb.PlacementPlanner(placed, 64, 8, absent=absent)
    ids = np.random.default_rng(1).integers(0, 64, 4096)
    out, plan = planner.run(ids, return_plan=True)
    assert not absent[out].any()
    assert np.all(plan["shares"][absent] == 0)
    with pytest.raises(ValueError, match="absent"):
        lplb.PlacementPlanner(placed, 64, 8, absent=np.ones(len(placed), dtype=bool))
