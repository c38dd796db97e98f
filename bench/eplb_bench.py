#!/usr/bin/env python3
"""Time the reference deepseek-ai/EPLB on the input bench/eplb_bench.cpp uses.

    /usr/bin/python3 bench/eplb_bench.py --reference /path/to/EPLB/eplb.py \
        [--cli build/tools/lplb] [--input tests/data/eplb/v3_hierarchical_288.json]

Prints the reference's time per call (median of --repeat runs, wall and
CPU), and with --cli the end-to-end time of `lplb eplb` on the same input
(process start and JSON included), checking that both give the same phy2log.
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_seconds(fn, repeat):
    """Median wall and CPU (this process) seconds per call."""
    wall, cpu = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", required=True, help="path to deepseek-ai/EPLB eplb.py")
    parser.add_argument("--input", default=os.path.join(
        ROOT, "tests/data/eplb/v3_hierarchical_288.json"))
    parser.add_argument("--cli", help="path to the lplb executable (optional)")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    spec = importlib.util.spec_from_file_location("eplb_reference", args.reference)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    case = json.load(open(args.input))["cases"][0]
    weight = torch.tensor(case["weight"])
    sizes = [case[k] for k in ("num_replicas", "num_groups", "num_nodes", "num_gpus")]
    print(f"input: {args.input}: {weight.shape[0]} layers x {weight.shape[1]} experts -> "
          f"{sizes[0]} replicas, {sizes[1]} groups, {sizes[2]} nodes, {sizes[3]} GPUs")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")

    phy2log = ref.rebalance_experts(weight, *sizes)[0]
    wall, cpu = median_seconds(lambda: ref.rebalance_experts(weight, *sizes), args.repeat)
    print(f"reference rebalance_experts: {wall * 1e3:.1f} ms wall, {cpu * 1e3:.1f} ms CPU "
          f"per call (median of {args.repeat})")

    if args.cli:
        with tempfile.TemporaryDirectory() as tmp:
            w = os.path.join(tmp, "w.json")
            json.dump(case["weight"], open(w, "w"))
            cmd = [args.cli, "eplb", "--weights", w, "--replicas", str(sizes[0]), "--groups",
                   str(sizes[1]), "--nodes", str(sizes[2]), "--gpus", str(sizes[3])]
            out = json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)
            assert out["phy2log"] == phy2log.tolist(), "lplb eplb differs from the reference"
            wall, _ = median_seconds(
                lambda: subprocess.run(cmd, check=True, capture_output=True), args.repeat)
        print(f"lplb eplb (CLI, end to end): {wall * 1e3:.1f} ms wall per call, "
              f"same phy2log as the reference")


if __name__ == "__main__":
    main()
