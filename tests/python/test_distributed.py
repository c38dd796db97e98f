"""Planner(group=...): workloads are all-reduced through torch.distributed
before solving, so every rank solves the same LPs (gloo, 2 CPU processes)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import HAVE_TORCH

pytestmark = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")

WORLD = 2
CUBE = [[3, 6], [0, 7], [1, 4], [2, 5], [7, 0], [4, 1], [5, 2], [6, 3]]


def local_ids(rank: int) -> np.ndarray:
    rng = np.random.default_rng(100 + rank)
    pop = rng.dirichlet(np.full(64, 0.5))
    ids = rng.choice(64, size=(512, 4), p=pop).astype(np.int64)
    ids[rng.random(ids.shape) < 0.05] = -1
    return ids


def worker(rank: int, init_file: str, results) -> None:
    import torch
    import torch.distributed as dist

    import lplb

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        group = dist.new_group(list(range(WORLD)))
        # ep_size comes from the group; 8 ranks of EP are simulated by 2
        # processes, so pass it explicitly as the reference allows.
        planner = lplb.Planner(torch.tensor(CUBE), 64 + 2 * 8, 64, ep_size=8, group=group)
        ids = local_ids(rank)
        out = {}
        for name, make in (("torch", torch.from_numpy), ("numpy", lambda a: a)):
            counts, _ = planner.count_workload(make(ids), 2)
            avail = make(np.zeros((), np.int32))
            probs, global_workload = planner.solve_probs(counts, avail)
            mapped = planner.run(make(ids), make(np.zeros((), np.int32)))
            out[name] = (
                np.asarray(probs),
                np.asarray(global_workload),
                int(avail),
                np.asarray(mapped),
            )
        small = lplb.Planner(torch.tensor([[1], [0]]), 64 + 2, 64, group=group)  # ep_size = group size
        out["ep_size"] = small.ep_size
        results[rank] = out
    finally:
        dist.destroy_process_group()


def test_workload_is_all_reduced(tmp_path):
    import torch.multiprocessing as mp

    import lplb

    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(worker, args=(str(tmp_path / "init"), results), nprocs=WORLD, join=True)

    total = sum(np.bincount(local_ids(r)[local_ids(r) >= 0], minlength=64) for r in range(WORLD))
    reference = lplb.Planner(np.array(CUBE), 80, 64, 8)
    want_probs, _ = reference.solve_probs(total)
    for rank in range(WORLD):
        for name in ("torch", "numpy"):
            probs, global_workload, avail, mapped = results[rank][name]
            np.testing.assert_array_equal(global_workload.reshape(-1), total.astype(np.float32))
            np.testing.assert_array_equal(probs, want_probs)  # every rank solves the same LP
            assert avail == reference.n_group
            # Each rank maps its own tokens with the shared probs.
            np.testing.assert_array_equal(
                mapped, reference.weighted_select_target(local_ids(rank), want_probs)
            )
        assert results[rank]["ep_size"] == WORLD
