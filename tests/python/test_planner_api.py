"""lplb.Planner's reference API on every array kind: shapes, dtypes, devices
and values, checked against independent numpy oracles."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import lplb
from conftest import HAVE_CUDA
from lplb_testing import (
    CUBE,
    REFERENCE_CONFIGS,
    Config,
    chunk_prefix,
    draw_ids,
    expected_phy2log,
    lp_loads,
    random_config,
)


def make_planner(cfg: Config, kind, **kw) -> lplb.Planner:
    return lplb.Planner(kind.make(cfg.r2o.astype(np.int32)), cfg.n_routed, cfg.experts, cfg.ep_size, **kw)


def history_for(cfg: Config, rng: np.random.Generator) -> np.ndarray:
    return (np.maximum(rng.standard_normal(cfg.experts) * 0.15 + 1, 0) * 2**20).astype(np.int64)


CFG = Config(CUBE, 256, 32, 2)


def test_attributes_match_the_reference(kind):
    p = make_planner(CFG, kind)
    assert p.group_size == 8 and p.num_redundants == 2
    assert p.n_routed_experts == 320 and p.n_logical_routed_experts == 256
    assert p.ep_size == 32 and p.n_group == 4
    assert p.n_local_routed_experts == 10 and p.n_local_logical_routed_experts == 8
    assert p.combined_redundant_experts == 1
    assert p.ep_group is None and p.solver == "exact"
    kind.assert_kind(p.r2o, "int32")
    kind.assert_kind(p.o2r, "int32")
    np.testing.assert_array_equal(kind.numpy(p.r2o), CUBE)
    # o2r is r2o.argsort(dim=0) in the reference: the inverse of each column.
    np.testing.assert_array_equal(kind.numpy(p.o2r), np.argsort(CUBE, axis=0))
    assert "8x2" in repr(p)


def test_r2o_as_nested_list_gives_numpy():
    p = lplb.Planner(CUBE.tolist(), 320, 256, 32)
    assert isinstance(p.phy2log, np.ndarray) and p.phy2log.dtype == np.int32


def test_identity_mapping(kind):
    p = make_planner(CFG, kind)
    phy2log, log2phy, logcnt = p.update_redundancy_mapping()
    kind.assert_kind(phy2log, "int32")
    kind.assert_kind(log2phy, "int32")
    kind.assert_kind(logcnt, "int32")
    assert tuple(phy2log.shape) == (320,)
    assert tuple(log2phy.shape) == (256, 2)
    assert tuple(logcnt.shape) == (256,)
    want = expected_phy2log(CFG, np.arange(256))
    np.testing.assert_array_equal(kind.numpy(phy2log), want)
    assert p.phy2log is phy2log


@pytest.mark.parametrize("cfg", REFERENCE_CONFIGS, ids=lambda c: f"S{c.S}D{c.D}E{c.experts}P{c.ep_size}R{c.redundant}")
def test_history_mapping_layout(kind, cfg):
    rng = np.random.default_rng(cfg.ep_size * 7 + cfg.redundant)
    p = make_planner(cfg, kind)
    history = history_for(cfg, rng)
    phy2log, log2phy, logcnt = (kind.numpy(a) for a in p.update_redundancy_mapping(kind.make(history)))
    per_rank = phy2log.reshape(cfg.ep_size, cfg.n_local)
    originals = per_rank[:, : cfg.n_ll]
    # Every logical expert is an original exactly once ...
    np.testing.assert_array_equal(np.sort(originals.reshape(-1)), np.arange(cfg.experts))
    # ... each rank's originals are sorted by history, descending ...
    assert np.all(np.diff(history[originals], axis=1) <= 0)
    # ... and the replica slots follow the topology (docs/ARCHITECTURE.md, Layouts).
    np.testing.assert_array_equal(phy2log, expected_phy2log(cfg, originals.reshape(-1)))
    # log2phy: original slot first, then the copy; logcnt 2 exactly for the replicated.
    replicated = np.zeros(cfg.experts, bool)
    replicated[originals[:, : cfg.C * cfg.D].reshape(-1)] = True
    np.testing.assert_array_equal(logcnt, np.where(replicated, 2, 1))
    for e in range(cfg.experts):
        slots = np.flatnonzero(phy2log == e)
        np.testing.assert_array_equal(np.sort(log2phy[e, : logcnt[e]]), slots)
        assert np.all(log2phy[e, logcnt[e] :] == -1)
        assert log2phy[e, 0] % cfg.n_local < cfg.n_ll  # the original comes first


def test_history_kind_decides_output_kind(kind):
    p = lplb.Planner(CUBE, 320, 256, 32)  # numpy home
    out = p.update_redundancy_mapping(kind.make(np.arange(256, dtype=np.float32)))
    for a in out:
        kind.assert_kind(a, "int32")


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("shape", [(0,), (1,), (255,), (257,), (4096, 8), (3, 100, 7)])
@pytest.mark.parametrize("n_sms", [1, 3, 132])
def test_count_workload(kind, dtype, shape, n_sms):
    rng = np.random.default_rng(zlib.crc32(repr((dtype, shape, n_sms)).encode()))
    p = make_planner(CFG, kind)
    ids = draw_ids(rng, 256, shape, skew=1.2).astype(dtype)
    counts, by_sm = p.count_workload(kind.make(ids), n_sms)
    kind.assert_kind(counts, "int32")
    kind.assert_kind(by_sm, "int32")
    assert tuple(counts.shape) == (256,) and tuple(by_sm.shape) == (n_sms, 256)
    want = np.bincount(ids[ids >= 0], minlength=256)
    np.testing.assert_array_equal(kind.numpy(counts), want)
    np.testing.assert_array_equal(kind.numpy(by_sm), chunk_prefix(ids, n_sms, 256))
    np.testing.assert_array_equal(kind.numpy(by_sm)[-1], want)


def test_count_workload_default_n_sms(kind):
    p = make_planner(CFG, kind)
    ids = draw_ids(np.random.default_rng(1), 256, (512, 8))
    counts, by_sm = p.count_workload(kind.make(ids))
    assert by_sm.shape[1] == 256 and by_sm.shape[0] >= 1
    np.testing.assert_array_equal(kind.numpy(by_sm)[-1], kind.numpy(counts))


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("shaped", [False, True])
def test_solve_probs(kind, dtype, shaped):
    rng = np.random.default_rng(3)
    p = make_planner(CFG, kind)
    p.update_redundancy_mapping(kind.make(history_for(CFG, rng)))
    workload = (np.maximum(rng.standard_normal(256) * 0.3 + 1, 0) * 2**12).astype(dtype)
    if shaped:  # the reference views the workload as [G, S, E / P]
        workload = workload.reshape(4, 8, 8)
    avail = kind.zeros_counter()
    probs, global_workload = p.solve_probs(kind.make(workload), avail)
    kind.assert_kind(probs, "float32")
    kind.assert_kind(global_workload, "float32")
    assert tuple(probs.shape) == (4, 8, 2)
    assert tuple(global_workload.shape) == (4, 8, 8)
    assert int(kind.numpy(avail).reshape(-1)[0]) == p.n_group
    pr = kind.numpy(probs)
    assert np.all((pr >= 0) & (pr <= 1))
    np.testing.assert_array_equal(kind.numpy(global_workload).reshape(-1), workload.reshape(-1).astype(np.float32))
    # The probs reach the LP optimum the host solver reports.
    loads = lp_loads(CFG, kind.numpy(p.phy2log), workload.reshape(-1), pr)
    best = p.solve(workload.reshape(-1)).load_after.max()
    assert loads.max() <= best * (1 + 1e-6)


@pytest.mark.parametrize("counter_dtype", ["int32", "int64"])
@pytest.mark.parametrize("counter_shape", [(), (1,)])
def test_avail_counter_accumulates(kind, counter_dtype, counter_shape):
    p = make_planner(CFG, kind)
    avail = kind.make(np.zeros(counter_shape, counter_dtype))
    w = np.full(256, 100, np.int32)
    for _ in range(3):
        p.solve_probs(kind.make(w), avail)
    assert int(kind.numpy(avail).reshape(-1)[0]) == 3 * p.n_group
    p.solve_probs(kind.make(w))  # a counter is optional
    p.solve_probs(kind.make(w), None)


def test_zero_workload_is_valid(kind):
    p = make_planner(CFG, kind)
    avail = kind.zeros_counter()
    probs, _ = p.solve_probs(kind.make(np.zeros(256, np.int32)), avail)
    assert np.all(np.isfinite(kind.numpy(probs)))
    assert int(kind.numpy(avail).reshape(-1)[0]) == p.n_group
    ids = np.full((16, 8), -1, np.int64)
    out = p.run(kind.make(ids), avail)
    np.testing.assert_array_equal(kind.numpy(out), ids)


def check_mapping(cfg: Config, planner: lplb.Planner, kind, ids, probs, out) -> None:
    """out is a valid mapping of ids: -1 kept, every id on its original or
    copy, and round(p * T) of each replicated expert's T tokens kept."""
    ids = np.asarray(ids).reshape(-1)
    out = kind.numpy(out).reshape(-1)
    log2phy = kind.numpy(planner.log2phy)
    logcnt = kind.numpy(planner.logcnt)
    assert np.array_equal(out == -1, ids == -1)
    valid = ids >= 0
    e = ids[valid]
    o = out[valid]
    assert np.all((o == log2phy[e, 0]) | ((logcnt[e] == 2) & (o == log2phy[e, 1])))
    pr = np.clip(np.asarray(probs, np.float64).reshape(-1), 0, 1)
    T = np.bincount(e, minlength=cfg.experts)
    kept = np.bincount(e[o == log2phy[e, 0]], minlength=cfg.experts)
    for x in np.flatnonzero(logcnt == 2):
        rank = log2phy[x, 0] // cfg.n_local
        d = (log2phy[x, 0] % cfg.n_local) % cfg.D
        assert kept[x] == int(np.floor(pr[rank * cfg.D + d] * T[x] + 0.5)), x


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("prob_dtype", ["float32", "float64"])
def test_weighted_select_target(kind, dtype, prob_dtype):
    rng = np.random.default_rng(5)
    p = make_planner(CFG, kind)
    p.update_redundancy_mapping(kind.make(history_for(CFG, rng)))
    ids = draw_ids(rng, 256, (65536,), skew=0.8).astype(dtype)
    # Random shares as in the reference's test: clamp(N(0.5, 1/3), 0, 1).
    o_weight = np.clip(rng.standard_normal((4, 8, 2)) / 3 + 0.5, 0, 1).astype(prob_dtype)
    _, by_sm = p.count_workload(kind.make(ids), 8)
    out = p.weighted_select_target(kind.make(ids), kind.make(o_weight), by_sm, 8)
    kind.assert_kind(out, dtype)
    assert tuple(out.shape) == ids.shape
    check_mapping(CFG, p, kind, ids, o_weight, out)
    # Without the optional arguments: the same result.
    again = p.weighted_select_target(kind.make(ids), kind.make(o_weight))
    np.testing.assert_array_equal(kind.numpy(again), kind.numpy(out))


