#!/usr/bin/env python3
"""Measured MoE step time with every balancer (expert parallelism emulated on one device).

Per step and balancer:
  balance + group   logical ids -> physical slots (the balancer), token-expert
                    pairs sorted by slot; one CUDA graph where the balancer
                    allows it, timed with CUDA events around its replay
  experts           rank after rank, each rank's grouped GEMM over its slots
                    (torch._grouped_mm), timed with CUDA events per rank
  step time         slowest rank + the balancer's own time (this method's
                    balance+group time minus none's, which only groups)
The layer's output with each balancer is compared with the unbalanced one on
the first --check-steps steps (fp32, normwise; see README.md for the bound).

    python3 examples/torch_moe/run.py                                   # synthetic, CUDA if present
    python3 examples/torch_moe/run.py --trace data/traces/skewed.json.gz --steps 40
    python3 examples/torch_moe/run.py --device cpu --shapes tiny --ep 8 --tokens-per-rank 64 --window 4 --steps 3

Placements are planned at step --window from the previous --window steps'
counts and refreshed every --window steps, as `lplb simulate --window W
--refresh W --warmup W` does; --out DIR writes the counts used
(trace_used.json.gz) so the simulator replays exactly these steps, the
per-rank timings (measured.json) and a cost-model fit of them
(moe_layer_fit.json, a `--cost-model` table).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lplb  # noqa: E402
from methods import METHODS, SIM_NAME, build  # noqa: E402
from moe_layer import SHAPES, MoELayer, combine, experts_grouped, group_by_slot  # noqa: E402
from workload import SyntheticWorkload, TraceWorkload, load_trace, step_counts, write_trace  # noqa: E402

# The relative error two bf16 computations of the same layer may differ by
# (README.md, "Correctness"): a few bf16 roundings (2^-8 each) flip.
CHECK_RTOL = 1e-2


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto", help="cuda, cpu or auto (default)")
    p.add_argument("--shapes", default="deepseek-v3", choices=sorted(SHAPES))
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    p.add_argument("--ep", type=int, default=32, help="virtual EP ranks P")
    p.add_argument("--redundant", type=int, default=2, help="redundant slots per rank R")
    p.add_argument("--tokens-per-rank", type=int, default=4096)
    p.add_argument("--trace", help="counts[step][layer][expert] JSON(.gz); default: synthetic")
    p.add_argument("--layer", type=int, default=0)
    p.add_argument("--window", type=int, default=100, help="history steps = refresh period = first measured step")
    p.add_argument("--steps", type=int, default=20, help="measured steps")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--check-steps", type=int, default=1, help="steps whose output is checked against none")
    p.add_argument("--cost-model", help="JSON cost model or measure_gemm.py table (default: lplb.CostModel())")
    p.add_argument("--no-graph", action="store_true", help="never capture CUDA graphs")
    p.add_argument("--out", help="directory for trace_used.json.gz, measured.json, moe_layer_fit.json")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


class Clock:
    """CUDA events on a GPU, perf_counter on the CPU; ms."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def start(self):
        if self.cuda:
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            return e
        return time.perf_counter()

    def stop(self, t0):
        if self.cuda:
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            return (t0, e)
        return time.perf_counter() - t0

    def ms(self, mark):
        if self.cuda:
            return mark[0].elapsed_time(mark[1])
        return mark * 1e3


def cost_model(path):
    m = lplb.CostModel()
    d = {"a_us": m.a_us, "b_us_per_token": m.b_us_per_token, "c_us_per_expert": m.c_us_per_expert}
    if path:
        with open(path) as f:
            j = json.load(f)
        if "fits" in j:
            j = j["fits"][j["default_method"]]
        d.update({k: float(j[k]) for k in d if k in j})
    return d


