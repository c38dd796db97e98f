"""Bad input raises a clear Python exception naming the argument; never a crash.

ValueError for bad values, sizes and shapes (lplb::InvalidArgument in the
core becomes ValueError); TypeError for the wrong kind of object or dtype.
"""

from __future__ import annotations

import numpy as np
import pytest

import lplb
from lplb_testing import CUBE


@pytest.fixture
def planner() -> lplb.Planner:
    return lplb.Planner(CUBE, 320, 256, 32)


@pytest.mark.parametrize(
    ("r2o", "exc", "match"),
    [
        (CUBE[:, 0], ValueError, r"redundant_to_original: expected a 2-D"),
        (CUBE.astype(np.float32), TypeError, r"redundant_to_original: expected integer"),
        (np.array([[0, 1], [1, 0]]), ValueError, r"fixed point"),
        (np.array([[1], [1]]), ValueError, r"fixed point|not a permutation"),
        (np.array([[1], [0], [0]]), ValueError, r"not a permutation"),
        (np.array([[1], [9]]), ValueError, r"redundant_to_original: entries must lie in \[0, group_size"),
        (np.array([[1], [-1]]), ValueError, r"redundant_to_original"),
        (np.zeros((1, 1), np.int64), ValueError, r"redundant_to_original"),
        (np.zeros((0, 2), np.int64), ValueError, r"redundant_to_original"),
        ([[1, 2], [0]], ValueError, r"redundant_to_original"),
        ("cube", TypeError, r"redundant_to_original"),
    ],
)
def test_bad_topology(r2o, exc, match):
    with pytest.raises(exc, match=match):
        lplb.Planner(r2o, 320, 256, 32)


@pytest.mark.parametrize(
    ("args", "kw", "exc", "match"),
    [
        ((320, 256, None), {}, ValueError, r"ep_size: must be given when group is None"),
        ((320, 256, 0), {}, ValueError, r"ep_size: must be >= 1"),
        ((320, 256, 12), {}, ValueError, r"n_routed_experts|num_experts|ep_size"),
        ((256, 256, 32), {}, ValueError, r"n_routed_experts: .* not a positive multiple"),
        ((300, 256, 32), {}, ValueError, r"n_routed_experts: .* not a positive multiple"),
        ((320, 250, 32), {}, ValueError, r"n_routed_experts|num_experts"),
        ((256 + 32, 256, 32), {}, ValueError, r"redundant_per_rank"),  # R = 1, D = 2
        ((256 + 32 * 16, 256, 32), {}, ValueError, r"redundant_per_rank"),  # R > E / P
        ((320, 256, 36), {}, ValueError, r"ep_size|n_routed_experts"),  # P % S != 0
        ((320.0, 256, 32), {}, TypeError, r"n_routed_experts: expected an integer"),
        ((320, "256", 32), {}, TypeError, r"n_logical_routed_experts: expected an integer"),
        ((320, 256, True), {}, TypeError, r"ep_size: expected an integer, got bool"),
        ((320, 256, 32), {"solver": "simplex"}, ValueError, r"solver"),
        ((320, 256, 32), {"solver": 1}, TypeError, r"solver"),
        ((320, 256, 32), {"gpus_per_node": 0}, ValueError, r"gpus_per_node: must be >= 1"),
    ],
)
def test_bad_sizes(args, kw, exc, match):
    with pytest.raises(exc, match=match):
        lplb.Planner(CUBE, *args, **kw)


