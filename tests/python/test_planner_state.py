"""lplb.Planner's mapping attributes, state dicts, pickling and copies.

The silent-misroute guard: restoring a saved mapping (attribute assignment,
set_mapping, load_state_dict, unpickling, copies) must change how run()
routes, exactly as the planner that built the mapping routes.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import lplb
from lplb_testing import CUBE, Config, draw_ids

CFG = Config(CUBE, 256, 32, 2)


def make(kind=None, **kw) -> lplb.Planner:
    r2o = CUBE.astype(np.int32) if kind is None else kind.make(CUBE.astype(np.int32))
    return lplb.Planner(r2o, CFG.n_routed, CFG.experts, CFG.ep_size, **kw)


def trained(seed: int, **kw) -> lplb.Planner:
    """A planner whose mapping came from a random history (not the identity)."""
    p = make(**kw)
    rng = np.random.default_rng(seed)
    p.update_redundancy_mapping(rng.integers(0, 1 << 20, CFG.experts))
    return p


def routes(p: lplb.Planner, seed: int = 3) -> np.ndarray:
    ids = draw_ids(np.random.default_rng(seed), CFG.experts, 5000).astype(np.int64)
    return np.asarray(p.run(ids))


def host(a) -> np.ndarray:
    """A mapping attribute on the host (numpy, or a torch tensor on any device)."""
    return a.cpu().numpy() if hasattr(a, "cpu") else np.asarray(a)


def same_mapping(a: lplb.Planner, b: lplb.Planner) -> bool:
    return all(np.array_equal(host(x), host(y)) for x, y in zip(
        (a.phy2log, a.log2phy, a.logcnt), (b.phy2log, b.log2phy, b.logcnt)))


def test_assigning_phy2log_takes_effect(kind):
    saved = trained(1)
    p = make(kind)
    assert not np.array_equal(routes(p), routes(saved))
    p.phy2log = kind.make(np.asarray(saved.phy2log))
    assert same_mapping(p, saved)
    np.testing.assert_array_equal(routes(p), routes(saved))


def test_derived_attributes_accept_only_their_implied_value():
    saved = trained(2)
    p = make()
    # A checkpoint loader that assigns all three, phy2log first, works.
    p.phy2log = saved.phy2log.copy()
    p.log2phy = saved.log2phy.copy()
    p.logcnt = saved.logcnt.copy()
    assert same_mapping(p, saved)
    with pytest.raises(ValueError, match="log2phy: is derived from phy2log.*set_mapping"):
        p.log2phy = make().log2phy
    with pytest.raises(ValueError, match="logcnt: is derived from phy2log"):
        p.logcnt = np.ones(7, np.int32)


def test_in_place_edits_raise_instead_of_being_ignored():
    p = make()
    with pytest.raises(ValueError, match="read-only"):
        p.phy2log[0] = 5


@pytest.mark.parametrize("name", ["r2o", "ep_size", "n_routed_experts", "n_local_routed_experts"])
def test_sizes_are_read_only(name):
    p = make()
    with pytest.raises(AttributeError, match=f"{name} is fixed at construction"):
        setattr(p, name, getattr(p, name))


def test_set_mapping_validates_and_keeps_the_old_mapping():
    p = trained(4)
    before = p.phy2log.copy()
    bad = before.copy()
    bad[0] = bad[1]
    with pytest.raises(ValueError, match="phy2log: expert .* has two original slots"):
        p.set_mapping(bad)
    with pytest.raises(ValueError, match="phy2log: expected 320 entries"):
        p.set_mapping(before[:-1])
    swapped = before.copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # originals swapped: the copies no longer follow
    with pytest.raises(ValueError, match="redundant_to_original"):
        p.set_mapping(swapped)
    with pytest.raises(TypeError, match="integer"):
        p.set_mapping(before.astype(np.float32))
    np.testing.assert_array_equal(p.phy2log, before)
    # 2-D [P, n_local] is accepted too.
    out = p.set_mapping(before.reshape(CFG.ep_size, -1))
    np.testing.assert_array_equal(out[0], before)


def test_state_dict_round_trip():
    saved = trained(5, objective="time", min_moves=True, move_tolerance=0.01, gpus_per_node=4)
    state = saved.state_dict()
    assert all(isinstance(v, (np.ndarray, int, float, bool, str, dict)) for v in state.values())
    fresh = lplb.Planner.from_state_dict(state)
    assert same_mapping(fresh, saved) and fresh.objective == "time" and fresh.min_moves
    np.testing.assert_array_equal(routes(fresh), routes(saved))
    other = make(objective="time", min_moves=True, move_tolerance=0.01, gpus_per_node=4)
    other.load_state_dict(state)
    np.testing.assert_array_equal(routes(other), routes(saved))


def test_load_state_dict_refuses_what_does_not_fit():
    state = trained(6).state_dict()
    p = make()
    before = p.phy2log.copy()
    with pytest.raises(ValueError, match="'objective' is 'tokens'|'gpus_per_node'"):
        make(objective="time").load_state_dict(state)
    with pytest.raises(ValueError, match="missing key"):
        p.load_state_dict({k: v for k, v in state.items() if k != "phy2log"})
    with pytest.raises(ValueError, match="'format'"):
        p.load_state_dict({**state, "format": "x"})
    with pytest.raises(TypeError, match="expected a dict"):
        p.load_state_dict([1, 2])
    bad = dict(state, phy2log=state["phy2log"][::-1].copy())
    with pytest.raises(ValueError, match=r"state_dict\['phy2log'\]"):
        p.load_state_dict(bad)
    np.testing.assert_array_equal(p.phy2log, before)


def test_pickle_round_trip():
    saved = trained(7)
    back = pickle.loads(pickle.dumps(saved))
    assert same_mapping(back, saved)
    np.testing.assert_array_equal(routes(back), routes(saved))


class Module:
    """Stands in for a torch.nn.Module holding a planner."""

    def __init__(self) -> None:
        self.planner = trained(8)
        self.weights = np.zeros(3)


@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy])
def test_copies_do_not_share_the_core(copier):
    p = trained(9)
    q = copier(p)
    assert same_mapping(p, q)
    q.update_redundancy_mapping()  # back to the identity in the copy only
    assert not np.array_equal(p.phy2log, q.phy2log)
    np.testing.assert_array_equal(routes(p), routes(trained(9)))


def test_deepcopy_of_a_holder():
    m = Module()
    m2 = copy.deepcopy(m)
    assert m2.planner is not m.planner and same_mapping(m2.planner, m.planner)
    np.testing.assert_array_equal(routes(m2.planner), routes(m.planner))


def test_torch_attributes_follow_the_home_kind(kind):
    p = make(kind)
    q = copy.deepcopy(p)
    kind.assert_kind(q.phy2log, "int32")
    kind.assert_kind(q.r2o, "int32")


class MirrorRecorder:
    """Stands in for the CUDA path: records the mapping it is given."""

    got = None

    def set_mapping(self, phy2log_host) -> None:
        self.got = np.array(phy2log_host)


def test_the_device_mirror_follows_every_restore():
    saved = trained(10)
    p = make()
    p._gpu = mirror = MirrorRecorder()
    p.phy2log = saved.phy2log
    np.testing.assert_array_equal(mirror.got, saved.phy2log)
    p.update_redundancy_mapping()
    np.testing.assert_array_equal(mirror.got, make().phy2log)
    p.load_state_dict(saved.state_dict())
    np.testing.assert_array_equal(mirror.got, saved.phy2log)


def test_placement_planner_refuses_assignment_and_copies_fully():
    phy2log = np.array([0, 1, 2, 0, 3, 4], np.int64)
    pp = lplb.PlacementPlanner(phy2log, 5, 2)
    with pytest.raises(AttributeError, match="phy2log is fixed at construction"):
        pp.phy2log = np.array([4, 3, 2, 1, 0, 0])
    with pytest.raises(ValueError, match="read-only"):
        pp.phy2log[0] = 4
    w = np.array([10.0, 4, 3, 1, 0])
    for clone in (copy.copy(pp), copy.deepcopy(pp), pickle.loads(pickle.dumps(pp))):
        assert clone.core is not pp.core
        np.testing.assert_array_equal(clone.phy2log, pp.phy2log)
        np.testing.assert_array_equal(clone.solve(w)["load_after"], pp.solve(w)["load_after"])
