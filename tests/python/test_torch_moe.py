"""lplb.integrations.torch and the MoE layer example (examples/torch_moe).

Tiny shapes on the CPU (the GPU run is examples/torch_moe/run_gpu.sh):
every balancer keeps each token with its expert, the layer's output with
every balancer equals the unbalanced output, the measuring driver runs end to
end on a synthetic stream and on a trace, and torch.compile(fullgraph=True)
compiles the layer with every balancer (a graph break raises).
"""

from __future__ import annotations

import gzip
import json
import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lplb.integrations.torch import (  # noqa: E402
    LplbBalancer,
    NoBalancer,
    PlacementBalancer,
    StaticBalancer,
    log2phy_table,
    placement_run,
    planner_run,
)

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "torch_moe")
sys.path.insert(0, os.path.abspath(EXAMPLE))

import compile_check  # noqa: E402
import run as moe_run  # noqa: E402
from methods import METHODS, build  # noqa: E402
from moe_layer import SHAPES, MoELayer  # noqa: E402
from workload import SyntheticWorkload, scale_counts, step_counts  # noqa: E402

E, P, R = 32, 8, 2


def fresh_seed() -> int:
    return int(np.random.default_rng().integers(1 << 31))


def random_recent(rng, steps=5):
    pop = rng.gamma(0.5, 100, E) + 1
    return [rng.poisson(pop * rng.gamma(2, 0.5, E)).astype(np.int64) for _ in range(steps)]


@pytest.mark.parametrize("method", METHODS)
def test_every_token_stays_with_its_expert(method):
    rng = np.random.default_rng(fresh_seed())
    b = build(method, random_recent(rng), E, P, R)
    ids = torch.from_numpy(rng.integers(0, E, size=(300, 4)))
    phys = b(ids)
    assert phys.shape == ids.shape and phys.dtype == ids.dtype
    assert int(phys.min()) >= 0 and int(phys.max()) < b.num_physical
    assert torch.equal(b.phy2log[phys], ids)
    assert b.num_physical == E + (0 if method == "none" else R * P)


def test_static_balancer_splits_evenly_and_keeps_minus_one():
    rng = np.random.default_rng(fresh_seed())
    phy2log = np.concatenate([np.arange(E), rng.integers(0, E, R * P)])
    rng.shuffle(phy2log)
    b = StaticBalancer(phy2log, E, P)
    ids = torch.from_numpy(rng.integers(-1, E, size=(500, 4)))
    phys = b(ids)
    assert torch.equal(phys[ids < 0], ids[ids < 0])
    valid = ids >= 0
    assert torch.equal(b.phy2log[phys[valid]], ids[valid])
    per_slot = np.bincount(phys[valid].numpy(), minlength=b.num_physical)
    log2phy, logcnt = log2phy_table(b.phy2log, E)
    for e in range(E):
        slots = log2phy[e, : logcnt[e]].numpy()
        assert per_slot[slots].max() - per_slot[slots].min() <= 1


def test_bad_placements_raise():
    with pytest.raises(ValueError, match="no slot"):
        StaticBalancer(np.zeros(E + R * P, dtype=np.int64), E, P)
    with pytest.raises(ValueError, match="split over ep_size"):
        StaticBalancer(np.arange(E + 1), E, P)
    with pytest.raises(ValueError, match="multiple of ep_size"):
        NoBalancer(E + 1, P)


def test_custom_ops_pass_opcheck():
    rng = np.random.default_rng(fresh_seed())
    recent = random_recent(rng)
    ids = torch.from_numpy(rng.integers(0, E, size=(64, 4)))
    lp = build("lplb", recent, E, P, R)
    pl = build("eplb_lp", recent, E, P, R)
    assert isinstance(lp, LplbBalancer) and isinstance(pl, PlacementBalancer)
    torch.library.opcheck(planner_run, (ids, lp.handle))
    torch.library.opcheck(placement_run, (ids, pl.handle))
    assert torch.equal(planner_run(ids, lp.handle), lp._planner.run(ids))