@pytest.mark.parametrize(
    ("idx", "exc", "match"),
    [
        (np.array([0, 256]), ValueError, r"idx: entry 1 = 256 is outside \[-1, 256\)"),
        (np.array([[0, -2]], np.int32), ValueError, r"idx: entry 1 = -2 is outside"),
        (np.array([2**40]), ValueError, r"idx: entry 0 = 1099511627776 is outside"),
        (np.array([np.iinfo(np.int32).min], np.int32), ValueError, r"idx: entry 0"),
        (np.array([1.0, 2.0]), TypeError, r"idx: expected int32 or int64 expert ids, got dtype float64"),
        (np.array([1, 2], np.int16), TypeError, r"idx: expected int32 or int64.*int16"),
        (np.array([True]), TypeError, r"idx: expected int32 or int64.*bool"),
        ([0, 1, 2], TypeError, r"idx: expected a numpy array or torch tensor, got list"),
        (None, TypeError, r"idx: expected a numpy array or torch tensor, got NoneType"),
    ],
)
def test_bad_ids(planner, idx, exc, match):
    with pytest.raises(exc, match=match):
        planner.count_workload(idx, 4)
    with pytest.raises(exc, match=match):
        planner.weighted_select_target(idx, np.full((4, 8, 2), 0.5, np.float32))
    with pytest.raises(exc, match=match):
        planner.run(idx, np.zeros((), np.int32))


@pytest.mark.parametrize(
    ("n_sms", "exc", "match"),
    [(0, ValueError, r"n_sms: must be >= 1"), (-3, ValueError, r"n_sms"), (2.5, TypeError, r"n_sms: expected an integer")],
)
def test_bad_n_sms(planner, n_sms, exc, match):
    with pytest.raises(exc, match=match):
        planner.count_workload(np.array([0, 1]), n_sms)


def bad_workloads():
    w = np.full(256, 10.0)
    neg = w.copy()
    neg[7] = -1
    nan = w.copy()
    nan[3] = np.nan
    inf = w.copy()
    inf[0] = np.inf
    huge = np.full(256, 2**50, np.int64)
    return [
        (w[:255], ValueError, r"workload: expected 256 entries"),
        (np.full(257, 1), ValueError, r"workload: expected 256 entries"),
        (neg, ValueError, r"workload: entry 7 is negative"),
        (nan, ValueError, r"workload: entry 3 is not finite"),
        (inf, ValueError, r"workload: entry 0 is not finite"),
        (huge, ValueError, r"workload: total exceeds 2\^53"),
        (np.ones(256, bool), TypeError, r"workload: expected an integer or floating-point array, got dtype bool"),
        (np.ones(256, complex), TypeError, r"workload: expected an integer or floating-point array"),
        ("x" * 256, TypeError, r"workload: expected a numpy array or torch tensor"),
    ]


@pytest.mark.parametrize(("workload", "exc", "match"), bad_workloads())
def test_bad_workload(planner, workload, exc, match):
    counter = np.zeros((), np.int32)
    with pytest.raises(exc, match=match):
        planner.solve_probs(workload, counter)
    assert counter == 0  # nothing counted on failure
    with pytest.raises(exc, match=match):
        planner.solve(workload)


@pytest.mark.parametrize(("history", "exc", "match"), bad_workloads())
def test_bad_history(planner, history, exc, match):
    before = planner.phy2log.copy()
    with pytest.raises(exc, match=match):
        planner.update_redundancy_mapping(history)
    np.testing.assert_array_equal(planner.phy2log, before)  # the placement is unchanged


def test_history_must_be_1d(planner):
    with pytest.raises(ValueError, match=r"workload: expected a 1-D history \[256\], got shape \(16, 16\)"):
        planner.update_redundancy_mapping(np.ones((16, 16)))


def test_history_with_nodes_that_do_not_divide_the_groups_uses_the_global_policy():
    # 20 ranks in 4 groups over 20 // 6 = 3 nodes: like the reference, EPLB
    # falls back to its global policy (one group, one node).
    r2o = np.array([[1], [2], [3], [4], [0]])
    history = np.arange(100, dtype=np.float64) * 7 % 101 + 1
    p = lplb.Planner(r2o, 25 * 4 + 20, 25 * 4, 20, gpus_per_node=6)
    q = lplb.Planner(r2o, 25 * 4 + 20, 25 * 4, 20, gpus_per_node=20)
    np.testing.assert_array_equal(p.update_redundancy_mapping(history)[0],
                                  q.update_redundancy_mapping(history)[0])


