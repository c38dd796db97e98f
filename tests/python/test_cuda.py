"""The GPU path (torch CUDA tensors on the CUDA backend), with the CPU path as
its oracle: identical counts, identical mapping for the same probs, the same
LP optimum; work on the caller's stream; `run` captured in a CUDA graph.
Skips without a GPU, or when the extension was built without CUDA (then the
API tests' torch-cuda cases cover the host round trip)."""

from __future__ import annotations

import numpy as np
import pytest

import lplb
from conftest import HAVE_CUDA
from lplb_testing import CUBE, REFERENCE_CONFIGS, Config, draw_ids, lp_loads, random_config

pytestmark = [
    pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device (or no torch)"),
    pytest.mark.skipif(not lplb.has_cuda, reason="lplb was built without the CUDA backend"),
]

if HAVE_CUDA:
    import torch


def planners(cfg: Config, **kw) -> tuple[lplb.Planner, lplb.Planner]:
    """(GPU planner, CPU planner) for the same configuration."""
    gpu = lplb.Planner(torch.from_numpy(cfg.r2o).cuda(), cfg.n_routed, cfg.experts, cfg.ep_size, **kw)
    cpu = lplb.Planner(cfg.r2o, cfg.n_routed, cfg.experts, cfg.ep_size, **kw)
    return gpu, cpu


def cuda(a: np.ndarray) -> "torch.Tensor":
    return torch.from_numpy(np.ascontiguousarray(a)).cuda()


def host(t) -> np.ndarray:
    return t.cpu().numpy()


@pytest.mark.parametrize("trial", range(12))
def test_matches_the_cpu_path(trial):
    rng = np.random.default_rng(500 + trial)
    cfg = REFERENCE_CONFIGS[trial % len(REFERENCE_CONFIGS)] if trial < 6 else random_config(rng)
    gpu, cpu = planners(cfg, check_errors=True, gpus_per_node=cfg.ep_size)
    hist = rng.integers(0, 2**20, cfg.experts)
    np.testing.assert_array_equal(host(gpu.update_redundancy_mapping(cuda(hist))[0]), cpu.update_redundancy_mapping(hist)[0])
    for dtype in (np.int32, np.int64):
        ids = draw_ids(rng, cfg.experts, (int(rng.integers(1, 40000)),), skew=float(rng.uniform(0, 1.5))).astype(dtype)
        n_sms = int(rng.integers(1, 140))
        counts_g, by_sm_g = gpu.count_workload(cuda(ids), n_sms)
        counts_c, by_sm_c = cpu.count_workload(ids, n_sms)
        np.testing.assert_array_equal(host(counts_g), counts_c)
        np.testing.assert_array_equal(host(by_sm_g), by_sm_c)
        # The same probs map every token identically.
        o_weight = np.clip(rng.standard_normal((cfg.G, cfg.S, cfg.D)) / 3 + 0.5, 0, 1).astype(np.float32)
        np.testing.assert_array_equal(
            host(gpu.weighted_select_target(cuda(ids), cuda(o_weight), by_sm_g, n_sms)),
            cpu.weighted_select_target(ids, o_weight, by_sm_c, n_sms),
        )
        # The exact solver reaches the same optimum.
        avail = torch.zeros((), dtype=torch.int32, device="cuda")
        probs_g, _ = gpu.solve_probs(counts_g, avail)
        assert int(avail) == cfg.G
        best = cpu.solve(counts_c).load_after.max()
        got = lp_loads(cfg, cpu.phy2log, counts_c, host(probs_g)).max()
        assert got <= best * (1 + 1e-6) + 1e-6
        # run equals the composed steps on the GPU.
        out = gpu.run(cuda(ids), avail)
        np.testing.assert_array_equal(host(out), host(gpu.weighted_select_target(cuda(ids), probs_g)))


def test_ipm_on_gpu_counts_converged_groups():
    cfg = Config(CUBE, 256, 32, 2)
    gpu, cpu = planners(cfg, solver="ipm")
    rng = np.random.default_rng(3)
    w = (np.maximum(rng.standard_normal(256) * 0.3 + 1, 0) * 2**12).astype(np.int32)
    avail_g = torch.zeros((), dtype=torch.int32, device="cuda")
    avail_c = np.zeros((), np.int32)
    probs_g, _ = gpu.solve_probs(cuda(w), avail_g)
    probs_c, _ = cpu.solve_probs(w, avail_c)
    assert int(avail_g) == int(avail_c)
    # Same float32 method; summation order may differ, so compare the loads.
    load_g = lp_loads(cfg, cpu.phy2log, w, host(probs_g)).max()
    load_c = lp_loads(cfg, cpu.phy2log, w, probs_c).max()
    assert load_g == pytest.approx(load_c, rel=1e-3)