class Front:
    """balance + group for one balancer, replayed from a CUDA graph when the
    balancer allows it (static input ids, static outputs)."""

    def __init__(self, layer, x, ids_shape, device, use_graph):
        self.layer, self.x = layer, x
        b = layer.balancer
        self.ids = torch.zeros(ids_shape, dtype=torch.long, device=device)
        self.graph = None
        if hasattr(b, "probe"):
            b.probe(device)
        if use_graph and device.type == "cuda" and b.capturable:
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(2):
                    self._eager()
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(g):
                    self.out = self._eager()
                self.graph = g
            except RuntimeError as err:  # a balancer that synchronises cannot be captured
                print(f"note: {b.name}: not captured in a CUDA graph, runs eagerly ({err})", flush=True)
                torch.cuda.synchronize(device)

    def _eager(self):
        phys = self.layer.balancer(self.ids)
        return phys, group_by_slot(self.x, phys, self.layer.balancer.num_physical)

    def __call__(self, ids):
        self.ids.copy_(ids)
        if self.graph is None:
            return self._eager()
        self.graph.replay()
        return self.out


def main(argv=None):
    a = parse(argv)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    shapes = SHAPES[a.shapes]
    E, P, R, k = shapes.experts, a.ep, a.redundant, shapes.topk
    T = a.tokens_per_rank * P
    methods = [m for m in a.methods.split(",") if m]
    if "none" in methods:
        methods.remove("none")
    methods = ["none"] + methods  # the baseline of the balancer overhead and the check
    torch.manual_seed(a.seed)
    start, stop = a.window, a.window + a.steps

    if a.trace:
        wl = TraceWorkload(load_trace(a.trace, a.layer), T, k, device, a.seed)
        if wl.num_experts != E:
            raise SystemExit(f"error: --trace has {wl.num_experts} experts, --shapes {a.shapes} has {E}")
    else:
        wl = SyntheticWorkload(stop, T, k, E, device, a.seed)
    if len(wl) < stop:
        raise SystemExit(f"error: --steps: the workload has {len(wl)} steps, {stop} needed")

    # Counts of every step (history and measured): what the balancers plan from
    # and what the simulator replays.
    counts, ids_of = [], {}
    for s in range(stop):
        ids = wl.ids(s)
        counts.append(step_counts(ids, E))
        if s >= start:
            ids_of[s] = ids

    dtype = getattr(torch, a.dtype)
    t0 = time.time()
    layer = MoELayer(shapes, P, dtype=dtype, device=device, seed=a.seed)
    x = torch.randn(T, shapes.hidden, device=device, generator=torch.Generator(device=device).manual_seed(a.seed + 1)).to(dtype)
    print(f"# {a.shapes}: hidden {shapes.hidden}, intermediate {shapes.inter}, {E} experts top-{k}, "
          f"P={P}, R={R}, {a.tokens_per_rank} tokens/rank ({T} tokens), {dtype}, device {device} "
          f"({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), torch {torch.__version__}, "
          f"lplb has_cuda={lplb.has_cuda}; layer built in {time.time() - t0:.1f} s", flush=True)
    weights_of = {s: layer.gate_weights(x, ids_of[s]) for s in range(start, min(stop, start + a.check_steps))}
    cm = cost_model(a.cost_model)
    clock = Clock(device)
    reference, results, rows = {}, {}, []

    for method in methods:
        res = results[method] = {"front_ms": [], "gemm_ms": [], "model_us": [], "check": [], "path": None}
        front = None
        # One untimed pass first: kernel selection and one-time init stay out.
        for s, warm in [(start, True)] + [(s, False) for s in range(start, stop)]:
            if warm or (s - start) % a.window == 0 and s > start:  # (re)plan and lay out the weights
                front = None  # frees the last graph's memory before the new layout
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                layer.set_balancer(build(method, counts[s - a.window : s], E, P, R))
                front = Front(layer, x, (T, k), device, not a.no_graph)
                res["path"] = layer.balancer.path + (" graph" if front.graph is not None else "")
            ids = ids_of[s]
            m = clock.start()
            phys, g = front(ids)
            front_mark = clock.stop(m)
            nl = layer.balancer.n_local
            cnt = g.counts.view(P, nl)
            offs = cnt.cumsum(1).to(torch.int32)
            cnt_h = cnt.cpu().numpy()  # synchronises: the rank loop slices on the host
            rows_r = cnt_h.sum(1)
            begin = np.concatenate([[0], np.cumsum(rows_r)])
            check = s in weights_of and not warm
            out = torch.zeros(T, shapes.hidden, dtype=torch.float32, device=device) if check else None
            marks = []
            for r in range(P):
                if rows_r[r] == 0:
                    marks.append(None)
                    continue
                w1, w2 = layer.rank_weights(r)
                xr = g.x[begin[r] : begin[r + 1]]
                m = clock.start()
                y = experts_grouped(xr, w1, w2, offs[r])
                marks.append(clock.stop(m))
                if check:
                    sl = slice(begin[r], begin[r + 1])
                    w = weights_of[s].reshape(-1)[g.order[sl]].float().unsqueeze(1)
                    out.index_add_(0, g.token[sl], y.float() * w)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if warm:
                del g, phys, out
                continue
            t_r = np.array([0.0 if mk is None else clock.ms(mk) for mk in marks])
            res["front_ms"].append(clock.ms(front_mark))
            active = (cnt_h > 0).sum(1)
            model = cm["a_us"] + cm["b_us_per_token"] * rows_r + cm["c_us_per_expert"] * active
            model[rows_r == 0] = 0.0
            res["gemm_ms"].append(float(t_r.max()))
            res["model_us"].append(float(model.max()))
            rows += [
                {"method": method, "step": s, "rank": r, "tokens": int(rows_r[r]), "active": int(active[r]),
                 "time_us": float(t_r[r] * 1e3)}
                for r in range(P) if rows_r[r] > 0
            ]
            if check:
                # Every pair stays with its expert, and the output equals none's.
                assert bool((layer.balancer.phy2log.to(device)[phys] == ids).all()), f"{method}: a token changed expert"
                if method == "none":
                    reference[s] = out
                else:
                    ref = reference[s]
                    rel = float((out - ref).norm() / ref.norm())
                    res["check"].append(rel)
                    if not (rel <= CHECK_RTOL and torch.isfinite(out).all()):
                        raise SystemExit(f"error: {method}: output differs from none by {rel:.3g} (> {CHECK_RTOL})")
            del g, phys, out
        print(f"  {method}: {len(res['gemm_ms'])} steps, path {res['path']}", flush=True)

    report(results, methods, rows, cm, a, counts, start, stop, E, P, T, k)


