"""Routing workloads for the example: a recorded trace or a synthetic stream.

Both give, per step, the logical expert ids int64 [T, k] of T tokens
(T = tokens per rank * ranks). A trace stores per-step expert counts
(counts[step][layer][expert], shared/traces format); its counts are scaled
to T * k token-expert pairs (largest-remainder rounding) and dealt to
tokens in a random order, so a token may repeat an expert (the layer's
math does not care; the loads are the trace's). The synthetic stream is a
router's top-k over log-popularity plus Gumbel noise: Zipf base popularity,
a slow log-normal drift and per-batch noise (the shape of `lplb simulate`'s
default stream, not its exact numbers: run.py writes the counts it used so
that the simulator replays exactly those).
"""

from __future__ import annotations

import gzip
import json
from typing import Iterator

import numpy as np
import torch


def scale_counts(counts: np.ndarray, total: int) -> np.ndarray:
    """Non-negative integers proportional to counts, summing to total."""
    c = np.asarray(counts, dtype=np.float64)
    if c.sum() <= 0:
        c = np.ones_like(c)
    exact = c * (total / c.sum())
    out = np.floor(exact).astype(np.int64)
    short = total - int(out.sum())
    out[np.argsort(-(exact - out), kind="stable")[:short]] += 1
    return out


def load_trace(path: str, layer: int) -> np.ndarray:
    """int64 [steps, E]: one layer of a counts[step][layer][expert] trace."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        doc = json.load(f)
    counts = np.asarray(doc["counts"] if isinstance(doc, dict) else doc, dtype=np.int64)
    if counts.ndim != 3:
        raise ValueError(f"--trace: expected counts[step][layer][expert], got shape {counts.shape}")
    if not 0 <= layer < counts.shape[1]:
        raise ValueError(f"--layer: {layer} is not in [0, {counts.shape[1]})")
    return counts[:, layer, :]


class TraceWorkload:
    def __init__(self, counts: np.ndarray, tokens: int, topk: int, device: torch.device, seed: int) -> None:
        self.counts = counts
        self.tokens, self.topk, self.device = tokens, topk, device
        self.num_experts = counts.shape[1]
        self.seed = seed

    def __len__(self) -> int:
        return self.counts.shape[0]

    def ids(self, step: int) -> torch.Tensor:
        c = scale_counts(self.counts[step], self.tokens * self.topk)
        flat = torch.repeat_interleave(
            torch.arange(self.num_experts, device=self.device), torch.as_tensor(c, device=self.device)
        )
        gen = torch.Generator(device=self.device).manual_seed(self.seed * 1_000_003 + step)
        perm = torch.randperm(flat.numel(), generator=gen, device=self.device)
        return flat[perm].view(self.tokens, self.topk)


class SyntheticWorkload:
    """Router top-k over log-popularity + Gumbel noise (distinct experts)."""

    def __init__(
        self, steps: int, tokens: int, topk: int, experts: int, device: torch.device, seed: int,
        skew: float = 0.4, drift: float = 0.02, batch_noise: float = 0.3,
    ) -> None:
        rng = np.random.default_rng(seed)
        base = np.log(1.0 / np.arange(1, experts + 1) ** skew)
        rng.shuffle(base)
        walk = np.zeros(experts)
        self.logits = []
        for _ in range(steps):
            walk = 0.999 * walk + rng.normal(0, drift, experts)
            self.logits.append(base + walk + rng.normal(0, batch_noise, experts))
        self.tokens, self.topk, self.device, self.seed = tokens, topk, device, seed
        self.num_experts = experts

    def __len__(self) -> int:
        return len(self.logits)

    def ids(self, step: int) -> torch.Tensor:
        gen = torch.Generator(device=self.device).manual_seed(self.seed * 1_000_003 + step)
        u = torch.rand(self.tokens, self.num_experts, generator=gen, device=self.device).clamp_(1e-20, 1.0)
        logits = torch.as_tensor(self.logits[step], dtype=torch.float32, device=self.device)
        return torch.topk(logits - torch.log(-torch.log(u)), self.topk, dim=-1).indices


def step_counts(ids: torch.Tensor, num_experts: int) -> np.ndarray:
    return torch.bincount(ids.reshape(-1), minlength=num_experts).cpu().numpy().astype(np.int64)


def write_trace(path: str, counts: list[np.ndarray], config: dict) -> None:
    """counts[step][1][E] in the shared traces' format (for `lplb simulate`)."""
    doc = {"config": config, "counts": [[c.tolist()] for c in counts]}
    with gzip.open(path, "wt") as f:
        json.dump(doc, f)


def steps_from(workload, start: int, stop: int) -> Iterator[int]:
    if stop > len(workload):
        raise ValueError(f"--steps: the workload has {len(workload)} steps, {stop} needed")
    return iter(range(start, stop))
