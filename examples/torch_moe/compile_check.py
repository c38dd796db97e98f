#!/usr/bin/env python3
"""torch.compile(fullgraph=True) of the example layer with each balancer:
compiles with no graph break (fullgraph raises on one) and gives the eager
output. The planners' calls are torch.library custom ops with fake
implementations (lplb.integrations.torch), so tracing never runs them.

    python3 examples/torch_moe/compile_check.py                  # CUDA if present, inductor
    python3 examples/torch_moe/compile_check.py --device cpu --backend aot_eager
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from methods import METHODS, build  # noqa: E402
from moe_layer import SHAPES, MoELayer  # noqa: E402
from workload import SyntheticWorkload, step_counts  # noqa: E402


def check(device: str, backend: str, shapes: str = "tiny", ep: int = 8, tokens_per_rank: int = 16,
          methods=METHODS) -> dict[str, float]:
    """{method: |compiled - eager| / |eager|}; raises if a graph breaks."""
    dev = torch.device(device)
    s = SHAPES[shapes]
    dtype = torch.bfloat16
    layer = MoELayer(s, ep, dtype=dtype, device=dev, seed=1)
    wl = SyntheticWorkload(4, tokens_per_rank * ep, s.topk, s.experts, dev, seed=1)
    recent = [step_counts(wl.ids(i), s.experts) for i in range(3)]
    x = torch.randn(tokens_per_rank * ep, s.hidden, device=dev).to(dtype)
    out = {}
    for m in methods:
        layer.set_balancer(build(m, recent, s.experts, ep, 2))
        torch._dynamo.reset()
        compiled = torch.compile(layer, fullgraph=True, backend=backend)
        with torch.no_grad():
            want = layer(x)
            got = compiled(x)
        out[m] = float((got - want).norm() / want.norm())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--backend", default="inductor")
    p.add_argument("--shapes", default="small" if torch.cuda.is_available() else "tiny", choices=sorted(SHAPES))
    p.add_argument("--ep", type=int, default=8)
    p.add_argument("--tokens-per-rank", type=int, default=64)
    p.add_argument("--methods", default=",".join(METHODS))
    a = p.parse_args()
    errs = check(a.device, a.backend, a.shapes, a.ep, a.tokens_per_rank, a.methods.split(","))
    for m, e in errs.items():
        print(f"compile fullgraph=True backend={a.backend} {m}: ok, |compiled - eager| / |eager| = {e:.2e}")
    bad = {m: e for m, e in errs.items() if not e <= 1e-2}
    if bad:
        raise SystemExit(f"error: compiled output differs: {bad}")


if __name__ == "__main__":
    main()
