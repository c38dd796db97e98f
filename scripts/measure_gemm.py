#!/usr/bin/env python3
"""Measure one EP rank's MoE grouped-GEMM time on a GPU and fit lplb's cost model.

The cost model: a rank's MoE time is a grouped GEMM over its active experts, which is
not proportional to its token count. This script times, in bf16, a
DeepSeek-V3-like expert (hidden 7168, intermediate 2048):

    h = x_e @ W1_e          [t_e x 7168] x [7168 x 4096]   (gate + up)
    a = silu(h[:, :2048]) * h[:, 2048:]
    y_e = a @ W2_e          [t_e x 2048] x [2048 x 7168]   (down)

for one rank holding n active experts (1..16) with t_e tokens each, two ways:
  - "grouped": torch._grouped_mm over all n experts (one kernel per projection),
  - "loop":    one torch.matmul per expert, the whole loop in one CUDA graph.
Each configuration is replayed as a CUDA graph; L2 is flushed before every
timed replay (real layers evict it); the figure is the median of the CUDA-event
times. Uniform configurations (every active expert gets t tokens) form the fit
set; random skewed ones (per-expert tokens drawn log-uniformly) are held out to
check that the model, which sees only the sums, also holds for uneven splits.

The fit, by least squares over the fit set:

    time_us = a + b * tokens + c * active_experts

of the method it describes best ("default_method" in the table) is the default
of lplb::CostModel (include/lplb/objective.hpp).

Usage (on a GPU machine):
    python3 scripts/measure_gemm.py --out bench/data/gemm_h200.json
Re-fit a stored table without a GPU:
    python3 scripts/measure_gemm.py --fit-only bench/data/gemm_h200.json
Print a stored table's summary (markdown, as in bench/RESULTS.md):
    python3 scripts/measure_gemm.py --summary bench/data/gemm_h200.json
"""
import argparse
import json
import math
import random
import statistics
import sys
import time

HIDDEN = 7168
INTER = 2048
TOKENS_GRID = [1, 8, 16, 32, 64, 96, 128, 192, 256, 320, 384, 448, 512]


def fit(rows, method):
    """Least squares time_us = a + b*tokens + c*active over rows of one method."""
    import numpy as np

    pts = [r for r in rows if r["method"] == method and r["set"] == "fit"]
    if len(pts) < 3:
        return None
    X = np.array([[1.0, r["tokens"], r["active"]] for r in pts])
    y = np.array([r["time_us"] for r in pts])
    (a, b, c), *_ = np.linalg.lstsq(X, y, rcond=None)

    def errors(sel):
        if not sel:
            return None
        rel = [abs(a + b * r["tokens"] + c * r["active"] - r["time_us"]) / r["time_us"] for r in sel]
        return {"n": len(sel), "max_rel": max(rel), "mean_rel": sum(rel) / len(rel)}

    hold = [r for r in rows if r["method"] == method and r["set"] == "holdout"]
    return {
        "a_us": float(a),
        "b_us_per_token": float(b),
        "c_us_per_expert": float(c),
        "fit_error": errors(pts),
        "holdout_error": errors(hold),
    }


def add_fits(doc):
    doc["fits"] = {}
    for method in sorted({r["method"] for r in doc["rows"]}):
        f = fit(doc["rows"], method)
        if f is not None:
            doc["fits"][method] = f
    # The default model is the method the linear model describes best (on the
    # H200 both methods take the same total time over the grid, within 2%).
    if doc["fits"]:
        doc["default_method"] = min(doc["fits"], key=lambda m: doc["fits"][m]["fit_error"]["mean_rel"])
    return doc


def print_fits(doc):
    for m, f in doc["fits"].items():
        e, h = f["fit_error"], f["holdout_error"]
        print(
            f"{m}: time_us = {f['a_us']:.3f} + {f['b_us_per_token']:.5f} * tokens + "
            f"{f['c_us_per_expert']:.3f} * active; fit rel err max {e['max_rel']:.3f} "
            f"mean {e['mean_rel']:.3f}"
            + (f"; holdout max {h['max_rel']:.3f} mean {h['mean_rel']:.3f}" if h else "")
        )


