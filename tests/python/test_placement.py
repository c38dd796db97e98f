"""lplb.PlacementPlanner and lplb.design_placement: the placement LP's optimum
against HiGHS (scipy.optimize.linprog), the shares and the token mapping
against numpy oracles, array kinds, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

import lplb
from conftest import HAVE_TORCH, requires_cuda, requires_torch
from lplb_testing import CUBE, Config, draw_ids

if HAVE_TORCH:
    import torch

# -- oracles -------------------------------------------------------------------


def random_placement(rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """(phy2log [P * n_local], E, P): every expert at least once, the other
    slots random experts (several copies per expert, duplicates on one rank)."""
    P = int(rng.integers(1, 11))
    n_local = int(rng.integers(1, 7))
    slots = P * n_local
    E = int(rng.integers(1, slots + 1))
    phy2log = np.concatenate([np.arange(E), rng.integers(0, E, slots - E)])
    if rng.random() < 0.3:  # a few very popular experts hold most extra slots
        hot = rng.integers(0, E, max(1, E // 4))
        phy2log[E:] = rng.choice(hot, slots - E)
    return rng.permutation(phy2log), E, P


def random_workload(rng: np.random.Generator, E: int) -> np.ndarray:
    skew = rng.choice([0.0, 0.5, 1.5, 3.0])
    w = rng.integers(0, 4096, E) / np.arange(1, E + 1) ** skew
    w = np.floor(rng.permutation(w)).astype(np.int64)
    w[rng.random(E) < 0.2] = 0  # some experts without tokens
    if rng.random() < 0.05:
        w[:] = 0
    return w


def highs_optimum(phy2log: np.ndarray, E: int, P: int, w: np.ndarray) -> float:
    """min L s.t. x[s] >= 0 tokens per slot, sum over e's slots = w[e], every
    rank's sum <= L (an independent formulation of the placement LP)."""
    n = phy2log.size
    rank = np.arange(n) // (n // P)
    c = np.zeros(n + 1)
    c[-1] = 1.0
    a_eq = np.zeros((E, n + 1))
    a_eq[phy2log, np.arange(n)] = 1.0
    a_ub = np.zeros((P, n + 1))
    a_ub[rank, np.arange(n)] = 1.0
    a_ub[:, -1] = -1.0
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(P), A_eq=a_eq, b_eq=w.astype(np.float64),
                  bounds=[(0, None)] * (n + 1), method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


def loads_from_shares(phy2log: np.ndarray, P: int, w: np.ndarray, shares: np.ndarray) -> np.ndarray:
    rank = np.arange(phy2log.size) // (phy2log.size // P)
    return np.bincount(rank, weights=w[phy2log] * shares, minlength=P)


def even_shares(phy2log: np.ndarray, E: int) -> np.ndarray:
    return 1.0 / np.bincount(phy2log, minlength=E)[phy2log]


# -- the LP ----------------------------------------------------------------------


def test_optimum_matches_highs_on_random_placements():
    rng = np.random.default_rng(1234)
    for _ in range(300):
        phy2log, E, P = random_placement(rng)
        w = random_workload(rng, E)
        planner = lplb.PlacementPlanner(phy2log, E, P)
        plan = planner.solve(w)
        want = highs_optimum(phy2log, E, P, w)
        scale = max(1.0, want)
        assert abs(plan["optimum"] - want) <= 1e-6 * scale, (phy2log, w, plan["optimum"], want)
        assert abs(plan["load_after"].max() - want) <= 1e-6 * scale
        # Never worse than the static even split, and never below the mean.
        assert plan["load_after"].max() <= plan["load_before"].max() + 1e-9 * scale
        assert plan["load_after"].max() >= w.sum() / P - 1e-9 * scale


