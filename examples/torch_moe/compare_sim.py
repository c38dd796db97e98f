#!/usr/bin/env python3
"""Measured (run.py --out DIR) next to `lplb simulate`'s modelled figures for
the same steps, as a markdown table (no GPU, no torch needed).

    python3 examples/torch_moe/compare_sim.py --lplb build/tools/lplb DIR [DIR ...] \
        [--cost-model bench/data/moe_layer_h200.json]

Per method: the balancer's path and measured time per layer, the measured
slowest-rank GEMM time (mean over steps, ms, and relative to none), the
simulator's modelled slowest-rank time under the default H200 fit
(lplb.CostModel()) and under --cost-model, each with its error against the
measurement, and the measured step time (GEMM + balancer; mean and p99,
relative to none).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile


def simulate(lplb: str, d: dict, trace: str, cost_model: str | None) -> dict[str, float]:
    """{sim method: mean modelled slowest-rank time (us)} over the measured steps."""
    a = d["args"]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "sim.json")
        cmd = [lplb, "simulate", "--trace", trace, "--window", str(a["window"]), "--refresh", str(a["window"]),
               "--warmup", str(d["start"]), "--ep", str(a["ep"]), "--redundant", str(a["redundant"]),
               "--methods", ",".join(d["sim_methods"]), "--json", out, "-q"]
        if cost_model:
            cmd += ["--cost-model", cost_model]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        doc = json.load(open(out))
    return {key: m["time_us_mean"] for key, m in doc["methods"].items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dirs", nargs="+")
    p.add_argument("--lplb", default="build/tools/lplb")
    p.add_argument("--cost-model", default="bench/data/moe_layer_h200.json")
    a = p.parse_args()
    print("| workload | method | path | balancer us | GEMM ms | GEMM rel | model (default) ms | err | model (refit) ms "
          "| err | modelled rel (refit) | step rel mean | step rel p99 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for d_ in a.dirs:
        d = json.load(open(os.path.join(d_, "measured.json")))
        trace = os.path.join(d_, "trace_used.json.gz")
        default = simulate(a.lplb, d, trace, None)
        refit = simulate(a.lplb, d, trace, a.cost_model)
        res = d["results"]
        names = list(res)
        base_gemm = sum(res["none"]["gemm_ms"]) / len(res["none"]["gemm_ms"])
        base_refit = refit[d["sim_methods"][0]]
        for m, sm in zip(names, d["sim_methods"]):
            r = res[m]
            g = sum(r["gemm_ms"]) / len(r["gemm_ms"])
            md, mr = default[sm] / 1e3, refit[sm] / 1e3
            print(f"| {os.path.basename(os.path.normpath(d_))} | {m} | {r['path']} | {r['overhead_us']:.0f} | "
                  f"{g:.2f} | {g / base_gemm:.3f} | {md:.2f} | {(md - g) / g:+.1%} | {mr:.2f} | {(mr - g) / g:+.1%} | "
                  f"{refit[sm] / base_refit:.3f} | {r['rel_mean']:.3f} | {r['rel_p99']:.3f} |")


if __name__ == "__main__":
    main()