def measure(args):
    import torch

    dev = torch.device("cuda")
    torch.manual_seed(0)
    rng = random.Random(0)
    n_max = args.max_experts
    # Weights stored [n, out, in] (row-major); the projections use their transposes.
    w1 = (torch.randn(n_max, 2 * INTER, HIDDEN, device=dev) * 0.02).to(torch.bfloat16)
    w2 = (torch.randn(n_max, HIDDEN, INTER, device=dev) * 0.02).to(torch.bfloat16)
    max_tokens = n_max * max(TOKENS_GRID)
    x_all = torch.randn(max_tokens, HIDDEN, device=dev).to(torch.bfloat16)
    flush = torch.empty(256 * 1024 * 1024 // 4, dtype=torch.float32, device=dev)  # 256 MB > L2
    has_grouped = hasattr(torch, "_grouped_mm")

    def expert_loop(x, tokens):
        out, start = [], 0
        for e, t in enumerate(tokens):
            h = torch.matmul(x[start : start + t], w1[e].t())
            a = torch.nn.functional.silu(h[:, :INTER]) * h[:, INTER:]
            out.append(torch.matmul(a, w2[e].t()))
            start += t
        return out

    def expert_grouped(x, tokens, offs):
        n = len(tokens)
        h = torch._grouped_mm(x, w1[:n].transpose(-2, -1), offs=offs)
        a = torch.nn.functional.silu(h[:, :INTER]) * h[:, INTER:]
        return torch._grouped_mm(a.contiguous(), w2[:n].transpose(-2, -1), offs=offs)

    def time_fn(fn):
        """Median CUDA-event time (us) of graph replays of fn, L2 flushed before each."""
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):
                fn()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            fn()
        for _ in range(3):
            g.replay()
        times = []
        for _ in range(args.repeats):
            flush.zero_()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            g.replay()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) * 1000.0)
        del g
        return statistics.median(times), min(times)

    methods = ["grouped", "loop"] if has_grouped else ["loop"]
    # One check that both methods compute the same thing.
    check = {}
    if has_grouped:
        try:
            tokens = [5, 17, 64]
            n_tok = sum(tokens)
            offs = torch.tensor(list(itertools_accumulate(tokens)), dtype=torch.int32, device=dev)
            ref = torch.cat(expert_loop(x_all[:n_tok], tokens))
            got = expert_grouped(x_all[:n_tok], tokens, offs)
            check["grouped_vs_loop_max_abs_diff"] = float((ref.float() - got.float()).abs().max())
            check["loop_max_abs"] = float(ref.float().abs().max())
        except Exception as exc:  # grouped_mm unsupported here: loop only
            check["grouped_error"] = repr(exc)
            methods = ["loop"]

    configs = []
    for n in range(1, n_max + 1):
        for t in TOKENS_GRID:
            configs.append(("fit", [t] * n))
    for _ in range(args.holdout):
        n = rng.randint(1, n_max)
        configs.append(("holdout", [int(round(math.exp(rng.uniform(0, math.log(512))))) for _ in range(n)]))

    rows, t0 = [], time.time()
    for k, (kind, tokens) in enumerate(configs):
        if time.time() - t0 > args.budget_s:
            print(f"time budget reached after {k} of {len(configs)} configurations", flush=True)
            break
        n_tok = sum(tokens)
        x = x_all[:n_tok]
        offs = torch.tensor(list(itertools_accumulate(tokens)), dtype=torch.int32, device=dev)
        for method in methods:
            fn = (lambda: expert_grouped(x, tokens, offs)) if method == "grouped" else (lambda: expert_loop(x, tokens))
            try:
                med, best = time_fn(fn)
            except Exception as exc:
                print(f"{method} {tokens[:4]}...: {exc!r}", flush=True)
                continue
            rows.append({"method": method, "set": kind, "active": len(tokens), "tokens": n_tok,
                         "tokens_per_expert": tokens if kind == "holdout" else tokens[0],
                         "time_us": med, "min_us": best})
        if k % 25 == 0:
            print(f"[{time.time() - t0:6.1f}s] {k}/{len(configs)} n={len(tokens)} tokens={n_tok} "
                  + " ".join(f"{r['method']}={r['time_us']:.1f}us" for r in rows[-len(methods):]), flush=True)

    props = torch.cuda.get_device_properties(dev)
    doc = {
        "description": "one EP rank's MoE expert GEMMs (bf16, hidden 7168, intermediate 2048, "
                       "gate+up [t x 7168]x[7168 x 4096], SiLU*up, down [t x 2048]x[2048 x 7168]) per "
                       "(active experts, tokens); CUDA-graph replay, L2 flushed, median of "
                       f"{args.repeats} CUDA-event timings",
        "device": torch.cuda.get_device_name(dev),
        "sm_count": props.multi_processor_count,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "hidden": HIDDEN,
        "intermediate": INTER,
        "dtype": "bfloat16",
        "repeats": args.repeats,
        "methods": methods,
        "check": check,
        "rows": rows,
    }
    return doc