@pytest.mark.parametrize(
    ("counter", "exc", "match"),
    [
        (0, TypeError, r"avail_counter: expected a one-element array or tensor"),
        ([0], TypeError, r"avail_counter: expected a one-element array"),
        (np.zeros(2, np.int32), ValueError, r"avail_counter: expected 1 entries"),
        (np.zeros((), bool), TypeError, r"avail_counter: .*bool"),
    ],
)
def test_bad_avail_counter(planner, counter, exc, match):
    with pytest.raises(exc, match=match):
        planner.solve_probs(np.ones(256), counter)
    with pytest.raises(exc, match=match):
        planner.run(np.array([0, 1]), counter)


def test_read_only_avail_counter(planner):
    counter = np.zeros((), np.int32)
    counter.flags.writeable = False
    with pytest.raises(ValueError, match=r"avail_counter: the array is read-only"):
        planner.solve_probs(np.ones(256), counter)


@pytest.mark.parametrize(
    ("o_weight", "exc", "match"),
    [
        (np.full((4, 8), 0.5), ValueError, r"o_weight: expected 64 entries"),
        (np.full((4, 8, 2), 1), TypeError, r"o_weight: expected a floating-point array, got dtype int64"),
        (np.full((4, 8, 2), np.nan, np.float32), ValueError, r"o_weight: entry 0 is NaN"),
        (None, TypeError, r"o_weight"),
    ],
)
def test_bad_o_weight(planner, o_weight, exc, match):
    with pytest.raises(exc, match=match):
        planner.weighted_select_target(np.array([0, 1, 2]), o_weight)


def test_bad_local_workload_by_sm(planner):
    ids = np.array([0, 1, 2])
    probs = np.full((4, 8, 2), 0.5, np.float32)
    with pytest.raises(ValueError, match=r"local_workload_by_sm: expected shape \[n_sms, 256\], got \(4, 255\)"):
        planner.weighted_select_target(ids, probs, np.zeros((4, 255), np.int32))
    with pytest.raises(ValueError, match=r"local_workload_by_sm"):
        planner.weighted_select_target(ids, probs, np.zeros((4, 256), np.int32), 5)
    with pytest.raises(ValueError, match=r"local_workload_by_sm"):
        planner.weighted_select_target(ids, probs, np.zeros(256, np.int32))


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        ((np.ones(12), 16, 4, 2, 8), ValueError, r"weight: expected a 2-D"),
        ((np.ones((1, 12)), 15, 4, 2, 8), ValueError, r"num_replicas|num_gpus"),
        ((np.ones((1, 12)), 8, 4, 2, 8), ValueError, r"num_replicas"),
        ((-np.ones((1, 12)), 16, 4, 2, 8), ValueError, r"weight: entry \[0\]\[0\] = -1"),
        ((np.full((1, 12), np.nan), 16, 4, 2, 8), ValueError, r"weight: entry \[0\]\[0\] = nan"),
        ((np.ones((1, 12), bool), 16, 4, 2, 8), TypeError, r"weight: expected an integer or floating-point"),
        ((np.ones((1, 12)), 16.0, 4, 2, 8), TypeError, r"num_replicas: expected an integer"),
        ((object(), 16, 4, 2, 8), TypeError, r"weight: expected a numpy array or torch tensor"),
    ],
)
def test_bad_eplb(args, exc, match):
    with pytest.raises(exc, match=match):
        lplb.rebalance_experts(*args)


@pytest.mark.parametrize("args", [(16, 5, 2, 8), (16, 4, 3, 8)])
def test_eplb_falls_back_to_the_global_policy(args):
    # As deepseek-ai/EPLB: when num_groups % num_nodes != 0 the global policy
    # (one group, one node) runs, whatever num_groups and num_nodes are.
    w = np.random.default_rng(0).random((2, 12))
    got = lplb.rebalance_experts(w, *args)
    want = lplb.rebalance_experts(w, 16, 1, 1, 8)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_bad_topology_name():
    with pytest.raises(ValueError):
        lplb.topology("torus:0x3")
    with pytest.raises(ValueError):
        lplb.topology("/nonexistent/topology.json")
