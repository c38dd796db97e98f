#!/usr/bin/env python3
"""Checks examples/mpi_planner under mpirun (ctest runs it; see CMakeLists.txt).

consistent: for several configurations, `mpirun -np 4 mpi_planner` must give
  - one JSON line per rank, every rank the same probs_sha256;
  - the probs of a single-process `lplb plan` on the counts summed here (in
    Python, from each rank's --print-counts), hashed the same way
    (sha256 of the little-endian doubles): bit-identical plans;
  - global_load_after == sum of every rank's send_after, global_load_before ==
    sum of send_before == the single process's load_before, token totals kept;
  - |global_load_after - LP load_after| <= P * R per rank: each rank rounds
    round(p * T) once per replicated expert (error <= 1/2), and a rank's load
    involves 2R replicated experts (R originals, R copies) from P ranks.
mismatch: one rank with a different --redundant, --topology, --experts or
  --solver (MPMD `mpirun A : B`) or a set-up error on one rank only: mpirun
  exits non-zero within the timeout, every rank prints `error: rank R: ...`
  with the field named, and no rank prints a plan.
"""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

NP = 4
TIMEOUT_S = 60


def mpirun(args, cmd_tail):
    cmd = [args.mpirun, "--allow-run-as-root", "--oversubscribe"] + cmd_tail
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        sys.exit(f"FAIL: timed out after {TIMEOUT_S} s (a hang): {' '.join(cmd)}")


def fail(msg, proc=None):
    if proc is not None:
        msg += f"\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    sys.exit("FAIL: " + msg)


def probs_sha256(values):
    return hashlib.sha256(struct.pack("<%dd" % len(values), *values)).hexdigest()


def flatten(x):
    return [z for y in x for z in flatten(y)] if isinstance(x, list) else [x]


def check_consistent(args, cfg):
    topo, E, R, tokens, seed, solver = cfg
    flags = ["--topology", topo, "--experts", str(E), "--redundant", str(R), "--tokens",
             str(tokens), "--seed", str(seed), "--solver", solver, "--drop", "0.05",
             "--print-counts"]
    proc = mpirun(args, ["-np", str(NP), args.planner] + flags)
    if proc.returncode != 0:
        fail(f"{cfg}: mpirun exited {proc.returncode}", proc)
    lines = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    if sorted(j["rank"] for j in lines) != list(range(NP)):
        fail(f"{cfg}: expected one JSON line per rank", proc)
    lines.sort(key=lambda j: j["rank"])

    hashes = {j["probs_sha256"] for j in lines}
    if len(hashes) != 1:
        fail(f"{cfg}: ranks disagree on probs: {hashes}")

    counts = [sum(j["counts"][e] for j in lines) for e in range(E)]
    with tempfile.TemporaryDirectory() as tmp:
        wpath = os.path.join(tmp, "w.json")
        with open(wpath, "w") as f:
            json.dump(counts, f)
        single = subprocess.run(
            [args.cli, "plan", "--topology", topo, "--experts", str(E), "--ep", str(NP),
             "--redundant", str(R), "--solver", solver, "--workload", wpath],
            capture_output=True, text=True, timeout=TIMEOUT_S)
    if single.returncode != 0:
        fail(f"{cfg}: lplb plan failed", single)
    ref = json.loads(single.stdout)
    ref_hash = probs_sha256([float(p) for p in flatten(ref["probs"])])
    if hashes != {ref_hash}:
        fail(f"{cfg}: distributed probs {hashes} != single-process probs {ref_hash}")

    P = NP
    send_before = [sum(j["send_before"][r] for j in lines) for r in range(P)]
    send_after = [sum(j["send_after"][r] for j in lines) for r in range(P)]
    for j in lines:
        if j["global_load_after"] != send_after or j["global_load_before"] != send_before:
            fail(f"{cfg}: rank {j['rank']}: global loads are not the sums of send_*")
        if sum(j["send_before"]) != sum(j["send_after"]) or sum(j["send_before"]) != sum(j["counts"]):
            fail(f"{cfg}: rank {j['rank']}: tokens lost or created")
        if j["lp_load_after"] != ref["load_after"]:
            fail(f"{cfg}: rank {j['rank']}: LP loads differ from the single process's")
    if send_before != [round(x) for x in ref["load_before"]]:
        fail(f"{cfg}: load before {send_before} != single process {ref['load_before']}")
    bound = P * R
    worst = max(abs(a - b) for a, b in zip(send_after, ref["load_after"]))
    if worst > bound + 1e-9:
        fail(f"{cfg}: load after mapping {send_after} is {worst} from the LP's "
             f"{ref['load_after']} (bound {bound})")
    print(f"ok {cfg}: probs {ref_hash[:12]}, max load {max(send_before)} -> {max(send_after)} "
          f"(LP {max(ref['load_after']):.1f}, rounding gap {worst:.1f} <= {bound})")


def check_mismatch(args, name, base, other, expect):
    # Ranks 0..NP-2 run `base`, the last rank `other`.
    common = ["--tokens", "500", "--seed", "3"]
    proc = mpirun(args, ["-np", str(NP - 1), args.planner] + base + common + [":", "-np", "1",
                                                                                args.planner] + other + common)
    if proc.returncode == 0:
        fail(f"{name}: mpirun exited 0", proc)
    if any(l.startswith("{") for l in proc.stdout.splitlines()):
        fail(f"{name}: a rank printed a plan", proc)
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error: rank ")]
    ranks = sorted(int(l.split()[2].rstrip(":")) for l in errors)
    if ranks != list(range(NP)):
        fail(f"{name}: expected an error line from every rank, got ranks {ranks}", proc)
    for l in errors:
        if not any(e in l for e in expect):
            fail(f"{name}: unclear error (expected one of {expect}): {l}", proc)
    print(f"ok {name}: every rank failed, e.g. {errors[0][:160]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["consistent", "mismatch"])
    ap.add_argument("--mpirun", required=True)
    ap.add_argument("--planner", required=True)
    ap.add_argument("--cli", required=True)
    args = ap.parse_args()
    if args.mode == "consistent":
        for cfg in [("ring:4", 64, 2, 2000, 1, "exact"),
                    ("torus:2x2", 64, 2, 3000, 2, "exact"),
                    ("ring:2", 32, 1, 1000, 3, "exact"),  # two groups
                    ("ring:4", 64, 2, 2000, 4, "ipm"),
                    ("torus:2x2", 256, 4, 4096, 5, "exact"),
                    ("ring:4", 64, 2, 0, 6, "exact")]:  # no tokens at all
            check_consistent(args, cfg)
    else:
        base = ["--topology", "ring:4", "--experts", "64", "--redundant", "2"]
        check_mismatch(args, "redundant", base,
                       ["--topology", "ring:4", "--experts", "64", "--redundant", "4"],
                       ["redundant_per_rank ranges over [2, 4]"])
        check_mismatch(args, "topology", base,
                       ["--topology", "torus:2x2", "--experts", "64", "--redundant", "2"],
                       ["topology slots D ranges over [1, 2]"])
        check_mismatch(args, "experts", base,
                       ["--topology", "ring:4", "--experts", "128", "--redundant", "2"],
                       ["num_experts ranges over [64, 128]"])
        check_mismatch(args, "solver", base, base + ["--solver", "ipm"], ["solver ranges over [exact, ipm]"])
        # A planner that cannot be built on one rank only (E % P != 0).
        check_mismatch(args, "setup error", base,
                       ["--topology", "ring:4", "--experts", "62", "--redundant", "2"],
                       ["num_experts: 62 is not a multiple", "rank 3 failed to start"])


if __name__ == "__main__":
    main()