def test_shares_and_loads():
    rng = np.random.default_rng(7)
    for _ in range(100):
        phy2log, E, P = random_placement(rng)
        w = random_workload(rng, E)
        planner = lplb.PlacementPlanner(phy2log, E, P)
        plan = planner.solve(w)
        shares = plan["shares"]
        assert shares.dtype == np.float64 and shares.shape == (phy2log.size,)
        assert (shares >= 0).all()
        np.testing.assert_allclose(np.bincount(phy2log, weights=shares, minlength=E), 1.0, atol=1e-12)
        # Replicas on a single rank share evenly; so does everything when no
        # expert has tokens. (An expert without tokens that moves with others
        # over the same ranks takes their split; its share moves no token.)
        rank = np.arange(phy2log.size) // (phy2log.size // P)
        one_rank = np.array([len(set(rank[phy2log == e])) == 1 for e in range(E)])[phy2log]
        even = even_shares(phy2log, E)
        np.testing.assert_allclose(shares[one_rank], even[one_rank])
        if w.sum() == 0:
            np.testing.assert_allclose(shares, even)
        scale = max(1.0, w.sum())
        np.testing.assert_allclose(plan["load_after"], loads_from_shares(phy2log, P, w, shares),
                                   atol=1e-9 * scale)
        np.testing.assert_allclose(plan["load_before"],
                                   loads_from_shares(phy2log, P, w, even_shares(phy2log, E)),
                                   atol=1e-9 * scale)
        np.testing.assert_allclose(planner.rank_loads(w), plan["load_before"])
        np.testing.assert_allclose(planner.rank_loads(w, shares), plan["load_after"], atol=1e-9 * scale)
        assert plan["imbalance_after"] == pytest.approx(lplb.imbalance(plan["load_after"]))
        assert plan["imbalance_before"] == pytest.approx(lplb.imbalance(plan["load_before"]))
        assert plan["rounds"] >= 0 and plan["solve_us"] >= 0
        # Deterministic: the same workload gives bit-identical shares.
        np.testing.assert_array_equal(planner.solve(w.astype(np.float64))["shares"], shares)


def test_lplb_layout_gives_lplb_exact_optimum():
    # With one expert per block (C = 1), the placement LP over LPLB's own
    # layout is LPLB's exact LP.
    rng = np.random.default_rng(3)
    lp = lplb.Planner(CUBE, 256 + 2 * 32, 256, 32)
    lp.update_redundancy_mapping(rng.integers(0, 2**20, 256))
    placement = lplb.PlacementPlanner(lp.phy2log, 256, 32)
    assert placement.max_count == 2
    for _ in range(10):
        w = rng.integers(0, 4096, 256)
        assert placement.solve(w)["optimum"] == pytest.approx(lp.solve(w).load_after.max(), rel=1e-9)


def test_eplb_placement():
    rng = np.random.default_rng(5)
    weight = rng.integers(0, 1000, (1, 64))
    phy2log, log2phy, logcnt = lplb.rebalance_experts(weight, 80, 4, 2, 8)
    planner = lplb.PlacementPlanner(phy2log[0], 64, 8)
    np.testing.assert_array_equal(planner.logcnt, logcnt[0])
    np.testing.assert_array_equal(planner.phy2log, phy2log[0])
    for e in range(64):  # the same replicas, ascending
        np.testing.assert_array_equal(np.sort(log2phy[0, e, : logcnt[0, e]]),
                                      planner.log2phy[e, : logcnt[0, e]])
    w = rng.integers(0, 1000, 64)
    plan = planner.solve(w)
    assert plan["optimum"] == pytest.approx(highs_optimum(phy2log[0], 64, 8, w), rel=1e-9)


def test_mapping_attributes():
    phy2log = np.array([[0, 1, 2, 0], [3, 0, 1, 1]])  # expert 1 twice on rank 1
    p = lplb.PlacementPlanner(phy2log, 4, 2)
    assert (p.num_experts, p.ep_size, p.n_local, p.num_physical, p.max_count) == (4, 2, 4, 8, 3)
    np.testing.assert_array_equal(p.phy2log, phy2log.reshape(-1))
    np.testing.assert_array_equal(p.logcnt, [3, 3, 1, 1])
    np.testing.assert_array_equal(p.log2phy, [[0, 3, 5], [1, 6, 7], [2, -1, -1], [4, -1, -1]])
    assert p.phy2log.dtype == np.int32 and p.log2phy.dtype == np.int32
    np.testing.assert_allclose(p.even_shares(), [1 / 3, 1 / 3, 1, 1 / 3, 1, 1 / 3, 1 / 3, 1 / 3])
    assert "max_count=3" in repr(p)


# -- mapping ---------------------------------------------------------------------