def test_unknown_handle_raises():
    with pytest.raises(ValueError, match="no lplb balancer"):
        planner_run(torch.zeros(2, 2, dtype=torch.long), 1 << 40)


@pytest.mark.parametrize("method", [m for m in METHODS if m != "none"])
def test_layer_output_equals_unbalanced(method):
    """A copy holds its expert's weights, so balancing changes only which
    slot computes a pair: the output equals the unbalanced one up to bf16
    rounding of different GEMM groupings (bound: moe_run.CHECK_RTOL)."""
    seed = fresh_seed()
    s = SHAPES["tiny"]
    layer = MoELayer(s, P, dtype=torch.bfloat16, seed=seed)
    rng = np.random.default_rng(seed)
    x = torch.randn(16 * P, s.hidden, generator=torch.Generator().manual_seed(seed)).to(torch.bfloat16)
    with torch.no_grad():
        want = layer(x)
        layer.set_balancer(build(method, random_recent(rng), s.experts, P, R))
        got = layer(x)
    assert torch.isfinite(got).all()
    rel = float((got - want).norm() / want.norm())
    assert rel <= moe_run.CHECK_RTOL, rel


def test_scale_counts_sums_exactly():
    rng = np.random.default_rng(fresh_seed())
    c = rng.integers(0, 1000, 256)
    total = int(rng.integers(1, 10**6))
    out = scale_counts(c, total)
    assert out.sum() == total and (out >= 0).all()
    assert np.abs(out - c * total / c.sum()).max() < 1 + 1e-9


def test_synthetic_router_picks_distinct_experts():
    wl = SyntheticWorkload(2, 40, 4, E, torch.device("cpu"), seed=fresh_seed())
    ids = wl.ids(1)
    assert ids.shape == (40, 4)
    assert all(len(set(row.tolist())) == 4 for row in ids)
    assert step_counts(ids, E).sum() == 160


def test_driver_runs_on_synthetic_stream(tmp_path, capsys):
    with torch.no_grad():
        moe_run.main(["--device", "cpu", "--shapes", "tiny", "--ep", "8", "--tokens-per-rank", "16",
                      "--window", "3", "--steps", "4", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    for m in METHODS:
        assert f"\n{m} " in out
    doc = json.load(open(tmp_path / "measured.json"))
    assert set(doc["results"]) == set(METHODS)
    for m in METHODS:
        assert len(doc["results"][m]["gemm_ms"]) == 4
        assert doc["results"][m]["check_max"] <= moe_run.CHECK_RTOL
    trace = json.load(gzip.open(tmp_path / "trace_used.json.gz", "rt"))
    assert np.asarray(trace["counts"]).shape == (7, 1, 32)


def test_driver_replays_a_trace(tmp_path, capsys):
    rng = np.random.default_rng(fresh_seed())
    counts = rng.poisson(rng.gamma(0.5, 50, 256) + 1, size=(6, 2, 256)).tolist()
    path = tmp_path / "t.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump({"counts": counts}, f)
    with torch.no_grad():
        moe_run.main(["--device", "cpu", "--shapes", "mini", "--tokens-per-rank", "4", "--trace", str(path),
                      "--layer", "1", "--window", "3", "--steps", "2", "--methods", "lplb,eplb"])
    assert "lplb" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="steps"):
        moe_run.main(["--device", "cpu", "--shapes", "mini", "--trace", str(path), "--window", "3", "--steps", "9"])


def test_compile_fullgraph_no_graph_break():
    # aot_eager runs the fake implementations through AOTAutograd's tracing;
    # fullgraph=True raises on any graph break.
    errs = compile_check.check("cpu", "aot_eager", "tiny", P, 8)
    assert set(errs) == set(METHODS)
    assert all(e <= 1e-6 for e in errs.values()), errs
