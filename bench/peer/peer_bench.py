"""Times and scores one `lplb` package (deepseek-ai/LPLB or ours) on the GPU.
(bench/peer/README.md says how the side-by-side is run; --quality adds the
balance scoring over 200 workloads per kind, off by default to keep a run
short.)

Run once per package in its own process, with PYTHONPATH pointing at that
package (both are named `lplb`):

    PYTHONPATH=<lplb src> python3 peer_bench.py --pkg lplb --out res_lplb.json
    PYTHONPATH=<ours>     python3 peer_bench.py --pkg ours --out res_ours.json
    python3 peer_bench.py --first-call --pkg lplb --config cube32 --out fc.json

Inputs are drawn from CPU torch generators with fixed seeds, so both processes
see the same workloads, histories and ids. Per config (LPLB's tests):
  - solve_probs(workload, avail_counter) latency: CUDA events around each of
    N calls (median), the mean over the back-to-back loop, and the median of
    CUDA graph replays of one captured call (if capture works);
  - run(idx, avail_counter, n_sms) latency on idx 4096x8 int64 (and int32);
  - quality on 200 workloads each of three kinds: max/mean rank load after
    balancing, computed as LPLB's tests/test_solve.py does, plus LPLB's
    fallback (avail_counter < n_group) and probs outside [0, 1].
Probs and workloads go to an .npz next to --out for offline comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
import traceback

T_IMPORT0 = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402

T_TORCH = time.perf_counter()
if os.environ.get("PEER_IMPORT_DIST"):  # work-around probe for LPLB's binding (see device_run.sh)
    import torch.distributed  # noqa: F401

CUBE_8P2E = torch.tensor([[3, 0, 1, 2, 7, 4, 5, 6], [6, 7, 4, 5, 0, 1, 2, 3]]).T
RING_8P = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 0]]).T
HYPERCUBE_16P2E = torch.tensor(
    [
        [3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14],
        [12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ]
).T


def torus_2d(m: int, n: int) -> torch.Tensor:  # as LPLB's tests/utils.py
    return torch.tensor(
        [[(i + 1) % m * n + j, i * n + (j + 1) % n] for i in range(m) for j in range(n)]
    )


# name: (r2o, n_logical, ep_size, redundants per rank, reorder with a history)
CONFIGS = {
    "cube_ep32": (CUBE_8P2E, 256, 32, 2, True),
    "cube_ep64": (CUBE_8P2E, 256, 64, 2, True),
    "hypercube_ep16": (HYPERCUBE_16P2E, 256, 16, 2, True),
    "torus8x4_ep32": (torus_2d(8, 4), 256, 32, 2, False),
    "ring8_ep32_R1": (RING_8P, 256, 32, 1, True),
}

N_QUALITY = 200
QUALITY = False  # --quality
KINDS = ("normal", "zipf0.5", "zipf1.0")


def make_planner(pkg, lplb, name, extra=None):
    r2o, E, P, R, _ = CONFIGS[name]
    kw = {}
    if pkg == "ours":
        # LPLB's EPLB reorder uses nodes = ep_size // torch.cuda.device_count();
        # ours takes the node size explicitly. Match it on this host.
        kw["gpus_per_node"] = torch.cuda.device_count()
        kw.update(extra or {})
    return lplb.Planner(r2o.int().cuda(), E + R * P, E, P, **kw)


def history(name):
    r2o, E, P, R, reorder = CONFIGS[name]
    if not reorder:
        return None
    g = torch.Generator().manual_seed(42)
    h = torch.randn(E, generator=g) * 0.15 + 1
    return h.clamp_min(0).mul(2**20).long().cuda()


def workloads(name, kind, n):
    """n int32 workloads [E] of one kind (CPU generator, same in both processes)."""
    _, E, _, _, _ = CONFIGS[name]
    seed = {"normal": 1, "zipf0.5": 2, "zipf1.0": 3}[kind] * 1000 + sum(map(ord, name))
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        if kind == "normal":  # LPLB's test_solve.py current_workload
            w = (torch.randn(E, generator=g) * 0.3 + 1).clamp_min(0).mul(2**12).int()
        else:  # E * 4096 tokens over experts with Zipf(s) popularity, shuffled
            s = float(kind[4:])
            p = np.arange(1, E + 1, dtype=np.float64) ** -s
            p = p[rng.permutation(E)]
            w = torch.from_numpy(rng.multinomial(E * 4096, p / p.sum()).astype(np.int32))
        out.append(w)
    return torch.stack(out).cuda()


def rank_balance(planner, phy2log, r2o, P, w, probs):
    """LPLB tests/test_solve.py's per-rank loads and max/mean (torch, float64)."""
    S, D = r2o.shape
    G = P // S
    C = planner.combined_redundant_experts
    w = w.double()
    phy = w[phy2log.long()].reshape(G, S, -1)
    dup = phy[:, :, : C * D].reshape(G, S, C, D).sum(2)
    probs = probs.double().reshape(G, S, D)
    dup = dup * probs + (dup * (1 - probs)).gather(dim=1, index=r2o.long().cuda().expand(*probs.shape))
    dup = dup.sum(2)
    fixed = phy[:, :, C * D : -C * D].sum(2)
    actual = dup + fixed
    return float(actual.max() / actual.mean()), actual.flatten()


