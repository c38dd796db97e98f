"""Where the host time of an eager Planner.run / solve_probs goes (torch CUDA
tensors, no graph, check_errors=False): each piece of the fast path timed
alone with time.perf_counter_ns, medians of batches.

    PYTHONPATH=<lplb install> python3 bench/eager_profile.py

The device is synchronised between batches of 50 calls (not timed), so the
launch queue never fills and the figures are host issue costs, not device
time.
"""

from __future__ import annotations

import statistics
import time

import torch

import lplb

CUBE = torch.tensor([[3, 0, 1, 2, 7, 4, 5, 6], [6, 7, 4, 5, 0, 1, 2, 3]]).T


def per_call_us(fn, batches=40, per_batch=50):
    for _ in range(per_batch):
        fn()
    torch.cuda.synchronize()
    meds = []
    for _ in range(batches):
        t0 = time.perf_counter_ns()
        for _ in range(per_batch):
            fn()
        t1 = time.perf_counter_ns()
        torch.cuda.synchronize()
        meds.append((t1 - t0) / per_batch / 1e3)
    return statistics.median(meds)


def main():
    planner = lplb.Planner(CUBE.int().cuda(), 256 + 64, 256, 32, gpus_per_node=8)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(-1, 256, (4096, 8), generator=g).cuda()
    ids32 = ids.int()
    w = (torch.randn(256, generator=g) * 0.3 + 1).clamp_min(0).mul(4096).int().cuda()
    c32 = torch.zeros((), dtype=torch.int32, device="cuda")
    planner.run(ids, c32)  # creates the device planner
    torch.cuda.synchronize()
    gpu = planner._gpu
    gpu._init_fast()
    cp = gpu._by_device[0]
    out = torch.empty_like(ids)
    probs = torch.empty(planner.n_group, 8, 2, dtype=torch.float32, device="cuda")
    wout = torch.empty(planner.n_group, 8, 8, dtype=torch.float32, device="cuda")
    s = gpu._raw_stream(0)
    rows = [
        ("torch.cuda.current_stream(0).cuda_stream", lambda: torch.cuda.current_stream(0).cuda_stream),
        ("raw current stream (cached path)", lambda: gpu._raw_stream(0)),
        ("torch.empty_like(ids)", lambda: torch.empty_like(ids)),
        ("torch.empty((4,8,2), float32, cuda)", lambda: torch.empty((4, 8, 2), dtype=torch.float32, device="cuda")),
        ("to_dlpack(ids) (the old path, per tensor)", lambda: torch.utils.dlpack.to_dlpack(ids)),
        ("with torch.cuda.device(ids.device) (the old path)", lambda: torch.cuda.device(ids.device).__enter__()),
        ("ids checks (type, is_cuda, dtype, contiguous, device, numel)",
         lambda: (type(ids) is torch.Tensor, ids.is_cuda, ids.dtype, ids.is_contiguous(), ids.get_device(), ids.numel())),
        ("ids.data_ptr()", lambda: ids.data_ptr()),
        ("cp.run_raw (count+solve+map launches)", lambda: cp.run_raw(ids.data_ptr(), ids.numel(), True, out.data_ptr(), s, c32.data_ptr(), False)),
        ("cp.solve_raw (one launch)", lambda: cp.solve_raw(w.data_ptr(), 0, probs.data_ptr(), wout.data_ptr(), s, c32.data_ptr(), False)),
        ("Planner.run(int64 ids, counter)", lambda: planner.run(ids, c32)),
        ("Planner.run(int32 ids, counter)", lambda: planner.run(ids32, c32)),
        ("Planner.run(int64 ids, counter, n_sms=132)", lambda: planner.run(ids, c32, 132)),
        ("Planner.solve_probs(int32 w, counter)", lambda: planner.solve_probs(w, c32)),
        ("Planner.solve_probs(int32 w)", lambda: planner.solve_probs(w)),
        ("Planner.count_workload(ids, 132) (general path)", lambda: planner.count_workload(ids, 132)),
    ]
    print(f"lplb {lplb.__file__}, torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    print("| host piece (cube ep 32, 4096x8 ids) | us per call |")
    print("|---|---|")
    for name, fn in rows:
        print(f"| {name} | {per_call_us(fn):.2f} |", flush=True)


if __name__ == "__main__":
    main()