def test_map_properties():
    rng = np.random.default_rng(11)
    for trial in range(60):
        phy2log, E, P = random_placement(rng)
        planner = lplb.PlacementPlanner(phy2log, E, P)
        dtype = np.int32 if trial % 2 else np.int64
        ids = draw_ids(rng, E, (int(rng.integers(0, 300)), int(rng.integers(1, 4))),
                       skew=float(rng.choice([0.0, 1.0, 2.0]))).astype(dtype)
        counts = planner.count(ids)
        np.testing.assert_array_equal(counts, np.bincount(ids[ids >= 0], minlength=E))
        assert counts.dtype == np.int64
        shares = planner.solve(counts)["shares"]
        out = planner.map(ids, shares)
        assert out.shape == ids.shape and out.dtype == ids.dtype
        np.testing.assert_array_equal(out[ids < 0], -1)
        valid = ids >= 0
        assert ((out[valid] >= 0) & (out[valid] < phy2log.size)).all()
        np.testing.assert_array_equal(phy2log[out[valid]], ids[valid])  # same expert
        per_slot = np.bincount(out[valid], minlength=phy2log.size)
        np.testing.assert_array_equal(per_slot, planner.slot_counts(counts, shares))
        quota = shares * counts[phy2log]
        assert (np.abs(per_slot - quota) < 1 + 1e-9).all()  # within one token of share * T
        np.testing.assert_array_equal(planner.map(ids, shares), out)  # deterministic
        # run() is count -> solve -> map.
        np.testing.assert_array_equal(planner.run(ids), out)
        got, plan = planner.run(ids, return_plan=True)
        np.testing.assert_array_equal(got, out)
        np.testing.assert_array_equal(plan["shares"], shares)


def test_map_with_given_shares():
    p = lplb.PlacementPlanner([0, 0, 1, 0], 2, 2)  # expert 0: slots 0, 1 (rank 0) and 3 (rank 1)
    ids = np.zeros(8, np.int64)
    out = p.map(ids, np.array([0.25, 0.25, 1.0, 0.5]))
    np.testing.assert_array_equal(np.bincount(out, minlength=4), [2, 2, 0, 4])
    out = p.map(ids, np.array([0.0, 0.0, 1.0, 0.0]))  # all-zero shares: even split
    assert sorted(np.bincount(out, minlength=4)[[0, 1, 3]]) == [2, 3, 3]
    np.testing.assert_array_equal(p.map(np.full((2, 3), -1), np.ones(4)), np.full((2, 3), -1))
    assert p.map(np.zeros(0, np.int32), np.ones(4)).shape == (0,)


# -- array kinds -------------------------------------------------------------------

HOST_KINDS = ["numpy", pytest.param("torch", marks=requires_torch)]


def make(kind: str, a):
    return torch.from_numpy(np.ascontiguousarray(a)) if kind == "torch" else np.asarray(a)


def is_kind(kind: str, x, dtype: str) -> bool:
    if kind == "torch":
        return isinstance(x, torch.Tensor) and x.device.type == "cpu" and str(x.dtype) == f"torch.{dtype}"
    return isinstance(x, np.ndarray) and x.dtype.name == dtype


@pytest.mark.parametrize("kind", HOST_KINDS)
def test_kinds(kind):
    rng = np.random.default_rng(2)
    phy2log = np.concatenate([np.arange(16), rng.integers(0, 16, 8)]).reshape(4, 6)
    p = lplb.PlacementPlanner(make(kind, phy2log), 16, 4)
    for attr in ("phy2log", "log2phy", "logcnt"):
        assert is_kind(kind, getattr(p, attr), "int32"), attr
    assert is_kind(kind, p.even_shares(), "float64")
    ids = make(kind, draw_ids(rng, 16, (64, 4)).astype(np.int32))
    counts = p.count(ids)
    assert is_kind(kind, counts, "int64")
    plan = p.solve(counts)
    for key in ("shares", "load_before", "load_after"):
        assert is_kind(kind, plan[key], "float64"), key
    out = p.map(ids, plan["shares"])
    assert is_kind(kind, out, "int32") and tuple(out.shape) == (64, 4)
    assert is_kind(kind, p.run(ids), "int32")
    assert is_kind(kind, p.slot_counts(counts, plan["shares"]), "int64")
    assert is_kind(kind, p.rank_loads(counts), "float64")
    want = lplb.PlacementPlanner(phy2log, 16, 4).run(np.asarray(ids))
    np.testing.assert_array_equal(np.asarray(p.run(ids)), want)


def test_lists_are_accepted():
    p = lplb.PlacementPlanner([[0, 1], [1, 2]], 3, 2)
    plan = p.solve([1, 5, 1])
    assert isinstance(plan["shares"], np.ndarray)
    assert plan["optimum"] == pytest.approx(3.5)