def test_mapping_spreads_tokens_evenly(kind):
    """Kept tokens are interleaved in input order, not the first k."""
    p = make_planner(CFG, kind)
    e = int(kind.numpy(p.phy2log)[0])  # rank 0's first original is replicated
    ids = np.full(1000, e, np.int64)
    out = kind.numpy(p.weighted_select_target(kind.make(ids), kind.make(np.full((4, 8, 2), 0.5, np.float32))))
    kept = out == kind.numpy(p.log2phy)[e, 0]
    assert kept.sum() == 500
    assert 240 <= kept[:500].sum() <= 260


@pytest.mark.parametrize("shape", [(4096, 8), (100,), (2, 3, 64)])
def test_run_equals_the_composed_steps(kind, shape):
    rng = np.random.default_rng(11)
    p = make_planner(CFG, kind)
    p.update_redundancy_mapping(kind.make(history_for(CFG, rng)))
    ids = draw_ids(rng, 256, shape, skew=1.0)
    avail = kind.zeros_counter()
    out = p.run(kind.make(ids), avail)
    kind.assert_kind(out, "int64")
    assert tuple(out.shape) == shape
    assert int(kind.numpy(avail).reshape(-1)[0]) == p.n_group
    counts, by_sm = p.count_workload(kind.make(ids), 4)
    probs, _ = p.solve_probs(counts, kind.zeros_counter())
    composed = p.weighted_select_target(kind.make(ids), probs, by_sm, 4)
    np.testing.assert_array_equal(kind.numpy(out), kind.numpy(composed))
    check_mapping(CFG, p, kind, ids, kind.numpy(probs), out)
    # Deterministic: the same batch maps the same way.
    np.testing.assert_array_equal(kind.numpy(p.run(kind.make(ids), None, 7)), kind.numpy(out))


