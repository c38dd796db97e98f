"""lplb.Planner's objective options end to end: objective='time' under a cost
model and the min_moves secondary objective, against HiGHS
(scipy.optimize.linprog) per redundancy group; plan()'s report (moves,
modelled times) against numpy oracles; option errors; the CUDA restriction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

import lplb
from conftest import HAVE_TORCH, requires_cuda, requires_torch
from lplb_testing import CUBE, RING_8, Config, draw_ids, lp_loads, random_config, split_loads

if HAVE_TORCH:
    import torch

DEFAULT = lplb.CostModel()


def make_planner(cfg: Config, **kw) -> lplb.Planner:
    return lplb.Planner(cfg.r2o, cfg.n_routed, cfg.experts, cfg.ep_size, **kw)


def draw_workload(rng: np.random.Generator, cfg: Config) -> np.ndarray:
    skew = rng.choice([0.0, 1.0, 2.0])
    w = rng.integers(0, 2048, cfg.experts) / np.arange(1, cfg.experts + 1) ** skew
    w = np.floor(rng.permutation(w)).astype(np.int64)
    w[rng.random(cfg.experts) < 0.15] = 0
    return w


def draw_model(rng: np.random.Generator, P: int) -> dict:
    model = {}
    if rng.random() < 0.7:
        model["speed"] = rng.uniform(0.5, 2.0, P)
    if rng.random() < 0.5:
        model["extra_us"] = rng.uniform(0, 80, P)
    if rng.random() < 0.5:
        model.update(a_us=rng.uniform(0, 10), b_us_per_token=rng.uniform(0.02, 0.2),
                     c_us_per_expert=rng.uniform(0, 50))
    return model


def model_arrays(model: dict, P: int) -> tuple[float, float, float, np.ndarray, np.ndarray]:
    full = {**{k: getattr(DEFAULT, k) for k in ("a_us", "b_us_per_token", "c_us_per_expert")}, **model}
    speed = np.asarray(model.get("speed", np.ones(P)), dtype=np.float64)
    extra = np.asarray(model.get("extra_us", np.zeros(P)), dtype=np.float64)
    return full["a_us"], full["b_us_per_token"], full["c_us_per_expert"], speed, extra


# -- per-group LPs, formulated independently ---------------------------------------


def group_rows(cfg: Config, fixed, block, g: int):
    """load_i = const[i] + (A @ p)[i] over p = probs of group g, flattened [S * D]."""
    S, D = cfg.S, cfg.D
    first = g * S
    A = np.zeros((S, S * D))
    const = fixed[first : first + S].astype(np.float64).copy()
    for i in range(S):
        for d in range(D):
            A[i, i * D + d] += block[first + i, d]  # kept share of own block
            j = cfg.r2o[i, d]  # rank i holds the copy of block (j, d)
            A[i, j * D + d] -= block[first + j, d]
            const[i] += block[first + j, d]
    return A, const


def highs_min_max(A, const, weight, offset) -> float:
    """min T s.t. offset_i + load_i / weight_i <= T, p in [0, 1]."""
    S, n = A.shape
    c = np.zeros(n + 1)
    c[-1] = 1
    a_ub = np.hstack([A / weight[:, None], -np.ones((S, 1))])
    b_ub = -offset - const / weight
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=[(0, 1)] * n + [(None, None)], method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


def highs_min_moves(A, const, cap, block_flat, cross) -> tuple[float, float]:
    """Lexicographic (cross-node moved, all moved) with load_i <= cap_i."""
    n = A.shape[1]
    bounds = [(0, 1)] * n
    slack = 1e-9 * max(1.0, block_flat.sum() + const.sum())
    b_ub = cap - const + slack
    moved_cross = cross * block_flat  # moved = sum (1 - p) * block
    r1 = linprog(-moved_cross, A_ub=A, b_ub=b_ub, bounds=bounds, method="highs")
    assert r1.status == 0, r1.message
    cross_min = float(moved_cross.sum() + r1.fun)
    a2 = np.vstack([A, -moved_cross])  # cross moved <= cross_min
    b2 = np.append(b_ub, cross_min - moved_cross.sum() + slack)
    r2 = linprog(-block_flat, A_ub=a2, b_ub=b2, bounds=bounds, method="highs")
    assert r2.status == 0, r2.message
    return cross_min, float(block_flat.sum() + r2.fun)


def placement_active(cfg: Config, phy2log, w) -> np.ndarray:
    return (w[np.asarray(phy2log)].reshape(cfg.ep_size, cfg.n_local) > 0).sum(axis=1)


def cross_blocks(cfg: Config, g: int, gpn: int) -> np.ndarray:
    o2r = np.argsort(cfg.r2o, axis=0)
    first = g * cfg.S
    return np.array([[(first + i) // gpn != (first + o2r[i, d]) // gpn for d in range(cfg.D)]
                     for i in range(cfg.S)], dtype=np.float64).reshape(-1)


CONFIGS = [Config(CUBE, 64, 16, 2), Config(CUBE, 128, 16, 4), Config(RING_8, 32, 8, 1)]


def configs(rng: np.random.Generator, n_random: int):
    yield from CONFIGS
    for _ in range(n_random):
        yield random_config(rng)


# -- the time objective --------------------------------------------------------------


def test_time_objective_reaches_the_group_optima():
    rng = np.random.default_rng(21)
    for cfg in configs(rng, 12):
        for _ in range(3):
            model = draw_model(rng, cfg.ep_size)
            planner = make_planner(cfg, objective="time", cost_model=model)
            w = draw_workload(rng, cfg)
            plan = planner.plan(w)
            a, b, c, speed, extra = model_arrays(model, cfg.ep_size)
            weight = speed / b
            offset = extra + (a + c * placement_active(cfg, planner.phy2log, w)) / speed
            fixed, block = split_loads(cfg, planner.phy2log, w)
            np.testing.assert_allclose(plan["load_after"], lp_loads(cfg, planner.phy2log, w, plan["probs"]),
                                       atol=1e-9 * max(1, w.sum()))
            got = offset + plan["load_after"] / weight
            plain = make_planner(cfg, cost_model=model).plan(w)  # token objective, same model
            got_plain = offset + plain["load_after"] / weight
            for g in range(cfg.G):
                ranks = slice(g * cfg.S, (g + 1) * cfg.S)
                A, const = group_rows(cfg, fixed, block, g)
                want = highs_min_max(A, const, weight[ranks], offset[ranks])
                assert got[ranks].max() == pytest.approx(want, rel=1e-6, abs=1e-6), (cfg, g)
                assert got[ranks].max() <= got_plain[ranks].max() + 1e-6 * want


def test_token_objective_is_unchanged_by_the_model():
    rng = np.random.default_rng(3)
    cfg = CONFIGS[0]
    w = draw_workload(rng, cfg)
    plain = make_planner(cfg).plan(w)
    modelled = make_planner(cfg, cost_model=draw_model(rng, cfg.ep_size)).plan(w)
    np.testing.assert_array_equal(plain["probs"], modelled["probs"])
    np.testing.assert_array_equal(make_planner(cfg).solve(w).probs, plain["probs"].reshape(-1))


# -- min_moves -----------------------------------------------------------------------


@pytest.mark.parametrize("tolerance", [0.0, 0.05])
def test_min_moves_is_the_lexicographic_optimum(tolerance):
    rng = np.random.default_rng(int(tolerance * 100) + 5)
    for cfg in configs(rng, 10):
        for gpn in sorted({1, 2, max(1, cfg.S // 2), cfg.ep_size}):
            planner = make_planner(cfg, min_moves=True, move_tolerance=tolerance, gpus_per_node=gpn)
            plain = make_planner(cfg, gpus_per_node=gpn)
            w = draw_workload(rng, cfg)
            plan, ref = planner.plan(w), plain.plan(w)
            fixed, block = split_loads(cfg, planner.phy2log, w)
            total = max(1.0, float(w.sum()))
            cross_sum = moved_sum = 0.0
            for g in range(cfg.G):
                ranks = slice(g * cfg.S, (g + 1) * cfg.S)
                A, const = group_rows(cfg, fixed, block, g)
                optimum = highs_min_max(A, const, np.ones(cfg.S), np.zeros(cfg.S))
                cap = np.full(cfg.S, (1 + tolerance) * optimum)
                assert plan["load_after"][ranks].max() <= cap[0] + 1e-9 * total
                block_flat = block[ranks].reshape(-1)
                c, m = highs_min_moves(A, const, cap, block_flat, cross_blocks(cfg, g, gpn))
                cross_sum += c
                moved_sum += m
            assert plan["tokens_cross_node"] == pytest.approx(cross_sum, rel=1e-6, abs=1e-6 * total)
            assert plan["tokens_moved"] == pytest.approx(moved_sum, rel=1e-6, abs=1e-6 * total)
            assert plan["tokens_cross_node"] <= ref["tokens_cross_node"] + 1e-6 * total
            if plan["tokens_cross_node"] == pytest.approx(ref["tokens_cross_node"], abs=1e-6 * total):
                assert plan["tokens_moved"] <= ref["tokens_moved"] + 1e-6 * total


def test_time_with_min_moves():
    rng = np.random.default_rng(8)
    for cfg in configs(rng, 6):
        model = draw_model(rng, cfg.ep_size)
        w = draw_workload(rng, cfg)
        time_only = make_planner(cfg, objective="time", cost_model=model, gpus_per_node=cfg.ep_size)
        both = make_planner(cfg, objective="time", cost_model=model, min_moves=True,
                            move_tolerance=0.02, gpus_per_node=cfg.ep_size)
        a, b, c, speed, extra = model_arrays(model, cfg.ep_size)
        offset = extra + (a + c * placement_active(cfg, both.phy2log, w)) / speed
        p1, p2 = time_only.plan(w), both.plan(w)
        t1 = offset + p1["load_after"] * b / speed
        t2 = offset + p2["load_after"] * b / speed
        for g in range(cfg.G):
            ranks = slice(g * cfg.S, (g + 1) * cfg.S)
            assert t2[ranks].max() <= 1.02 * t1[ranks].max() + 1e-6 * t1[ranks].max()
        assert p2["tokens_cross_node"] == 0 and p1["tokens_cross_node"] == 0  # one node
        assert p2["tokens_moved"] <= p1["tokens_moved"] + 1e-6 * max(1, w.sum())


# -- plan()'s report -------------------------------------------------------------------


def test_plan_report_matches_oracles():
    rng = np.random.default_rng(13)
    for cfg in configs(rng, 8):
        gpn = int(rng.choice([g for g in (1, 2, 4, 8) if cfg.ep_size % max(1, cfg.ep_size // g) == 0]))
        model = draw_model(rng, cfg.ep_size)
        objective = str(rng.choice(["tokens", "time"]))
        planner = make_planner(cfg, objective=objective, cost_model=model, gpus_per_node=gpn)
        planner.update_redundancy_mapping(rng.integers(0, 1000, cfg.experts))
        w = draw_workload(rng, cfg)
        plan = planner.plan(w)
        assert set(plan) == {"probs", "load_before", "load_after", "imbalance_before", "imbalance_after",
                             "time_before", "time_after", "tokens_moved", "tokens_cross_node",
                             "solve_us", "ipm_fallbacks"}
        assert plan["probs"].shape == (cfg.G, cfg.S, cfg.D) and plan["probs"].dtype == np.float64
        assert plan["ipm_fallbacks"] == 0 and plan["solve_us"] >= 0
        phy2log = np.asarray(planner.phy2log)
        fixed, block = split_loads(cfg, phy2log, w)
        p = np.clip(plan["probs"].reshape(cfg.ep_size, cfg.D), 0, 1)
        total = max(1.0, float(w.sum()))
        np.testing.assert_allclose(plan["load_before"], fixed + block.sum(axis=1))
        np.testing.assert_allclose(plan["load_after"], lp_loads(cfg, phy2log, w, p), atol=1e-9 * total)
        assert plan["imbalance_before"] == pytest.approx(lplb.imbalance(plan["load_before"]))
        assert plan["imbalance_after"] == pytest.approx(lplb.imbalance(plan["load_after"]))
        moved = (1 - p) * block
        cross = np.concatenate([cross_blocks(cfg, g, gpn) for g in range(cfg.G)]).reshape(cfg.ep_size, cfg.D)
        assert plan["tokens_moved"] == pytest.approx(moved.sum(), rel=1e-9, abs=1e-9 * total)
        assert plan["tokens_cross_node"] == pytest.approx((moved * cross).sum(), rel=1e-9, abs=1e-9 * total)

        a, b, c, speed, extra = model_arrays(model, cfg.ep_size)
        # Before: every token on its expert's original rank.
        originals = phy2log.reshape(cfg.ep_size, cfg.n_local)[:, : cfg.n_ll]
        active_before = (w[originals] > 0).sum(axis=1)
        np.testing.assert_allclose(
            plan["time_before"], extra + (a + b * plan["load_before"] + c * active_before) / speed)
        # After: a rank's active experts are the slots map() sends tokens to.
        ids = np.repeat(np.arange(cfg.experts), w)
        slots = planner.weighted_select_target(ids, plan["probs"])
        per_slot = np.bincount(slots, minlength=cfg.ep_size * cfg.n_local)
        active_after = (per_slot.reshape(cfg.ep_size, cfg.n_local) > 0).sum(axis=1)
        np.testing.assert_allclose(
            plan["time_after"], extra + (a + b * plan["load_after"] + c * active_after) / speed)


@pytest.mark.parametrize("kind", ["numpy", pytest.param("torch", marks=requires_torch)])
def test_plan_kinds(kind):
    cfg = CONFIGS[0]
    w = np.random.default_rng(0).integers(0, 100, cfg.experts)
    planner = make_planner(cfg, objective="time")
    plan = planner.plan(torch.from_numpy(w) if kind == "torch" else w)
    for key in ("probs", "load_before", "load_after", "time_before", "time_after"):
        x = plan[key]
        if kind == "torch":
            assert isinstance(x, torch.Tensor) and x.dtype == torch.float64, key
        else:
            assert isinstance(x, np.ndarray) and x.dtype == np.float64, key
    for key in ("imbalance_before", "imbalance_after", "tokens_moved", "tokens_cross_node", "solve_us"):
        assert isinstance(plan[key], float), key
    assert isinstance(planner.plan(w.tolist())["probs"], np.ndarray)
    # solve() reports the same.
    out = planner.solve(w)
    np.testing.assert_array_equal(out.time_after, np.asarray(plan["time_after"]))
    assert out.tokens_moved == plan["tokens_moved"]


# -- the per-batch API with an objective -----------------------------------------------


@pytest.mark.parametrize("kind", ["numpy", pytest.param("torch", marks=requires_torch)])
@pytest.mark.parametrize("options", [dict(objective="time"), dict(min_moves=True, gpus_per_node=4),
                                     dict(objective="time", min_moves=True, move_tolerance=0.1)])
def test_run_uses_the_objective(kind, options):
    rng = np.random.default_rng(17)
    cfg = CONFIGS[1]
    planner = make_planner(cfg, cost_model={"speed": rng.uniform(0.5, 2, cfg.ep_size)}, **options)
    ids_np = draw_ids(rng, cfg.experts, (512, 8), skew=1.2)
    ids = torch.from_numpy(ids_np) if kind == "torch" else ids_np
    counts, _ = planner.count_workload(ids)
    avail = np.zeros((), np.int64)
    probs, _ = planner.solve_probs(counts, avail)
    assert int(avail) == planner.n_group
    want = planner.plan(np.asarray(counts))["probs"]
    np.testing.assert_array_equal(np.asarray(probs), want.astype(np.float32))
    out = planner.run(ids)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(planner.weighted_select_target(ids, probs)))
    assert type(out) is type(ids)


@requires_cuda
def test_cuda_tensors_need_the_default_objective():
    cfg = CONFIGS[0]
    ids = torch.from_numpy(draw_ids(np.random.default_rng(0), cfg.experts, (64, 4))).cuda()
    for options in (dict(objective="time"), dict(min_moves=True)):
        planner = make_planner(cfg, **options)
        counts, _ = planner.count_workload(ids)  # counting and mapping do not depend on it
        with pytest.raises(ValueError, match=r"objective: .* runs on the CPU only .* move it with \.cpu\(\)"):
            planner.solve_probs(counts)
        with pytest.raises(ValueError, match=r"objective: .* runs on the CPU only"):
            planner.run(ids)
        plan = planner.plan(counts)  # a host solve, results back on the device
        assert plan["probs"].device == counts.device
        cpu_out = planner.run(ids.cpu())
        probs, _ = planner.solve_probs(counts.cpu())
        np.testing.assert_array_equal(planner.weighted_select_target(ids, probs.cuda()).cpu().numpy(),
                                      cpu_out.numpy())
    # The default objective still runs on the GPU.
    # (The GPU's warp-parallel exact solver may choose another optimal split
    # when the optimum is not unique, so compare loads, not token by token.)
    planner = make_planner(cfg)
    gpu_out, cpu_out = planner.run(ids).cpu().numpy(), planner.run(ids.cpu()).numpy()
    phy2log = planner.phy2log  # on r2o's device (numpy here), like the reference
    phy2log = phy2log.cpu().numpy() if hasattr(phy2log, "cpu") else np.asarray(phy2log)
    valid = ids.cpu().numpy() >= 0
    assert np.array_equal(phy2log[gpu_out[valid]], ids.cpu().numpy()[valid])
    n_local = cfg.n_routed // cfg.ep_size
    loads = [np.bincount(o[valid] // n_local, minlength=cfg.ep_size) for o in (gpu_out, cpu_out)]
    assert abs(int(loads[0].max()) - int(loads[1].max())) <= 2 * cfg.redundant  # split rounding


def test_cuda_check_without_a_gpu(monkeypatch):
    """The same check on any machine: every array pretends to be on a GPU."""
    cfg = CONFIGS[0]
    ids = draw_ids(np.random.default_rng(0), cfg.experts, (64, 4))
    planner = make_planner(cfg, objective="time")
    counts, _ = planner.count_workload(ids)
    monkeypatch.setattr(lplb._arrays, "is_cuda", lambda a: True)
    with pytest.raises(ValueError, match=r"objective: objective='time' runs on the CPU only .* but workload is a tensor on"):
        planner.solve_probs(counts)
    planner = make_planner(cfg, min_moves=True)
    with pytest.raises(ValueError, match=r"objective: objective='tokens' with min_moves=True runs on the CPU only .* idx"):
        planner.run(ids)


# -- options ---------------------------------------------------------------------------


def test_defaults_and_properties():
    p = make_planner(CONFIGS[0])
    assert (p.objective, p.min_moves, p.move_tolerance) == ("tokens", False, 0.0)
    assert p.cost_model == {"a_us": DEFAULT.a_us, "b_us_per_token": DEFAULT.b_us_per_token,
                            "c_us_per_expert": DEFAULT.c_us_per_expert, "speed": [], "extra_us": []}
    assert DEFAULT.b_us_per_token > 0 and DEFAULT.time_us(0, 100.0, 2.0) == pytest.approx(
        DEFAULT.a_us + 100 * DEFAULT.b_us_per_token + 2 * DEFAULT.c_us_per_expert)
    model = lplb.CostModel()
    model.a_us, model.speed = 1.0, [2.0] * 16
    p = make_planner(CONFIGS[0], objective="time", cost_model=model, min_moves=True, move_tolerance=0.5)
    assert (p.objective, p.min_moves, p.move_tolerance) == ("time", True, 0.5)
    assert p.cost_model["a_us"] == 1.0 and p.cost_model["speed"] == [2.0] * 16
    assert "objective='time', min_moves=True, move_tolerance=0.5" in repr(p)
    p = make_planner(CONFIGS[0], cost_model={"extra_us": np.arange(16), "c_us_per_expert": 0})
    assert p.cost_model["extra_us"] == list(range(16)) and p.cost_model["c_us_per_expert"] == 0


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        (dict(objective="latency"), ValueError, r"objective: unknown objective 'latency' \(expected 'tokens' or 'time'\)"),
        (dict(objective=None), TypeError, r"objective: expected 'tokens' or 'time', got NoneType"),
        (dict(objective="time", solver="ipm"), ValueError, r"objective: the 'time' objective needs the exact solver"),
        (dict(min_moves=True, solver="ipm"), ValueError, r"objective: .* with min_moves needs the exact solver"),
        (dict(min_moves=1), TypeError, r"min_moves: expected a bool, got int"),
        (dict(move_tolerance=-0.1), ValueError, r"move_tolerance: must be finite and >= 0, got -0.1"),
        (dict(move_tolerance=float("nan")), ValueError, r"move_tolerance: must be finite and >= 0"),
        (dict(move_tolerance="0"), TypeError, r"move_tolerance: expected a real number, got str"),
        (dict(cost_model=[1, 2]), TypeError, r"cost_model: expected None, a dict or an lplb.CostModel, got list"),
        (dict(cost_model={"d_us": 1}), ValueError, r"cost_model: unknown key 'd_us' \(expected a_us, "),
        (dict(cost_model={"a_us": "1"}), TypeError, r"cost_model.a_us: expected a real number, got str"),
        (dict(cost_model={"a_us": True}), TypeError, r"cost_model.a_us: expected a real number, got bool"),
        (dict(cost_model={"a_us": -1}), ValueError, r"cost_model: a_us must be finite and >= 0"),
        (dict(cost_model={"b_us_per_token": 0}), ValueError, r"cost_model: b_us_per_token must be finite and > 0"),
        (dict(cost_model={"c_us_per_expert": float("inf")}), ValueError, r"cost_model: c_us_per_expert must be finite"),
        (dict(cost_model={"speed": [1.0] * 3}), ValueError, r"cost_model: speed has 3 entries, expected 16 \(one per rank\) or none"),
        (dict(cost_model={"speed": [1.0] * 15 + [0.0]}), ValueError, r"cost_model.speed: entry 15 is not > 0 \(0"),
        (dict(cost_model={"extra_us": [0.0] * 15 + [-1.0]}), ValueError, r"cost_model.extra_us: entry 15 is negative \(-1"),
        (dict(cost_model={"extra_us": np.zeros((4, 4))}), ValueError, r"cost_model.extra_us: expected a 1-D array"),
        (dict(cost_model={"speed": "fast"}), TypeError, r"cost_model.speed: expected a numpy array or torch tensor"),
        (dict(cost_model={"speed": np.ones(16, bool)}), TypeError, r"cost_model.speed: expected an integer or floating-point"),
    ],
)
def test_bad_options(kw, exc, match):
    with pytest.raises(exc, match=match):
        make_planner(CONFIGS[0], **kw)


def test_bad_plan_workload():
    p = make_planner(CONFIGS[0], objective="time")
    with pytest.raises(ValueError, match=r"workload: expected 64 entries"):
        p.plan(np.ones(63))
    with pytest.raises(ValueError, match=r"workload: entry 2 is negative"):
        p.plan(np.array([1, 1, -1] + [0] * 61))
    with pytest.raises(TypeError, match=r"workload: expected an integer or floating-point"):
        p.plan(np.ones(64, bool))
