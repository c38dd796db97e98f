#!/usr/bin/env python3
"""LPLB topologies compared at 16-256 GPUs with `lplb simulate` (the table in
docs/TOPOLOGIES.md).

    python3 scripts/sweep_topologies.py ./build/tools/lplb

Synthetic DeepSeek-V3-like layer (E = 256, top-8, 4096 tokens per rank,
the simulator's default skew / drift / batch noise, seed 0), 300 steps, the
placement refreshed every 100 steps from the previous 100, figures from step
100 on (--warmup 100). R = 2 redundant experts per rank where E/P >= 2, else
R = E/P (LPLB copies a rank's own experts). A topology that does not fit
(P not a multiple of its group size, R not a multiple of its slots) prints
"-". Prints a markdown table: mean / p99 imbalance of LPLB exact and the
share of token-slots that leave their node (nodes of 8 GPUs), and the same
for the hybrid placement + LP (no topology) in the last column.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

TOPOLOGIES = ["ring:4", "ring", "cube", "torus:4x4", "hypercube"]
RANKS = [16, 32, 64, 128, 256]
E, TOKENS, TOPK = 256, 4096, 8


def run(cli: str, P: int, topology: str) -> str:
    R = min(2, E // P)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [cli, "simulate", "-q", "--ep", str(P), "--redundant", str(R), "--topology",
               topology, "--steps", "300", "--warmup", "100", "--methods", "lplb_exact",
               "--json", out.name]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return "-"
        m = json.load(open(out.name))["methods"]
    x, base = m["lplb_exact"], m["none"]
    cross = x["tokens_cross_node_mean"] / (P * TOKENS * TOPK)
    return (f"{x['imbalance_mean']:.3f} / {x['imbalance_p99']:.3f}, "
            f"{100 * cross:.1f}% (none {base['imbalance_mean']:.2f})")


def run_hybrid(cli: str, P: int) -> str:
    R = min(2, E // P)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [cli, "simulate", "-q", "--ep", str(P), "--redundant", str(R), "--steps", "300",
               "--warmup", "100", "--methods", "hybrid_lp", "--json", out.name]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return "-"
        x = json.load(open(out.name))["methods"]["hybrid_lp"]
    cross = x["tokens_cross_node_mean"] / (P * TOKENS * TOPK)
    return f"{x['imbalance_mean']:.3f} / {x['imbalance_p99']:.3f}, {100 * cross:.1f}%"


def main() -> int:
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    cli = sys.argv[1]
    print("| GPUs (R) | " + " | ".join(f"`{t}`" for t in TOPOLOGIES) + " | hybrid + LP |")
    print("|---" * (len(TOPOLOGIES) + 2) + "|")
    for P in RANKS:
        cells = [run(cli, P, t) for t in TOPOLOGIES] + [run_hybrid(cli, P)]
        print(f"| {P} ({min(2, E // P)}) | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