def test_non_contiguous_inputs(kind):
    rng = np.random.default_rng(12)
    p = make_planner(CFG, kind)
    ids = draw_ids(rng, 256, (64, 16))
    strided = kind.make(ids)[:, ::2]
    want = ids[:, ::2]
    counts, _ = p.count_workload(strided, 2)
    np.testing.assert_array_equal(kind.numpy(counts), np.bincount(want[want >= 0], minlength=256))
    out = p.run(strided)
    assert tuple(out.shape) == want.shape


@pytest.mark.parametrize("solver", ["exact", "ipm"])
def test_solver_option(kind, solver):
    rng = np.random.default_rng(13)
    p = make_planner(CFG, kind, solver=solver)
    assert p.solver == solver
    p.update_redundancy_mapping(kind.make(history_for(CFG, rng)))
    w = (np.maximum(rng.standard_normal(256) * 0.3 + 1, 0) * 2**12).astype(np.int32)
    avail = kind.zeros_counter()
    probs, _ = p.solve_probs(kind.make(w), avail)
    assert 0 <= int(kind.numpy(avail).reshape(-1)[0]) <= p.n_group
    assert np.all(np.isfinite(kind.numpy(probs)))


def test_random_configurations(kind):
    """Many random topologies and sizes: every invariant, and the exact
    solver's loads equal the optimum the core reports."""
    rng = np.random.default_rng(2024)
    for trial in range(25):
        cfg = random_config(rng)
        nodes = [n for n in range(1, cfg.ep_size + 1) if cfg.ep_size % n == 0]
        p = make_planner(cfg, kind, gpus_per_node=cfg.ep_size // int(rng.choice(nodes)))
        hist = None if trial % 3 == 0 else rng.integers(0, 1000, cfg.experts)
        phy2log = kind.numpy(p.update_redundancy_mapping(None if hist is None else kind.make(hist))[0])
        assert np.array_equal(np.sort(phy2log.reshape(cfg.ep_size, -1)[:, : cfg.n_ll].reshape(-1)), np.arange(cfg.experts))
        ids = draw_ids(rng, cfg.experts, (int(rng.integers(0, 3000)),), skew=float(rng.uniform(0, 2)))
        avail = kind.zeros_counter("int64")
        out = p.run(kind.make(ids), avail)
        assert int(kind.numpy(avail).reshape(-1)[0]) == cfg.G
        counts = np.bincount(ids[ids >= 0], minlength=cfg.experts)
        probs, _ = p.solve_probs(kind.make(counts), None)
        check_mapping(cfg, p, kind, ids, kind.numpy(probs), out)
        best = p.solve(counts).load_after.max()
        assert lp_loads(cfg, phy2log, counts, kind.numpy(probs)).max() <= best * (1 + 1e-6) + 1e-9


def test_init_from_deep_ep_is_accepted():
    p = lplb.Planner(CUBE, 320, 256, 32)
    with pytest.warns(UserWarning, match="DeepEP"):
        p.init_from_deep_ep(object())
    assert p.deep_ep_initialized
    p.init_from_deep_ep(object())  # once only, silently
    p.check_errors()  # no GPU work: a no-op


def test_helpers():
    np.testing.assert_array_equal(lplb.topology("cube"), CUBE)
    assert lplb.topology("ring").shape == (8, 1)
    assert lplb.topology("torus:2x3").shape == (6, 2)
    assert lplb.imbalance([1, 1, 2]) == pytest.approx(1.5)
    assert lplb.imbalance([0, 0]) == 1.0
    p = lplb.Planner(CUBE, 320, 256, 32)
    w = np.arange(256)
    before = p.rank_loads(w)
    assert before.shape == (32,) and before.sum() == w.sum()
    probs, _ = p.solve_probs(w)
    after = p.rank_loads(w, probs)
    assert after.max() <= before.max()
    s = p.solve(w)
    assert s.probs.shape == (64,) and s.load_after.shape == (32,) and s.ipm_fallbacks == 0
    assert isinstance(lplb.__version__, str)
    assert isinstance(lplb.has_cuda, bool)


@pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device (or no torch)")
def test_cuda_tensors_through_the_host():
    """Without the CUDA backend, CUDA tensors round-trip through the host
    (forced here by dropping the GPU path) and come back on their device."""
    import torch

    rng = np.random.default_rng(21)
    gpu = lplb.Planner(torch.from_numpy(CUBE).cuda(), 320, 256, 32)
    gpu._gpu = None
    cpu = lplb.Planner(CUBE, 320, 256, 32)
    hist = history_for(CFG, rng)
    np.testing.assert_array_equal(gpu.update_redundancy_mapping(torch.from_numpy(hist).cuda())[0].cpu().numpy(),
                                  cpu.update_redundancy_mapping(hist)[0])
    ids = draw_ids(rng, 256, (1000, 8))
    d_ids = torch.from_numpy(ids).cuda()
    counts, by_sm = gpu.count_workload(d_ids, 5)
    assert counts.is_cuda and by_sm.is_cuda
    avail = torch.zeros((), dtype=torch.int32, device="cuda")
    probs, glob = gpu.solve_probs(counts, avail)
    assert probs.is_cuda and glob.is_cuda and int(avail) == 4
    out = gpu.weighted_select_target(d_ids, probs, by_sm, 5)
    assert out.is_cuda
    np.testing.assert_array_equal(out.cpu().numpy(), cpu.run(ids))
    np.testing.assert_array_equal(gpu.run(d_ids, avail).cpu().numpy(), cpu.run(ids))


def test_unusual_numpy_layouts():
    p = lplb.Planner(CUBE, 320, 256, 32)
    ids = draw_ids(np.random.default_rng(22), 256, (300,))
    want = p.run(ids)
    big_endian = ids.astype(">i8")
    np.testing.assert_array_equal(p.run(big_endian), want)
    read_only = ids.copy()
    read_only.flags.writeable = False
    np.testing.assert_array_equal(p.run(read_only), want)
    fortran = np.asfortranarray(ids.reshape(20, 15))
    np.testing.assert_array_equal(p.run(fortran), p.run(np.ascontiguousarray(fortran)))
    scalar = p.run(np.array(5))
    assert scalar.shape == () and int(scalar) in (p.log2phy[5, 0], p.log2phy[5, 1])