def fit(rows):
    """Least squares time_us = a + b * tokens + c * active over the rank
    timings, with c >= 0 (at thousands of tokens per expert the active count
    barely varies and an unconstrained c can come out negative)."""
    X = np.array([[1.0, r["tokens"], r["active"]] for r in rows])
    y = np.array([r["time_us"] for r in rows])
    if len(rows) < 3 or np.linalg.matrix_rank(X) < 2:
        return None
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    if coef[2] < 0:
        ab, *_ = np.linalg.lstsq(X[:, :2], y, rcond=None)
        coef = np.array([ab[0], ab[1], 0.0])
    rel = np.abs(X @ coef - y) / y
    return {"a_us": float(coef[0]), "b_us_per_token": float(coef[1]), "c_us_per_expert": float(coef[2]),
            "fit_error": {"n": len(rows), "mean_rel": float(rel.mean()), "max_rel": float(rel.max())}}


def report(results, methods, rows, cm, a, counts, start, stop, E, P, T, k):
    base_front = float(np.median(results["none"]["front_ms"]))
    base = None
    lines = []
    hdr = (f"{'method':<10} {'path':<11} {'bal us':>7} {'gemm rel':>8} {'model rel':>9} {'model err':>9} "
           f"{'step ms':>8} {'step rel':>8} {'p99 ms':>7} {'p99 rel':>7} {'abs err':>7} {'check':>7}")
    for m in methods:
        r = results[m]
        overhead = 0.0 if m == "none" else max(0.0, float(np.median(r["front_ms"])) - base_front)
        gemm = np.array(r["gemm_ms"])
        step = gemm + overhead
        model = np.array(r["model_us"]) / 1e3
        if base is None:
            base = (gemm.mean(), step.mean(), np.percentile(step, 99), model.mean())
        grel, rel, p99rel = gemm.mean() / base[0], step.mean() / base[1], np.percentile(step, 99) / base[2]
        mrel = model.mean() / base[3]
        abs_err = float(np.mean(np.abs(model - gemm) / gemm))
        r.update(overhead_us=overhead * 1e3, gemm_ms_mean=float(gemm.mean()), gemm_rel=float(grel),
                 step_ms_mean=float(step.mean()), step_ms_p99=float(np.percentile(step, 99)),
                 rel_mean=float(rel), rel_p99=float(p99rel), model_rel=float(mrel),
                 model_err=float((mrel - grel) / grel), model_abs_err=abs_err,
                 check_max=float(max(r["check"])) if r["check"] else 0.0)
        lines.append(f"{m:<10} {r['path']:<11} {overhead * 1e3:>7.0f} {grel:>8.3f} {mrel:>9.3f} "
                     f"{r['model_err']:>+9.1%} {step.mean():>8.3f} {rel:>8.3f} {np.percentile(step, 99):>7.3f} "
                     f"{p99rel:>7.3f} {abs_err:>7.1%} {r['check_max']:>7.1e}")
    print(f"\nsteps {start}..{stop - 1} ({stop - start} measured); cost model a={cm['a_us']:.3g} us, "
          f"b={cm['b_us_per_token']:.4g} us/token, c={cm['c_us_per_expert']:.3g} us/active expert")
    print(hdr)
    print("\n".join(lines))
    print("bal us: balance+group time minus none's (median); gemm rel: slowest rank's measured expert GEMM time, "
          "mean over steps, to none;\nmodel rel: the cost model's slowest rank on the same per-rank loads, to none; "
          "model err: (model rel - gemm rel) / gemm rel;\nstep = slowest rank + bal (mean, p99 over steps; rel: to "
          "none); abs err: mean |modelled - measured| / measured slowest-rank time;\ncheck: "
          "|out - out_none| / |out_none| (fp32)")
    f = fit(rows)
    if f:
        e = f["fit_error"]
        print(f"fit over {e['n']} rank timings: time_us = {f['a_us']:.3g} + {f['b_us_per_token']:.4g} * tokens + "
              f"{f['c_us_per_expert']:.3g} * active (mean {e['mean_rel']:.1%}, max {e['max_rel']:.1%} error)")
    pending = [m for m in methods if results[m]["path"] and results[m]["path"].startswith("cpu") and m.endswith("_lp")]
    if pending:
        print(f"note: {', '.join(pending)} ran the placement LP on the CPU (no GPU placement planner in this lplb); "
              "its balancer time includes the device<->host copies")
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        write_trace(os.path.join(a.out, "trace_used.json.gz"), counts[:stop],
                    {"experts": E, "topk": k, "layers": 1, "tokens_per_step": T, "source": a.trace or "synthetic"})
        with open(os.path.join(a.out, "measured.json"), "w") as fh:
            json.dump({"args": vars(a), "cost_model": cm, "start": start, "stop": stop,
                       "sim_methods": [SIM_NAME[m] for m in methods], "results": results, "rows": rows}, fh)
        if f:
            with open(os.path.join(a.out, "moe_layer_fit.json"), "w") as fh:
                json.dump({"description": "cost model fitted to the measured per-rank grouped GEMMs of "
                           "examples/torch_moe/run.py", "fits": {"moe_layer": f}, "default_method": "moe_layer"}, fh)
        print(f"simulator on the same steps: lplb simulate --trace {a.out}/trace_used.json.gz --window {a.window} "
              f"--refresh {a.window} --warmup {start} --ep {P} --redundant {a.redundant} "
              f"--methods {','.join(SIM_NAME[m] for m in methods)} [--cost-model FILE]")


if __name__ == "__main__":
    with torch.no_grad():
        main()
