#!/usr/bin/env python3
"""Generates golden redundancy mappings from deepseek-ai/LPLB's Planner.

Usage: /usr/bin/python3 scripts/gen_lplb_mapping_golden.py LPLB_DIR OUT.json
LPLB_DIR is a checkout of the reference (the folder holding lplb/planner.py).
Runs the reference's update_redundancy_mapping on the CPU (Debian's
python3-torch) with gpus_per_node = 8; only the resulting data is kept.
"""
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch

TOPOLOGIES = {
    "cube": [[3, 0, 1, 2, 7, 4, 5, 6], [6, 7, 4, 5, 0, 1, 2, 3]],
    "hypercube": [[3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14],
                  [12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
    "ring": [[(i + 1) % 8 for i in range(8)]],
    "torus:8x4": None,
    "torus:4x4": None,
}


def torus(m, n):
    rows = [[((i + 1) % m) * n + j, i * n + (j + 1) % n] for i in range(m) for j in range(n)]
    return rows


def load_reference(ref_dir):
    ref = Path(ref_dir)
    pkg = types.ModuleType("lplb")
    pkg.__path__ = [str(ref / "lplb")]
    sys.modules["lplb"] = pkg
    cpp = types.ModuleType("lplb._cpp")
    cpp.CompiledSolver = None
    sys.modules["lplb._cpp"] = cpp
    eplb = types.ModuleType("lplb.eplb")
    exec(compile((ref / "lplb/eplb.py").read_text(), "eplb.py", "exec"), eplb.__dict__)
    sys.modules["lplb.eplb"] = eplb
    # torch 1.13 on the CPU needs int64 index tensors (newer torch accepts int32).
    src = ((ref / "lplb/planner.py").read_text().replace("'cuda'", "'cpu'")
           .replace(".cuda()", "").replace("workload[nored_phy2log]", "workload[nored_phy2log.long()]"))
    planner = types.ModuleType("lplb.planner")
    exec(compile(src, "planner.py", "exec"), planner.__dict__)
    return planner


def main():
    planner_mod = load_reference(sys.argv[1])
    torch.cuda.device_count = lambda: 8  # gpus_per_node = 8
    rng = np.random.default_rng(20261129)
    cases = []
    E = 256
    for name, cols in TOPOLOGIES.items():
        if name.startswith("torus"):
            m, n = map(int, name.split(":")[1].split("x"))
            rows = torus(m, n)
        else:
            rows = [list(r) for r in zip(*cols)]
        S, D = len(rows), len(rows[0])
        for P in (8, 16, 32, 64, 128, 256):
            if P % S:
                continue
            for R in (D, 2 * D, 4 * D):
                if R > E // P:
                    continue
                p = object.__new__(planner_mod.Planner)
                p.r2o = torch.tensor(rows, dtype=torch.int32)
                p.o2r = p.r2o.argsort(dim=0).int()
                p.group_size, p.num_redundants = S, D
                p.n_routed_experts = E + R * P
                p.n_logical_routed_experts = E
                p.ep_size = P
                p.n_group = P // S
                p.n_local_routed_experts = p.n_routed_experts // P
                p.n_local_logical_routed_experts = E // P
                p.combined_redundant_experts = R // D
                # Tie-free history: distinct integers, shuffled.
                history = rng.permutation(E).astype(np.float64) * 1000 + rng.integers(1, 999, E)
                phy2log, log2phy, logcnt = p.update_redundancy_mapping(
                    torch.tensor(history, dtype=torch.float32))
                cases.append({"topology": name, "E": E, "P": P, "R": R,
                              "history": history.tolist(),
                              "phy2log": phy2log.tolist(), "log2phy": log2phy.tolist(),
                              "logcnt": logcnt.tolist()})
    Path(sys.argv[2]).write_text(json.dumps({"cases": cases}, separators=(",", ":")))
    print(f"wrote {len(cases)} cases to {sys.argv[2]}")


if __name__ == "__main__":
    main()
