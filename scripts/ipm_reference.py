#!/usr/bin/env python3
"""Golden data for the reference IPM (tests/data/ipm_golden.json).

An independent, literal numpy transcription of deepseek-ai/LPLB's
kernel_solve (lplb/resources/csrc-tmpl/minilp.cu): dense float32 A, b, c as
the kernel builds them, 5 affine-scaling steps with the warp-lane d_max quirk,
the convergence test and the 0.5 fallback. Dense BLAS products and LAPACK's
Cholesky round differently from the C++ solver (sparse rows, plain
left-looking Cholesky), so the test compares probs with a tolerance.

Usage: python3 scripts/ipm_reference.py [--out tests/data/ipm_golden.json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

F32 = np.float32


def topology(name: str) -> list[list[int]]:
    """r2o rows for the named topologies (lplb/topology.hpp)."""
    if name == "cube":
        cols = [[3, 0, 1, 2, 7, 4, 5, 6], [6, 7, 4, 5, 0, 1, 2, 3]]
    elif name == "hypercube":
        cols = [[3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14],
                [12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]]
    elif name.startswith("ring"):
        s = int(name.split(":")[1]) if ":" in name else 8
        cols = [[(i + 1) % s for i in range(s)]]
    elif name.startswith("torus:"):
        m, n = (int(v) for v in name[6:].split("x"))
        rows = [[((i + 1) % m) * n + j, i * n + (j + 1) % n] for i in range(m) for j in range(n)]
        return rows
    else:
        raise ValueError(name)
    return [list(r) for r in zip(*cols)]


def reference_ipm(r2o: list[list[int]], fixed: np.ndarray, block: np.ndarray, scale: float):
    S, D = len(r2o), len(r2o[0])
    SD = S * D
    NC, NV = S + SD, 2 * SD + S + 2
    w = (block / scale).astype(F32).reshape(S, D)
    f = (fixed / scale).astype(F32)
    b = np.zeros(NC, F32)
    b[:S] = F32(0) - f
    b[S:] = 1
    a = np.zeros((NC, NV), F32)
    for ic in range(S):
        for iv in range(SD):  # x_orig
            if iv // D == ic:
                a[ic, iv] = w[iv // D, iv % D]
        for iv in range(SD, 2 * SD):  # x_rep
            rank, dup = iv // D - S, iv % D
            if rank == r2o[ic][dup]:
                a[ic, iv] = w[rank, dup]
        a[ic, 2 * SD + ic] = 1  # slack
        a[ic, 2 * SD + S] = -1  # z
    for k in range(SD):
        a[S + k, k] = 1
        a[S + k, SD + k] = 1
    for ic in range(NC):  # Big-M column: b minus the row sum, left to right
        m = b[ic]
        for iv in range(NV - 1):
            m = F32(m - a[ic, iv])
        a[ic, NV - 1] = m
    c = np.zeros(NV, F32)
    c[NV - 2] = 1
    c[NV - 1] = 1000

    x = np.ones(NV, F32)
    d_max = F32(0)
    for _ in range(5):
        ax2 = (a * x * x).astype(F32)
        ax2a = ax2 @ a.T
        ax2c = ax2 @ c
        with np.errstate(all="ignore"):
            try:
                low = np.linalg.cholesky(ax2a).astype(F32)
                z = np.zeros(NC, F32)
                for i in range(NC):
                    z[i] = (ax2c[i] - low[i, :i] @ z[:i]) / low[i, i]
                y = np.zeros(NC, F32)
                for i in reversed(range(NC)):
                    y[i] = (z[i] - low[i + 1:, i] @ y[i + 1:]) / low[i, i]
            except np.linalg.LinAlgError:
                y = np.full(NC, np.nan, F32)
            r = y @ a
            d = (x * (c - r)).astype(F32)
            lanes = [d[range(t, NV, 32)][-1] if t < NV else F32(0) for t in range(32)]
            d_max = F32(np.nanmax(lanes)) if not np.all(np.isnan(lanes)) else F32(np.nan)
            alpha = F32(0.999 / float(d_max))
            x = (x * (F32(1) - alpha * d)).astype(F32)
    with np.errstate(all="ignore"):
        res = np.abs(a @ x - b)
    max_res = F32(np.nanmax(np.concatenate([[0], res])))
    ok = bool(d_max < 0.1 and 0 <= x[NV - 1] < 1e-4 and max_res < 0.05)
    ok = ok and bool(np.all(np.isfinite(x[:SD])))
    probs = x[:SD].astype(float) if ok else np.full(SD, 0.5)
    return ok, probs, float(d_max), float(x[NV - 1]), float(max_res)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent
                                              / "tests/data/ipm_golden.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    specs = [  # name, topology, skew, normaliser factor (group max / scale)
        ("cube-uniform", "cube", "uniform", 1.0),
        ("cube-zipf", "cube", "zipf", 1.0),
        ("cube-halfscale", "cube", "uniform", 2.0),
        ("hypercube-uniform", "hypercube", "uniform", 1.0),
        ("hypercube-zipf", "hypercube", "zipf", 0.5),
        ("ring8", "ring", "uniform", 1.0),
        ("ring4-zipf", "ring:4", "zipf", 1.0),
        ("torus2x4", "torus:2x4", "uniform", 1.0),
        ("cube-fallback", "cube", "uniform", 100.0),
        ("hypercube-fallback", "hypercube", "zipf", 100.0),
    ]
    cases = []
    for name, topo, skew, factor in specs:
        r2o = topology(topo)
        S, D = len(r2o), len(r2o[0])
        n = S * (D + 1)
        if skew == "uniform":
            v = rng.integers(100, 1000, n).astype(float)
        else:
            v = np.floor(5000.0 / np.arange(1, n + 1) ** 1.2 * rng.uniform(0.5, 1.5, n))
            rng.shuffle(v)
        fixed, block = v[:S], v[S:]
        scale = float(v.max() / factor)
        ok, probs, d_max, big_m, res = reference_ipm(r2o, fixed, block, scale)
        cases.append({
            "name": name, "topology": topo, "scale": scale,
            "fixed": fixed.tolist(), "block": block.tolist(),
            "converged": ok, "probs": probs.tolist(),
            "d_max": d_max, "big_m": big_m, "residual": res,
            "tolerance": 2e-3,
        })
        print(f"{name:20s} converged={ok} d_max={d_max:.3g} big_m={big_m:.3g} res={res:.3g} "
              f"probs[min,max]=[{probs.min():.3f}, {probs.max():.3f}]")
    Path(args.out).write_text(json.dumps({
        "generator": "scripts/ipm_reference.py",
        "cases": cases,
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