def summary(doc, actives=(1, 2, 4, 8, 12, 16), tokens=(1, 32, 64, 128, 192, 256, 384, 512)):
    """Markdown: measured us per (active experts, tokens per expert), and the fits."""
    lines = []
    for m in doc["methods"]:
        t = {(r["active"], r["tokens_per_expert"]): r["time_us"] for r in doc["rows"]
             if r["method"] == m and r["set"] == "fit"}
        lines.append(f"{m}: measured us (rows: active experts; columns: tokens per expert)\n")
        lines.append("| active | " + " | ".join(str(x) for x in tokens) + " |")
        lines.append("|---:|" + "---:|" * len(tokens))
        for n in actives:
            lines.append(f"| {n} | " + " | ".join(f"{t[(n, x)]:.0f}" if (n, x) in t else "-" for x in tokens) + " |")
        lines.append("")
    lines.append("| method | a_us | b_us_per_token | c_us_per_expert | fit rel. err mean / max | held-out mean / max |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for m, f in doc["fits"].items():
        e, h = f["fit_error"], f["holdout_error"] or {"mean_rel": float("nan"), "max_rel": float("nan")}
        star = " (default)" if m == doc.get("default_method") else ""
        lines.append(f"| {m}{star} | {f['a_us']:.3f} | {f['b_us_per_token']:.5f} | {f['c_us_per_expert']:.3f} | "
                     f"{100 * e['mean_rel']:.1f} % / {100 * e['max_rel']:.1f} % | "
                     f"{100 * h['mean_rel']:.1f} % / {100 * h['max_rel']:.1f} % |")
    return "\n".join(lines)


def itertools_accumulate(xs):
    s = 0
    for v in xs:
        s += v
        yield s


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="bench/data/gemm_h200.json")
    p.add_argument("--fit-only", metavar="TABLE", help="re-fit a stored table (no GPU needed)")
    p.add_argument("--summary", metavar="TABLE", help="print a stored table's summary (markdown)")
    p.add_argument("--max-experts", type=int, default=16)
    p.add_argument("--holdout", type=int, default=48, help="random uneven configurations")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--budget-s", type=float, default=150.0, help="stop sweeping after this long")
    args = p.parse_args()
    if args.summary:
        with open(args.summary) as f:
            print(summary(json.load(f)))
        return 0
    if args.fit_only:
        with open(args.fit_only) as f:
            doc = json.load(f)
        print_fits(add_fits(doc))
        with open(args.fit_only, "w") as f:
            json.dump(doc, f, indent=1)
        return 0
    doc = add_fits(measure(args))
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    print_fits(doc)
    print(f"wrote {args.out} ({len(doc['rows'])} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