def test_bad_ids_are_reported_not_fatal():
    gpu, _ = planners(Config(CUBE, 256, 32, 2))
    gpu.run(cuda(np.array([0, 300, 5])))  # enqueued; the kernel flags it
    with pytest.raises(ValueError, match="idx|ids"):
        gpu.check_errors()
    # The context survives and the planner keeps working.
    out = gpu.run(cuda(np.array([0, 1, -1])))
    assert host(out)[2] == -1
    gpu.check_errors()
    checked, _ = planners(Config(CUBE, 256, 32, 2), check_errors=True)
    with pytest.raises(ValueError):
        checked.count_workload(cuda(np.array([-5])), 4)
    with pytest.raises(ValueError):
        checked.solve_probs(cuda(np.full(256, -1.0)))


def test_runs_on_the_current_stream():
    gpu, cpu = planners(Config(CUBE, 256, 32, 2))
    rng = np.random.default_rng(4)
    ids = draw_ids(rng, 256, (4096, 8))
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        d_ids = cuda(ids)
        out = gpu.run(d_ids)
        avail = torch.zeros(1, dtype=torch.int64, device="cuda")
        gpu.solve_probs(gpu.count_workload(d_ids, 8)[0], avail)
    side.synchronize()
    np.testing.assert_array_equal(host(out), cpu.run(ids))
    assert int(avail) == 4


def test_no_host_synchronisation_in_run():
    gpu, _ = planners(Config(CUBE, 256, 32, 2))
    ids = cuda(draw_ids(np.random.default_rng(5), 256, (1024, 8)))
    avail = torch.zeros((), dtype=torch.int32, device="cuda")
    gpu.run(ids, avail)  # warm-up: allocates the device workspace
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        gpu.run(ids, avail)
        counts, by_sm = gpu.count_workload(ids, 16)
        probs, _ = gpu.solve_probs(counts, avail)
        gpu.weighted_select_target(ids, probs, by_sm, 16)
    finally:
        torch.cuda.set_sync_debug_mode(0)


def test_cuda_graph_capture_of_run():
    cfg = Config(CUBE, 256, 32, 2)
    gpu, cpu = planners(cfg)
    rng = np.random.default_rng(6)
    hist = rng.integers(0, 2**20, 256)
    gpu.update_redundancy_mapping(cuda(hist))
    cpu.update_redundancy_mapping(hist)
    static_ids = cuda(draw_ids(rng, 256, (4096, 8)))
    avail = torch.zeros((), dtype=torch.int32, device="cuda")

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):  # warm-up outside capture
            gpu.run(static_ids, avail)
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()

    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = gpu.run(static_ids, avail)
    avail.zero_()
    for step in range(5):
        ids = draw_ids(rng, 256, (4096, 8), skew=0.3 * step)
        static_ids.copy_(cuda(ids))
        graph.replay()
        torch.cuda.synchronize()
        np.testing.assert_array_equal(host(static_out), host(gpu.run(cuda(ids))))
        out_cpu = cpu.run(ids)
        # Same placement, same optimum: the realised loads agree with the CPU's.
        loads_g = np.bincount(host(static_out)[ids >= 0] // cfg.n_local, minlength=32)
        loads_c = np.bincount(out_cpu[ids >= 0] // cfg.n_local, minlength=32)
        assert abs(int(loads_g.max()) - int(loads_c.max())) <= 2 * cfg.D * cfg.C + 1
    assert int(avail) == 5 * 4
    # A placement update is visible to the captured graph (same device buffers).
    hist2 = rng.integers(0, 2**20, 256)
    gpu.update_redundancy_mapping(cuda(hist2))
    cpu.update_redundancy_mapping(hist2)
    ids = draw_ids(rng, 256, (4096, 8))
    static_ids.copy_(cuda(ids))
    graph.replay()
    torch.cuda.synchronize()
    np.testing.assert_array_equal(host(static_out), host(gpu.run(cuda(ids))))
    log2phy = cpu.log2phy
    e = ids[ids >= 0]
    o = host(static_out)[ids >= 0]
    assert np.all((o == log2phy[e, 0]) | (o == log2phy[e, 1]))


def test_workspace_grows_outside_capture():
    cfg = Config(CUBE, 256, 32, 2)
    gpu = lplb.Planner(torch.from_numpy(cfg.r2o).cuda(), cfg.n_routed, cfg.experts, cfg.ep_size, max_ids=1000)
    ids = draw_ids(np.random.default_rng(7), 256, (5000,))
    got = host(gpu.run(cuda(ids)))
    want = lplb.Planner(cfg.r2o, 320, 256, 32).run(ids)
    # The GPU's warp-parallel exact solver may pick another optimal split when
    # the optimum is not unique: compare what matters, not token by token.
    phy2log = host(gpu.phy2log)
    assert np.array_equal(phy2log[got[ids >= 0]], ids[ids >= 0])
    assert np.all(got[ids < 0] == -1)
    loads_g = np.bincount(got[ids >= 0] // cfg.n_local, minlength=32)
    loads_c = np.bincount(want[ids >= 0] // cfg.n_local, minlength=32)
    assert abs(int(loads_g.max()) - int(loads_c.max())) <= 2 * 2  # rounding of the split, C*D
