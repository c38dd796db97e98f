"""The side-by-side table from peer_bench.py's JSON files:
python3 tables.py RES   (RES holds res_{lplb,ours}.json and res_{lplb,ours}_graph.json;
the LPLB files may be missing). Median microseconds per call."""

from __future__ import annotations

import json
import os
import sys

NAMES = ["cube_ep32", "cube_ep64", "hypercube_ep16", "torus8x4_ep32", "ring8_ep32_R1"]


def load(res, name):
    try:
        with open(os.path.join(res, name)) as f:
            return json.load(f)["configs"]
    except (OSError, ValueError, KeyError):
        return None


def get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def f(x):
    return "-" if x is None else f"{x:.1f}"


def main():
    res = sys.argv[1]
    eager = {p: load(res, f"res_{p}.json") for p in ("lplb", "ours")}
    graph = {p: load(res, f"res_{p}_graph.json") for p in ("lplb", "ours")}

    def cell(p, n, what):
        e, g = eager[p], graph[p]
        if what == "solve":
            return (get(e, n, "solve", "event_median_us"), get(g, n, "solve_graph", "graph_median_us"))
        return (get(e, n, f"run_{what}", "eager", "event_median_us"),
                get(g, n, f"run_{what}_graph", "graph_median_us"))

    print("| config | LPLB solve eager / graph | ours solve eager / graph | LPLB run (int64, 4096x8) eager / graph "
          "| ours run eager / graph | ours run int32 eager / graph | ours host issue solve / run |")
    print("|---|---|---|---|---|---|---|")
    for n in NAMES:
        ls, os_, lr, orr, o32 = (cell("lplb", n, "solve"), cell("ours", n, "solve"), cell("lplb", n, "int64"),
                                 cell("ours", n, "int64"), cell("ours", n, "int32"))
        host = (get(eager["ours"], n, "solve", "host_issue_mean_us"),
                get(eager["ours"], n, "run_int64", "eager", "host_issue_mean_us"))
        print(f"| {n} | {f(ls[0])} / {f(ls[1])} | {f(os_[0])} / {f(os_[1])} | {f(lr[0])} / {f(lr[1])} | "
              f"{f(orr[0])} / {f(orr[1])} | {f(o32[0])} / {f(o32[1])} | {f(host[0])} / {f(host[1])} |")
    lh = [get(eager["lplb"], n, "solve", "host_issue_mean_us") for n in NAMES]
    if any(x is not None for x in lh):
        print("\nLPLB host issue per solve_probs (us): " + ", ".join(f"{n} {f(x)}" for n, x in zip(NAMES, lh)))
    for n in NAMES:
        for p in ("lplb", "ours"):
            err = get(eager[p], n, "error") or get(graph[p], n, "error")
            if err:
                print(f"\n{p} {n}: error: {str(err)[-300:]}")


if __name__ == "__main__":
    main()
