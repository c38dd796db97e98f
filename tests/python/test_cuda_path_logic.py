"""The Python side of the GPU path (lplb/_cuda.py) without a GPU.

lplb._core.CudaPlanner is replaced by a host stand-in with the same methods
(DLPack capsules of CPU tensors in, results written through them), built on
the CPU planner. This checks the layer's own logic (composition of run, the
avail counter, per-SM counts, dtype handling) everywhere; test_cuda.py checks
the real kernels on a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import HAVE_TORCH
from lplb_testing import CUBE, draw_ids

pytestmark = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")

if HAVE_TORCH:
    import torch
    from torch.utils.dlpack import from_dlpack

import lplb
from lplb import _core
from lplb._cuda import CudaPath


class HostCudaPlanner:
    """lplb._core.CudaPlanner's interface, computed by the CPU planner."""

    def __init__(self, core, fallback_groups: int = 0) -> None:
        self.core = core
        self.num_experts = core.num_experts
        self.num_probs = core.num_probs
        self.num_groups = core.num_groups
        self.max_ids = 1 << 30
        self.fallback_groups = fallback_groups
        self.counts = None
        self.probs = None
        self.streams = set()

    def count(self, ids, stream):
        self.streams.add(stream)
        t = from_dlpack(ids).numpy()
        self.counts = np.bincount(t[t >= 0], minlength=self.num_experts).astype(np.int64)

    def counts_into(self, out, stream):
        from_dlpack(out).copy_(torch.from_numpy(self.counts))

    def solve(self, workload, stream):
        w = from_dlpack(workload)
        assert w.dtype in (torch.int64, torch.float64)
        self.probs = self.core.solve(w.double().numpy()).probs

    def probs_into(self, out, stream):
        from_dlpack(out).copy_(torch.from_numpy(self.probs))

    def codes_into(self, out, stream):
        codes = np.zeros(self.num_groups, np.int32)
        codes[: self.fallback_groups] = _core.LP_STATUS_IPM_FALLBACK
        from_dlpack(out).copy_(torch.from_numpy(codes))

    def map(self, ids, out, stream, probs=None):
        p = self.probs if probs is None else from_dlpack(probs).numpy()
        self.core.map(from_dlpack(ids).numpy(), p, from_dlpack(out).numpy())

    def check_errors(self, stream):
        pass


def make(fallback_groups: int = 0):
    planner = lplb.Planner(CUBE, 320, 256, 32)
    path = CudaPath(planner.core, 1 << 20, check=True)
    fake = HostCudaPlanner(planner.core, fallback_groups)
    path._planner = lambda device, n_ids=0: fake
    path._stream = lambda device: 1234
    return planner, path, fake


def test_count_workload_matches_the_host_path():
    planner, path, fake = make()
    rng = np.random.default_rng(1)
    for n_sms in (1, 7, 132):
        ids = draw_ids(rng, 256, (int(rng.integers(0, 20000)),))
        counts, by_sm = path.count_workload(torch.from_numpy(ids), n_sms)
        want_counts, want_by_sm = planner.count_workload(ids, n_sms)
        assert counts.dtype == torch.int32 and by_sm.dtype == torch.int32
        np.testing.assert_array_equal(counts.numpy(), want_counts)
        np.testing.assert_array_equal(by_sm.numpy(), want_by_sm)
    assert fake.streams == {1234}  # work goes to the caller's stream


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.float32, torch.float64] if HAVE_TORCH else [])
def test_solve_and_avail_counter(dtype):
    planner, path, _ = make(fallback_groups=1)
    w = torch.arange(256).to(dtype)
    avail = torch.zeros((), dtype=torch.int32)
    probs = path.solve(w, avail)
    assert probs.dtype == torch.float64 and probs.shape == (64,)
    np.testing.assert_array_equal(probs.numpy(), planner.solve(w.numpy()).probs)
    assert int(avail) == planner.n_group - 1  # the fallback group is not counted
    counter = np.zeros(1, np.int64)
    path.solve(w, counter)  # a host counter on a device workload
    assert counter[0] == planner.n_group - 1


def test_map_and_run_equal_the_host_path():
    planner, path, _ = make()
    rng = np.random.default_rng(2)
    planner.update_redundancy_mapping(rng.integers(0, 2**20, 256))
    for dtype in (np.int32, np.int64):
        ids = draw_ids(rng, 256, (30000,)).astype(dtype)
        o_weight = rng.random(64).astype(np.float32)
        out = path.map(torch.from_numpy(ids), torch.from_numpy(o_weight))
        assert out.dtype == torch.from_numpy(ids).dtype
        np.testing.assert_array_equal(out.numpy(), planner.weighted_select_target(ids, o_weight))
        avail = torch.zeros(1, dtype=torch.int64)
        got = path.run(torch.from_numpy(ids), avail, None)
        np.testing.assert_array_equal(got.numpy(), planner.run(ids))
        assert int(avail) == planner.n_group
        # With a reduction: solved on the reduced counts, each token mapped.
        got = path.run(torch.from_numpy(ids), None, lambda t: t * 3)
        counts = np.bincount(ids[ids >= 0], minlength=256) * 3
        probs, _ = planner.solve_probs(counts)
        np.testing.assert_array_equal(got.numpy(), planner.weighted_select_target(ids, probs))