@requires_cuda
def test_cuda_tensors_only_where_supported():
    """count/solve/map/run take CUDA tensors (tests/python/test_placement_cuda.py);
    the constructor and the analysis helpers stay on the CPU."""
    p = lplb.PlacementPlanner(np.array([0, 1, 1, 0]), 2, 2)
    ids = torch.zeros(8, dtype=torch.int64, device="cuda")
    for call in (lambda: lplb.PlacementPlanner(ids[:4], 2, 2),
                 lambda: p.slot_counts(ids[:2], torch.ones(4, device="cuda", dtype=torch.float64)),
                 lambda: p.rank_loads(ids[:2].double())):
        with pytest.raises(TypeError, match=r"runs on the CPU; move the tensor with \.cpu\(\)"):
            call()


def test_cuda_check_without_a_gpu(monkeypatch):
    """On any machine: every array pretends to be on a GPU, and the package
    pretends to lack the CUDA backend."""
    p = lplb.PlacementPlanner(np.array([0, 1, 1, 0]), 2, 2)
    monkeypatch.setattr(lplb._arrays, "is_cuda", lambda a: True)
    monkeypatch.setattr(lplb._core, "has_cuda", False, raising=False)
    with pytest.raises(TypeError, match=r"idx: this lplb was built without the CUDA backend; move the tensor with \.cpu\(\)"):
        p.run(np.zeros(4, np.int64))
    with pytest.raises(TypeError, match=r"workload: this lplb was built without the CUDA backend"):
        p.solve(np.ones(2))
    with pytest.raises(TypeError, match=r"phy2log: this PlacementPlanner method runs on the CPU"):
        lplb.PlacementPlanner(np.array([0, 1, 1, 0]), 2, 2)


# -- design_placement ----------------------------------------------------------------


def replicas(phy2log: np.ndarray, E: int) -> np.ndarray:
    return np.bincount(phy2log, minlength=E)


