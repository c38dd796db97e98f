"""The eager fast path of Planner.run / solve_probs on CUDA tensors gives
exactly what the general path gives (a non-contiguous view of the same
input takes the general path), for every workload and id dtype it serves,
with int32 and int64 counters; inputs it does not serve still work; errors
still surface through check_errors. Skips without a GPU."""

from __future__ import annotations

import numpy as np
import pytest

import lplb
from conftest import HAVE_CUDA
from lplb_testing import CUBE, Config, draw_ids

pytestmark = [
    pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device (or no torch)"),
    pytest.mark.skipif(not lplb.has_cuda, reason="lplb was built without the CUDA backend"),
]

if HAVE_CUDA:
    import torch


def strided(t: "torch.Tensor") -> "torch.Tensor":
    """The same values as a non-contiguous view (the general path)."""
    v = torch.stack([t, t], -1)[..., 0]
    assert not v.is_contiguous() or v.numel() <= 1
    return v


def planner(**kw) -> lplb.Planner:
    cfg = Config(CUBE, 256, 32, 2)
    p = lplb.Planner(torch.from_numpy(cfg.r2o).cuda(), cfg.n_routed, cfg.experts, cfg.ep_size, **kw)
    rng = np.random.default_rng(3)
    p.update_redundancy_mapping(torch.from_numpy(rng.integers(0, 2**20, 256)).cuda())
    return p


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("counter_dtype", ["int32", "int64"])
def test_solve_probs_fast_equals_general(dtype, counter_dtype):
    p = planner()
    rng = np.random.default_rng(11)
    w = torch.from_numpy(rng.integers(0, 5000, 256)).to(getattr(torch, dtype)).cuda()
    p.solve_probs(w)  # the first call creates the device planner (general path)
    c_fast = torch.zeros((), dtype=getattr(torch, counter_dtype), device="cuda")
    c_gen = torch.zeros(1, dtype=getattr(torch, counter_dtype), device="cuda")
    probs_f, w_f = p.solve_probs(w, c_fast)
    probs_g, w_g = p.solve_probs(strided(w), c_gen)
    assert probs_f.dtype == torch.float32 and w_f.dtype == torch.float32
    assert probs_f.shape == (4, 8, 2) and w_f.shape == (4, 8, 8)
    assert torch.equal(probs_f, probs_g)
    assert torch.equal(w_f, w_g)
    assert torch.equal(w_f.flatten(), w.float())
    assert int(c_fast) == int(c_gen) == p.n_group


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_run_fast_equals_general(dtype):
    p = planner()
    ids = torch.from_numpy(draw_ids(np.random.default_rng(5), 256, (4096, 8), skew=1.0)).to(getattr(torch, dtype)).cuda()
    c1 = torch.zeros((), dtype=torch.int64, device="cuda")
    c2 = torch.zeros((), dtype=torch.int64, device="cuda")
    p.run(ids)  # creates the device planner
    fast = p.run(ids, c1)
    general = p.run(strided(ids), c2)
    assert fast.dtype == ids.dtype and fast.shape == ids.shape
    assert torch.equal(fast, general)
    assert int(c1) == int(c2) == p.n_group
    # run() equals solve_probs then weighted_select_target.
    counts, _ = p.count_workload(ids)
    probs, _ = p.solve_probs(counts)
    assert torch.equal(fast, p.weighted_select_target(ids, probs))


def test_other_counters_and_dtypes_take_the_general_path():
    p = planner()
    ids = torch.from_numpy(draw_ids(np.random.default_rng(6), 256, (1000,))).cuda()
    p.run(ids)
    for c in (torch.zeros(1, dtype=torch.float32, device="cuda"), np.zeros(1, np.int64),
              torch.zeros(1, dtype=torch.int32)):
        out = p.run(ids, c)
        assert torch.equal(out, p.run(ids))
        assert int(c[0]) == p.n_group
    w16 = torch.full((256,), 7, dtype=torch.float16, device="cuda")
    probs, wg = p.solve_probs(w16)
    assert probs.dtype == torch.float32 and torch.all(wg == 7)


def test_fast_path_errors_still_surface():
    p = planner(check_errors=True)
    ids = torch.zeros(512, dtype=torch.int64, device="cuda")
    p.run(ids)
    ids[100] = 256
    with pytest.raises(ValueError, match="entry 100 = 256"):
        p.run(ids)
    w = torch.ones(256, dtype=torch.float32, device="cuda")
    p.solve_probs(w)
    w[3] = float("nan")
    with pytest.raises(ValueError, match="workload: entry 3"):
        p.solve_probs(w)
    with pytest.raises(TypeError):
        p.run(ids.float())
    with pytest.raises(ValueError):
        p.solve_probs(torch.ones(255, device="cuda"))
    with pytest.raises(TypeError):
        p.run(ids, None, True)


def test_fast_solve_probs_in_a_cuda_graph():
    p = planner()
    w = torch.from_numpy(np.random.default_rng(8).integers(0, 5000, 256)).int().cuda()
    c = torch.zeros((), dtype=torch.int32, device="cuda")
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        p.solve_probs(w, c)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        probs, _ = p.solve_probs(w, c)
    c.zero_()
    w2 = torch.from_numpy(np.random.default_rng(9).integers(0, 5000, 256)).int().cuda()
    w.copy_(w2)
    g.replay()
    torch.cuda.synchronize()
    assert torch.equal(probs, p.solve_probs(w2)[0])
    assert int(c) == p.n_group
