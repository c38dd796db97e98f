"""Helpers shared by the Python tests: topologies, random configurations and
independent (numpy) oracles for the planner's layouts and loads."""

from __future__ import annotations

import dataclasses

import numpy as np

CUBE = np.array([[3, 0, 1, 2, 7, 4, 5, 6], [6, 7, 4, 5, 0, 1, 2, 3]]).T
RING_8 = np.array([[1, 2, 3, 4, 5, 6, 7, 0]]).T
HYPERCUBE = np.array(
    [
        [3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14],
        [12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ]
).T


def torus_2d(m: int, n: int) -> np.ndarray:
    return np.array([[(i + 1) % m * n + j, i * n + (j + 1) % n] for i in range(m) for j in range(n)])


def random_derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    while True:
        p = rng.permutation(n)
        if np.all(p != np.arange(n)):
            return p


def random_r2o(S: int, D: int, rng: np.random.Generator) -> np.ndarray:
    return np.stack([random_derangement(S, rng) for _ in range(D)], axis=1)


@dataclasses.dataclass(frozen=True)
class Config:
    r2o: np.ndarray
    experts: int
    ep_size: int
    redundant: int

    @property
    def S(self) -> int:
        return self.r2o.shape[0]

    @property
    def D(self) -> int:
        return self.r2o.shape[1]

    @property
    def n_routed(self) -> int:
        return self.experts + self.redundant * self.ep_size

    @property
    def n_ll(self) -> int:
        return self.experts // self.ep_size

    @property
    def n_local(self) -> int:
        return self.n_ll + self.redundant

    @property
    def C(self) -> int:
        return self.redundant // self.D

    @property
    def G(self) -> int:
        return self.ep_size // self.S


def random_config(rng: np.random.Generator) -> Config:
    """A random valid (topology, E, P, R): group sizes 2..16, 1..3 slots."""
    S = int(rng.integers(2, 17))
    D = int(rng.integers(1, 4))
    G = int(rng.integers(1, 4))
    P = S * G
    C = int(rng.integers(1, 3))
    R = C * D
    n_ll = R + int(rng.integers(0, 4))
    return Config(random_r2o(S, D, rng), n_ll * P, P, R)


REFERENCE_CONFIGS = [
    Config(CUBE, 256, 32, 2),
    Config(CUBE, 256, 32, 4),
    Config(CUBE, 256, 64, 2),
    Config(RING_8, 256, 32, 1),
    Config(HYPERCUBE, 256, 16, 2),
    Config(torus_2d(8, 4), 256, 32, 2),
]


def expected_phy2log(cfg: Config, order: np.ndarray) -> np.ndarray:
    """phy2log in LPLB's layout (docs/ARCHITECTURE.md) from the originals' order (E, rank-major)."""
    orig = order.reshape(cfg.ep_size, cfg.n_ll)
    out = np.zeros((cfg.ep_size, cfg.n_local), dtype=np.int64)
    out[:, : cfg.n_ll] = orig
    for rank in range(cfg.ep_size):
        g, i = divmod(rank, cfg.S)
        for l in range(cfg.C * cfg.D):
            src = g * cfg.S + cfg.r2o[i, l % cfg.D]
            out[rank, cfg.n_ll + l] = orig[src, l]
    return out.reshape(-1)


def split_loads(cfg: Config, phy2log: np.ndarray, workload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fixed [P], block [P, D]) of a workload under a placement."""
    w = np.asarray(workload, dtype=np.float64)
    slots = np.asarray(phy2log).reshape(cfg.ep_size, cfg.n_local)[:, : cfg.n_ll]
    block = np.zeros((cfg.ep_size, cfg.D))
    for c in range(cfg.C):
        block += w[slots[:, c * cfg.D : (c + 1) * cfg.D]]
    fixed = w[slots[:, cfg.C * cfg.D :]].sum(axis=1)
    return fixed, block


def lp_loads(cfg: Config, phy2log: np.ndarray, workload: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per-rank loads with probs [G, S, D] (clamped to [0, 1]) applied."""
    fixed, block = split_loads(cfg, phy2log, workload)
    p = np.clip(np.asarray(probs, dtype=np.float64).reshape(cfg.ep_size, cfg.D), 0, 1)
    load = fixed + (p * block).sum(axis=1)
    for rank in range(cfg.ep_size):
        g, i = divmod(rank, cfg.S)
        for d in range(cfg.D):
            j = g * cfg.S + cfg.r2o[i, d]
            load[rank] += (1 - p[j, d]) * block[j, d]
    return load


def chunk_prefix(ids: np.ndarray, n_sms: int, experts: int, align: int = 256) -> np.ndarray:
    """The reference's per-SM inclusive prefix counts [n_sms, E] of flat ids."""
    ids = np.asarray(ids).reshape(-1)
    n = ids.size
    per = -(-n // n_sms)
    per = -(-per // align) * align
    out = np.zeros((n_sms, experts), dtype=np.int64)
    for s in range(n_sms):
        chunk = ids[min(n, per * s) : min(n, per * (s + 1))]
        out[s] = np.bincount(chunk[chunk >= 0], minlength=experts)
    return np.cumsum(out, axis=0)


def draw_ids(rng: np.random.Generator, experts: int, shape: tuple[int, ...], skew: float = 1.0,
             drop: float = 0.1) -> np.ndarray:
    """Random ids in [-1, E): Zipf-like popularity (skew 0 = uniform), `drop` of them -1."""
    pop = 1.0 / np.arange(1, experts + 1) ** skew
    pop = rng.permutation(pop / pop.sum())
    ids = rng.choice(experts, size=shape, p=pop).astype(np.int64)
    ids[rng.random(shape) < drop] = -1
    return ids