def test_design_placement_basics():
    rng = np.random.default_rng(9)
    for _ in range(40):
        P = int(rng.choice([2, 4, 8, 16]))
        E = P * int(rng.integers(1, 9))
        extra = int(rng.integers(0, 4))
        slots = E // P + extra
        predicted = rng.gamma(0.5, 1000, E)
        deviation = rng.random(E) * 100 if rng.random() < 0.5 else None
        phy2log = lplb.design_placement(predicted, P, slots, deviation=deviation)
        assert phy2log.dtype == np.int32 and phy2log.shape == (P * slots,)
        count = replicas(phy2log, E)
        # Default cap: one copy per rank, unless the slots cannot be filled so.
        assert (count >= 1).all() and count.max() <= max(P, -(-P * slots // E))
        if slots <= E:  # then no two copies of an expert share a rank
            per_rank = phy2log.reshape(P, slots)
            for r in range(P):
                assert len(set(per_rank[r].tolist())) == slots
        # Deterministic, and usable as is.
        np.testing.assert_array_equal(lplb.design_placement(predicted, P, slots, deviation=deviation), phy2log)
        planner = lplb.PlacementPlanner(phy2log, E, P)
        w = rng.poisson(predicted)
        assert planner.solve(w)["optimum"] == pytest.approx(highs_optimum(phy2log, E, P, w), rel=1e-6, abs=1e-6)


def test_design_placement_hot_expert_gets_copies():
    predicted = np.full(32, 100.0)
    predicted[5] = 3000.0
    phy2log = lplb.design_placement(predicted, 8, 5)
    assert replicas(phy2log, 32)[5] == 8  # capped at one copy per rank
    capped = lplb.design_placement(predicted, 8, 5, max_copies=3)
    assert replicas(capped, 32).max() <= 3


def test_design_placement_node_local():
    rng = np.random.default_rng(4)
    E, P, nodes = 64, 16, 4
    phy2log = lplb.design_placement(rng.random(E) * 100, P, E // P + 2, num_groups=8, num_nodes=nodes)
    node_of_slot = np.arange(phy2log.size) // (phy2log.size // nodes)
    for e in range(E):  # every replica of an expert on one node
        assert len(set(node_of_slot[phy2log == e].tolist())) == 1


def test_design_placement_search_and_info():
    rng = np.random.default_rng(6)
    E, P = 32, 8
    predicted = rng.gamma(1.0, 100, E)
    samples = rng.poisson(predicted, (16, E))
    plain, info0 = lplb.design_placement(predicted, P, 6, samples=samples, return_info=True)
    searched, info = lplb.design_placement(predicted, P, 6, samples=samples, search_moves=50,
                                           seed=1, return_info=True)
    assert set(info) == {"sample_imbalance_before", "sample_imbalance_after", "moves_accepted"}
    assert info0["moves_accepted"] == 0
    assert info0["sample_imbalance_before"] == pytest.approx(info0["sample_imbalance_after"])
    assert info["sample_imbalance_after"] <= info["sample_imbalance_before"] + 1e-12
    assert info["sample_imbalance_before"] == pytest.approx(info0["sample_imbalance_before"])
    assert (replicas(searched, E) >= 1).all()
    if info["moves_accepted"] == 0:
        np.testing.assert_array_equal(searched, plain)


@pytest.mark.parametrize("kind", HOST_KINDS)
def test_design_placement_kind(kind):
    out = lplb.design_placement(make(kind, np.arange(8.0)), 2, 5)
    assert is_kind(kind, out, "int32")
    assert lplb.design_placement(list(range(8)), 2, 5).dtype == np.int32


# -- bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        (([0, 1, 2, 0], 4, 2), ValueError, r"phy2log: expert 3 has no replica"),
        (([0, 1, 2], 3, 2), ValueError, r"phy2log: length 3 is not a multiple of ep_size 2"),
        (([0, 1, 5, 0], 3, 2), ValueError, r"phy2log: slot 2 holds expert 5, outside \[0, 3\)"),
        (([0, -1, 1, 0], 2, 2), ValueError, r"phy2log: slot 1 holds expert -1"),
        ((np.zeros(0, np.int64), 1, 1), ValueError, r"phy2log: is empty"),
        (([0.0, 1.0], 2, 1), TypeError, r"phy2log: expected integer entries, got dtype float64"),
        ((np.array([True, False]), 2, 1), TypeError, r"phy2log: expected integer entries"),
        ((np.array([0, 2**64 - 1], np.uint64), 2, 1), ValueError, r"phy2log: entry 1 = .* exceeds int64"),
        (("01", 2, 1), TypeError, r"phy2log: expected a numpy array or torch tensor, got str"),
        (([0, 1], 0, 1), ValueError, r"num_experts: must be >= 1"),
        (([0, 1], 2, 0), ValueError, r"ep_size: must be >= 1"),
        (([0, 1], 2.0, 1), TypeError, r"num_experts: expected an integer"),
        (([0, 1], 2, True), TypeError, r"ep_size: expected an integer, got bool"),
    ],
)
def test_bad_construction(args, exc, match):
    with pytest.raises(exc, match=match):
        lplb.PlacementPlanner(*args)


@pytest.fixture
def small() -> lplb.PlacementPlanner:
    return lplb.PlacementPlanner([0, 1, 2, 0, 1, 3], 4, 2)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda p: p.solve([1, 2, 3]), ValueError, r"workload: expected 4 entries \(one per logical expert\), got 3"),
        (lambda p: p.solve([1, -2, 3, 4]), ValueError, r"workload: entry 1 is negative"),
        (lambda p: p.solve([1, np.nan, 3, 4]), ValueError, r"workload: entry 1 is not finite"),
        (lambda p: p.solve([1, np.inf, 3, 4]), ValueError, r"workload: entry 1 is not finite"),
        (lambda p: p.solve(np.ones(4, bool)), TypeError, r"workload: expected an integer or floating-point"),
        (lambda p: p.solve(None), TypeError, r"workload: expected a numpy array or torch tensor"),
        (lambda p: p.solve([2.0**53, 2.0**52, 0, 0]), ValueError, r"workload: total exceeds 2\^53"),
        (lambda p: p.count(np.array([0, 4])), ValueError, r"idx: entry 1 = 4 is outside \[-1, 4\)"),
        (lambda p: p.count(np.array([-2])), ValueError, r"idx: entry 0 = -2 is outside"),
        (lambda p: p.count(np.array([0.0])), TypeError, r"idx: expected int32 or int64 expert ids, got dtype float64"),
        (lambda p: p.count([0, 1]), TypeError, r"idx: expected a numpy array or torch tensor, got list"),
        (lambda p: p.run(np.array([[0, 9]])), ValueError, r"idx: entry 1 = 9 is outside"),
        (lambda p: p.map(np.array([0, 5]), np.ones(6)), ValueError, r"idx: entry 1 = 5 is outside"),
        (lambda p: p.map(np.array([0]), np.ones(5)), ValueError, r"shares: expected 6 entries \(one per physical slot\), got 5"),
        (lambda p: p.map(np.array([0]), np.ones(6, np.int64)), TypeError, r"shares: expected a floating-point array"),
        (lambda p: p.map(np.array([0]), -np.ones(6)), ValueError, r"shares: entry 0 is negative \(-1"),
        (lambda p: p.map(np.array([0]), np.full(6, np.nan)), ValueError, r"shares: entry 0 is not finite \(nan\)"),
        (lambda p: p.slot_counts([1, 2, 3, 4], np.ones(4)), ValueError, r"shares: expected 6 entries"),
        (lambda p: p.slot_counts([1, 2, 3], np.ones(6)), ValueError, r"counts: expected 4 entries"),
        (lambda p: p.slot_counts([1, -2, 3, 4], np.ones(6)), ValueError, r"counts: entry 1 is negative"),
        (lambda p: p.slot_counts([1.5, 2, 3, 4], np.ones(6)), TypeError, r"counts: expected integer entries"),
        (lambda p: p.rank_loads([1, 2, 3, 4], np.ones(3)), ValueError, r"shares: expected 6 entries"),
        (lambda p: p.rank_loads([1, 2, 3, -4]), ValueError, r"workload: entry 3 is negative"),
    ],
)
def test_bad_calls(small, call, exc, match):
    with pytest.raises(exc, match=match):
        call(small)


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        (dict(slots_per_rank=1), ValueError, r"slots_per_rank: 2 ranks x 1 slots cannot hold 8 experts"),
        (dict(slots_per_rank=0), ValueError, r"slots_per_rank: must be >= 1"),
        (dict(ep_size=0), ValueError, r"ep_size: must be >= 1"),
        (dict(num_nodes=3), ValueError, r"num_nodes: must be > 0 and divide ep_size"),
        (dict(num_groups=3), ValueError, r"num_groups: must be > 0 and divide the 8 experts"),
        (dict(num_nodes=2, num_groups=1), ValueError, r"num_groups: 1 groups cannot be shared evenly by 2 nodes"),
        (dict(max_copies=1, slots_per_rank=5), ValueError, r"max_copies: 8 experts x 1 copies cannot fill 10 slots"),
        (dict(max_copies=-1), ValueError, r"max_copies: must be >= 0"),
        (dict(tie_fraction=-0.1), ValueError, r"tie_fraction: must be finite and >= 0"),
        (dict(tie_fraction=float("nan")), ValueError, r"tie_fraction: must be finite"),
        (dict(count_deviations="2"), TypeError, r"count_deviations: expected a real number, got str"),
        (dict(pack_deviations=float("inf")), ValueError, r"pack_deviations: must be finite"),
        (dict(search_moves=-1), ValueError, r"search_moves: must be >= 0"),
        (dict(seed=-1), ValueError, r"seed: must be >= 0"),
        (dict(seed=2**64), ValueError, r"seed: must be < 2\^64"),
        (dict(deviation=np.ones(7)), ValueError, r"deviation: expected 8 entries"),
        (dict(deviation=-np.ones(8)), ValueError, r"deviation"),
        (dict(samples=np.ones(8)), ValueError, r"samples: expected shape \[num_samples, 8\]"),
        (dict(samples=np.ones((2, 7))), ValueError, r"samples: expected shape \[num_samples, 8\]"),
        (dict(samples=-np.ones((2, 8))), ValueError, r"samples"),
        (dict(predicted=np.ones((2, 4))), ValueError, r"predicted: expected a 1-D array"),
        (dict(predicted=np.array([1.0] * 7 + [np.nan])), ValueError, r"predicted"),
        (dict(predicted=np.array([1.0] * 7 + [-1.0])), ValueError, r"predicted"),
        (dict(predicted=np.ones(8, bool)), TypeError, r"predicted: expected an integer or floating-point"),
        (dict(predicted="abc"), TypeError, r"predicted: expected a numpy array or torch tensor"),
    ],
)
def test_bad_design(kw, exc, match):
    args = dict(predicted=np.ones(8), ep_size=2, slots_per_rank=5)
    args.update(kw)
    with pytest.raises(exc, match=match):
        lplb.design_placement(**args)