def time_calls(fn, n=500, warm=50):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    st = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    en = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    t0 = time.perf_counter()
    for i in range(n):
        st[i].record()
        fn()
        en[i].record()
    t1 = time.perf_counter()
    torch.cuda.synchronize()
    per = [a.elapsed_time(b) * 1e3 for a, b in zip(st, en)]
    return {
        "event_median_us": statistics.median(per),
        "event_p10_us": float(np.percentile(per, 10)),
        "event_p90_us": float(np.percentile(per, 90)),
        "loop_mean_us": st[0].elapsed_time(en[-1]) * 1e3 / n,
        "host_issue_mean_us": (t1 - t0) * 1e6 / n,
        "n": n,
    }


def time_sync(fn, n=200, warm=20):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    per = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        per.append((time.perf_counter() - t0) * 1e6)
    return {"sync_wall_median_us": statistics.median(per), "n": n}


def time_graph(fn, n=500, warm=3):
    """Captures one call of fn in a CUDA graph; median of n timed replays."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(warm):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    torch.cuda.synchronize()
    for _ in range(20):
        g.replay()
    torch.cuda.synchronize()
    st = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    en = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    for i in range(n):
        st[i].record()
        g.replay()
        en[i].record()
    torch.cuda.synchronize()
    per = [a.elapsed_time(b) * 1e3 for a, b in zip(st, en)]
    return {
        "graph_median_us": statistics.median(per),
        "graph_loop_mean_us": st[0].elapsed_time(en[-1]) * 1e3 / n,
        "n": n,
    }


def guarded(what, fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        msg = f"{type(e).__name__}: {str(e).strip()[:600]}"
        print(f"  [{what}] FAILED: {msg}", flush=True)
        return {"error": msg}


def bench_graphs(pkg, lplb, name):
    """CUDA graph replays only, in a process of their own: a capture that
    fails cannot spoil the eager and quality numbers."""
    r2o, E, P, R, _ = CONFIGS[name]
    planner = make_planner(pkg, lplb, name)
    planner.update_redundancy_mapping(history(name))
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    w = workloads(name, "normal", 1)[0].contiguous()
    counter = torch.zeros((), dtype=torch.int32, device="cuda")
    res = {"solve_graph": guarded("solve_graph", lambda: time_graph(lambda: planner.solve_probs(w, counter)))}
    print(f"  solve_graph: {res['solve_graph']}", flush=True)
    g = torch.Generator().manual_seed(7 + sum(map(ord, name)))
    idx64 = torch.randint(-1, E, (4096, 8), generator=g).cuda()
    for dt, idx in (("int64", idx64), ("int32", idx64.int())):
        c2 = torch.zeros((), dtype=torch.int32, device="cuda")
        res[f"run_{dt}_graph"] = guarded(f"run_{dt}_graph", lambda: time_graph(lambda: planner.run(idx, c2, sms)))
        print(f"  run_{dt}_graph: {res[f'run_{dt}_graph']}", flush=True)
    return res


def bench_config(pkg, lplb, name, npz):
    r2o, E, P, R, _ = CONFIGS[name]
    res = {}
    t0 = time.perf_counter()
    planner = make_planner(pkg, lplb, name)
    torch.cuda.synchronize()
    res["construct_s"] = time.perf_counter() - t0
    h = history(name)
    phy2log = planner.update_redundancy_mapping(h)[0]
    p2l = phy2log.detach().cpu().numpy().astype(np.int64)
    res["phy2log_sha1"] = hashlib.sha1(p2l.tobytes()).hexdigest()[:12]
    npz[f"{name}/phy2log"] = p2l
    G = P // r2o.shape[0]
    res["n_group"] = G
    sms = torch.cuda.get_device_properties(0).multi_processor_count

    # 1. solve latency on one fixed workload
    w = workloads(name, "normal", 1)[0].contiguous()
    counter = torch.zeros((), dtype=torch.int32, device="cuda")

    def solve():
        return planner.solve_probs(w, counter)

    res["solve"] = guarded("solve", lambda: time_calls(solve))
    res["solve_sync"] = guarded("solve_sync", lambda: time_sync(solve))
    print(f"  solve: {res['solve']}", flush=True)

    # 2. full pipeline on 4096x8 ids with some -1
    g = torch.Generator().manual_seed(7 + sum(map(ord, name)))
    idx64 = torch.randint(-1, E, (4096, 8), generator=g).cuda()
    for dt, idx in (("int64", idx64), ("int32", idx64.int())):
        c2 = torch.zeros((), dtype=torch.int32, device="cuda")

        def run(idx=idx, c2=c2):
            return planner.run(idx, c2, sms)

        def first(idx=idx, c2=c2):
            out = run(idx, c2)
            torch.cuda.synchronize()
            ok = bool(((out == -1) == (idx == -1)).all()) and int(out.max()) < E + R * P
            return {"ok": ok, "dtype_out": str(out.dtype).replace("torch.", "")}

        r = {"check": guarded(f"run_{dt}", first)}
        if "error" not in r["check"]:
            r["eager"] = guarded(f"run_{dt}", lambda: time_calls(run))
        res[f"run_{dt}"] = r
        print(f"  run {dt}: {r}", flush=True)

    if not QUALITY:
        return res
    # 4. quality
    q = {}
    for kind in KINDS:
        ws = workloads(name, kind, N_QUALITY)
        bal, bal0, fb, fb_groups, outside, any_out, probs_all, err = [], [], 0, 0, 0, 0, [], None
        ones = torch.ones(G * r2o.shape[0] * r2o.shape[1], device="cuda")
        try:
            for i in range(N_QUALITY):
                c = torch.zeros((), dtype=torch.int32, device="cuda")
                probs, _ = planner.solve_probs(ws[i].contiguous(), c)
                probs = probs.float()
                cnt = int(c)
                if cnt < G:
                    fb += 1
                    fb_groups += G - cnt
                o = int(((probs < 0) | (probs > 1)).sum())
                outside += o
                any_out += o > 0
                b, _ = rank_balance(planner, phy2log, r2o, P, ws[i], probs)
                b0, _ = rank_balance(planner, phy2log, r2o, P, ws[i], ones)
                bal.append(b)
                bal0.append(b0)
                probs_all.append(probs.flatten().cpu().numpy())
        except Exception as e:  # noqa: BLE001
            err = f"{type(e).__name__}: {e}"
        q[kind] = {
            "n": len(bal),
            "balance_mean": float(np.mean(bal)) if bal else None,
            "balance_median": float(np.median(bal)) if bal else None,
            "balance_max": float(np.max(bal)) if bal else None,
            "before_mean": float(np.mean(bal0)) if bal0 else None,
            "fallback_solves": fb,
            "fallback_groups": fb_groups,
            "probs_outside_01_entries": outside,
            "probs_outside_01_solves": any_out,
            "error": err,
        }
        npz[f"{name}/{kind}/balance"] = np.array(bal)
        npz[f"{name}/{kind}/probs"] = np.array(probs_all)
        if pkg == "lplb":
            npz[f"{name}/{kind}/workloads"] = ws.cpu().numpy()
        print(f"  quality {kind}: {q[kind]}", flush=True)
    res["quality"] = q

    if pkg == "ours":  # our port of LPLB's IPM, as a cross-check of LPLB's probs
        def ipm():
            pl = make_planner(pkg, lplb, name, {"solver": "ipm"})
            pl.update_redundancy_mapping(h)
            out = {}
            for kind in KINDS:
                ws = workloads(name, kind, N_QUALITY)
                pr = []
                for i in range(N_QUALITY):
                    c = torch.zeros((), dtype=torch.int32, device="cuda")
                    pr.append(pl.solve_probs(ws[i].contiguous(), c)[0].float().flatten().cpu().numpy())
                npz[f"{name}/{kind}/probs_ipm"] = np.array(pr)
                out[kind] = len(pr)
            return out

        res["ipm_crosscheck"] = guarded("ipm", ipm)
    return res


def first_call(pkg, name):
    """Fresh-process cost: import, construct (LPLB JITs here), first solve."""
    t0 = time.perf_counter()
    import lplb

    t1 = time.perf_counter()
    r2o, E, P, R, _ = CONFIGS[name]
    torch.cuda.init()
    torch.zeros(1, device="cuda")
    torch.cuda.synchronize()
    t2 = time.perf_counter()
    planner = make_planner(pkg, lplb, name)
    torch.cuda.synchronize()
    t3 = time.perf_counter()
    w = workloads(name, "normal", 1)[0].contiguous()
    c = torch.zeros((), dtype=torch.int32, device="cuda")
    torch.cuda.synchronize()
    t4 = time.perf_counter()
    planner.solve_probs(w, c)
    torch.cuda.synchronize()
    t5 = time.perf_counter()
    planner.solve_probs(w, c)
    torch.cuda.synchronize()
    t6 = time.perf_counter()
    return {
        "config": name,
        "import_torch_s": T_TORCH - T_IMPORT0,
        "import_lplb_s": t1 - t0,
        "cuda_init_s": t2 - t1,
        "construct_s": t3 - t2,
        "first_solve_s": t5 - t4,
        "second_solve_s": t6 - t5,
        "construct_plus_first_solve_s": t5 - t2,
        "cache": os.environ.get("LPLB_CACHE_PATH"),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pkg", choices=("lplb", "ours"), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--first-call", action="store_true")
    ap.add_argument("--config", default="cube_ep32")
    ap.add_argument("--graphs", action="store_true", help="CUDA graph replays only")
    ap.add_argument("--quality", action="store_true", help="also score balance (slow)")
    a = ap.parse_args()
    global QUALITY
    QUALITY = a.quality
    if a.first_call:
        r = first_call(a.pkg, a.config)
        print(json.dumps(r), flush=True)
        with open(a.out, "w") as f:
            json.dump(r, f, indent=1)
        return
    import lplb

    info = {
        "pkg": a.pkg,
        "lplb_file": lplb.__file__,
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0),
        "sms": torch.cuda.get_device_properties(0).multi_processor_count,
        "has_cuda_backend": getattr(lplb, "has_cuda", None),
    }
    print(info, flush=True)
    out = {"info": info, "configs": {}}
    npz = {}
    for name in a.configs.split(","):
        print(f"== {a.pkg} {name}", flush=True)
        try:
            if a.graphs:
                out["configs"][name] = bench_graphs(a.pkg, lplb, name)
            else:
                out["configs"][name] = bench_config(a.pkg, lplb, name, npz)
        except Exception:  # noqa: BLE001
            tb = traceback.format_exc()
            print(tb, flush=True)
            out["configs"][name] = {"error": tb[-1500:]}
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)
    if npz:
        np.savez_compressed(os.path.splitext(a.out)[0] + ".npz", **npz)
    print("done", flush=True)


if __name__ == "__main__":
    sys.exit(main())
