#!/usr/bin/env python3
"""Generate golden EPLB placements from the reference deepseek-ai/EPLB.

The reference is not part of lplb: pass the path to its eplb.py. It needs
PyTorch (Debian: `apt-get install python3-torch`, then run with /usr/bin/python3).

    /usr/bin/python3 scripts/gen_eplb_golden.py --reference /path/to/EPLB/eplb.py \
        --out tests/data/eplb

Most inputs are tie-free, so the output does not depend on how ties break:
integer weights (exact in float32, the reference does weight.float()),
distinct, with distinct group sums and distinct per-replica loads w/count
across experts of a layer. Replicas of one expert still tie with each other,
which only orders log2phy's entries. The "tied" cases (few distinct values,
zeros) also pin the tie-breaking: first index for max/min, and torch 1.13's
CPU sort, which is libstdc++'s std::sort.
"""
import argparse
import importlib.util
import json
import os
import subprocess

import numpy as np
import torch

MAX_WEIGHT = 50000  # group and pack sums of E <= 256 such weights stay exact in float32


def load_reference(path):
    spec = importlib.util.spec_from_file_location("eplb_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def distinct_weights(rng, num_experts, skewed):
    """num_experts distinct positive integers below MAX_WEIGHT + num_experts."""
    if skewed:
        x = rng.lognormal(mean=0.0, sigma=1.5, size=num_experts)
        x = np.sort(x / x.max() * MAX_WEIGHT)
    else:
        x = np.sort(rng.uniform(1, MAX_WEIGHT, size=num_experts))
    w = np.maximum(np.round(x), 1).astype(np.int64)
    for i in range(1, num_experts):  # enforce strictly increasing, hence distinct
        w[i] = max(w[i], w[i - 1] + 1)
    return rng.permutation(w)


def layer_is_tie_free(w, logcnt, num_groups):
    group_sums = w.reshape(num_groups, -1).sum(-1)
    per_replica = np.float32(w) / np.float32(logcnt)
    return (len(set(group_sums.tolist())) == num_groups
            and len(set(per_replica.tolist())) == len(w))


def run_case(ref, rng, name, layers, experts, replicas, groups, nodes, gpus, skewed,
             tied=False):
    if tied:  # few distinct values and zeros: ties everywhere, kept as drawn
        weight = rng.integers(0, 4, size=(layers, experts)) * (1 + 99 * skewed)
        return reference_case(ref, name, weight, replicas, groups, nodes, gpus)
    weight = np.stack([distinct_weights(rng, experts, skewed) for _ in range(layers)])
    # Only the grouping the chosen policy uses must be tie-free.
    policy_groups = groups if groups % nodes == 0 else 1
    for _ in range(100):
        phy2log, log2phy, logcnt = ref.rebalance_experts(
            torch.tensor(weight), replicas, groups, nodes, gpus)
        bad = [l for l in range(layers)
               if not layer_is_tie_free(weight[l], logcnt[l].numpy(), policy_groups)]
        if not bad:
            break
        for l in bad:  # layers are independent: redraw only the tied ones
            weight[l] = distinct_weights(rng, experts, skewed)
    else:
        raise RuntimeError(f"{name}: could not draw tie-free weights")
    return reference_case(ref, name, weight, replicas, groups, nodes, gpus)


def reference_case(ref, name, weight, replicas, groups, nodes, gpus):
    phy2log, log2phy, logcnt = ref.rebalance_experts(
        torch.tensor(weight), replicas, groups, nodes, gpus)
    return {
        "name": name,
        "num_replicas": replicas, "num_groups": groups, "num_nodes": nodes, "num_gpus": gpus,
        "weight": weight.tolist(),
        "phy2log": phy2log.tolist(), "log2phy": log2phy.tolist(), "logcnt": logcnt.tolist(),
    }


def random_params(rng):
    """A random valid (experts, replicas, groups, nodes, gpus) of small size."""
    while True:
        nodes = int(rng.integers(1, 5))
        gpus = nodes * int(rng.integers(1, 5))
        groups = int(rng.integers(1, 9))
        experts = groups * int(rng.integers(1, 9))
        per_gpu_min = -(-experts // gpus)
        replicas = gpus * (per_gpu_min + int(rng.integers(0, 3)))
        if replicas >= experts and experts >= 2:
            return experts, replicas, groups, nodes, gpus


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--reference", required=True, help="path to deepseek-ai/EPLB eplb.py")
    parser.add_argument("--out", default="tests/data/eplb", help="output directory")
    parser.add_argument("--seed", type=int, default=20240607)
    parser.add_argument("--label", help="reference version to record (default: its git commit)")
    args = parser.parse_args()
    ref = load_reference(args.reference)
    source = reference_source(args.reference, args.label)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)

    # The README example (2 layers x 12 experts, hierarchical).
    readme_w = [[90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86],
                [20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27]]
    cases = [reference_case(ref, "readme", np.array(readme_w), 16, 4, 2, 8)]

    # Hand-picked small cases: both policies, with and without replication.
    fixed = [  # name, layers, E, replicas, groups, nodes, gpus
        ("tiny_global_no_replication", 3, 8, 8, 2, 4, 4),
        ("tiny_global_replicated", 3, 8, 12, 2, 4, 4),
        ("tiny_hier_no_replication", 3, 8, 8, 4, 2, 4),
        ("tiny_hier_replicated", 3, 8, 16, 4, 2, 4),
        ("one_gpu", 2, 6, 9, 3, 1, 1),
        ("one_expert_per_gpu", 2, 16, 16, 4, 2, 16),
        ("heavy_replication", 4, 6, 30, 2, 2, 6),
        ("groups_not_divisible_by_nodes", 4, 24, 32, 3, 2, 8),
    ]
    for name, layers, e, r, g, n, m in fixed:
        for skewed in (False, True):
            cases.append(run_case(ref, rng, f"{name}_{'skewed' if skewed else 'uniform'}",
                                  layers, e, r, g, n, m, skewed))
    for i in range(40):
        e, r, g, n, m = random_params(rng)
        cases.append(run_case(ref, rng, f"random_{i}", int(rng.integers(1, 4)),
                              e, r, g, n, m, bool(i % 2)))
    # Tied weights: parity then also needs the reference's tie-breaking (first
    # index for max/min; torch 1.13's CPU sort is libstdc++ std::sort).
    for i in range(20):
        e, r, g, n, m = random_params(rng)
        cases.append(run_case(ref, rng, f"tied_{i}", int(rng.integers(1, 4)),
                              e, r, g, n, m, bool(i % 2), tied=True))
    with open(os.path.join(args.out, "small_cases.json"), "w") as f:
        json.dump({"source": source, "cases": cases}, f,
                  separators=(",", ":"))

    # DeepSeek-V3-like sizes: 58 layers x 256 experts -> 288 replicas, 32 GPUs.
    large = [
        ("v3_hierarchical_288", 58, 256, 288, 8, 4, 32, True),
        ("v3_hierarchical_256", 16, 256, 256, 8, 4, 32, True),
        ("v3_global_288", 16, 256, 288, 8, 3, 48, True),
        ("v3_hierarchical_288_tied", 4, 256, 288, 8, 4, 32, True),
    ]
    for name, layers, e, r, g, n, m, skewed in large:
        case = run_case(ref, rng, name, layers, e, r, g, n, m, skewed, tied=name.endswith("tied"))
        with open(os.path.join(args.out, f"{name}.json"), "w") as f:
            json.dump({"source": source, "cases": [case]}, f,
                      separators=(",", ":"))


def reference_source(path, label):
    """Which reference produced the data (git commit when available)."""
    if label:
        return f"{label}, torch {torch.__version__}"
    try:
        commit = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(path)),
                                 "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return f"deepseek-ai/EPLB eplb.py @ {commit}, torch {torch.__version__}"


if __name__ == "__main__":
    main()
