#!/usr/bin/env python3
"""Write a synthetic routing trace in the format `lplb simulate --trace` reads.

    python3 scripts/make_trace.py --regime skewed --seed 1 -o skewed_synth.json.gz
    ./build/tools/lplb simulate --trace skewed_synth.json.gz

Regimes (each layer has its own seeded popularity):
  balanced  near-uniform mean popularity (Zipf 0.1), per-batch noise only:
            what a router with bias balancing looks like once it has settled
  skewed    Zipf 0.7 popularity (hottest expert about 15-20x the mean) that
            drifts slowly: one copy per expert is not enough
  drifting  Zipf 0.6 popularity whose ranking changes within ~100 steps:
            a placement goes stale between refreshes

Per step and layer, popularity w_e = base_e * exp(z_e + eps_e) (z: a
mean-reverting random walk, eps: fresh per batch, sd --batch-noise; the
recorded traces show 0.3-0.6), then tokens * topk token-slots are drawn
multinomially from w (a token's top-k experts are not forced distinct,
which is immaterial for the per-expert counts at these sizes).
Needs numpy only.
"""

from __future__ import annotations

import argparse
import gzip
import json

import numpy as np

REGIMES = {  # zipf exponent, per-step drift sd, mean reversion per step
    "balanced": (0.1, 0.0, 0.0),
    "skewed": (0.7, 0.02, 0.001),
    "drifting": (0.6, 0.15, 0.01),
}


def make_trace(regime: str, steps: int, layers: int, experts: int, tokens: int, topk: int,
               batch_noise: float, seed: int) -> dict:
    skew, drift, revert = REGIMES[regime]
    rng = np.random.default_rng(seed)
    base = [rng.permutation(1.0 / np.arange(1, experts + 1) ** skew) for _ in range(layers)]
    z = np.zeros((layers, experts))
    counts = []
    for _ in range(steps):
        row = []
        for layer in range(layers):
            z[layer] = (1 - revert) * z[layer] + drift * rng.standard_normal(experts)
            w = base[layer] * np.exp(z[layer] + batch_noise * rng.standard_normal(experts))
            row.append(rng.multinomial(tokens * topk, w / w.sum()).tolist())
        counts.append(row)
    config = {"generator": "scripts/make_trace.py", "regime": regime, "experts": experts,
              "layers": layers, "steps": steps, "tokens_per_step": tokens, "topk": topk,
              "batch_noise": batch_noise, "seed": seed}
    return {"config": config, "counts": counts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regime", choices=sorted(REGIMES), default="balanced")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--experts", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=16384, help="tokens per step (all ranks)")
    ap.add_argument("--topk", type=int, default=8)
    ap.add_argument("--batch-noise", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", required=True, help="output .json or .json.gz")
    a = ap.parse_args()
    for name in ("steps", "layers", "experts", "tokens", "topk"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be >= 1")
    if a.topk > a.experts:
        ap.error("--topk must be <= --experts")
    trace = make_trace(a.regime, a.steps, a.layers, a.experts, a.tokens, a.topk,
                       a.batch_noise, a.seed)
    text = json.dumps(trace, separators=(",", ":"))
    opener = gzip.open if a.out.endswith(".gz") else open
    with opener(a.out, "wt", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
