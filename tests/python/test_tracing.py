"""lplb.record_trace: a forward hook on MoE gates writes the trace format that
`lplb simulate --trace` replays. numpy path with a fake gate (no torch
needed), torch path with a real nn.Module when torch is installed."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lplb
from conftest import requires_torch

ROOT = Path(__file__).resolve().parents[2]


class FakeGate:
    """The part of torch.nn.Module that record_trace uses."""

    def __init__(self, E: int, topk: int, seed: int, output_tuple: bool) -> None:
        self.E, self.topk, self.tuple = E, topk, output_tuple
        self.rng = np.random.default_rng(seed)
        self.hooks: list = []

    def register_forward_hook(self, fn):
        gate = self

        class Handle:
            def remove(self) -> None:
                gate.hooks.remove(fn)

        self.hooks.append(fn)
        return Handle()

    def __call__(self, x: np.ndarray):
        idx = np.stack([self.rng.permutation(self.E)[: self.topk] for _ in range(len(x))])
        idx[0, 0] = -1  # a dropped slot stays uncounted
        out = (idx, np.ones(idx.shape, np.float32)) if self.tuple else idx
        for fn in list(self.hooks):
            fn(self, (x,), out)
        return out


def expected_counts(ids_per_layer: list[list[np.ndarray]], E: int) -> list[list[int]]:
    return [
        np.bincount(np.concatenate([i.reshape(-1) for i in ids])[
            np.concatenate([i.reshape(-1) for i in ids]) >= 0], minlength=E).tolist()
        for ids in ids_per_layer
    ]


def find_cli() -> Path | None:
    for p in (os.environ.get("LPLB_CLI"), ROOT / "build" / "tools" / "lplb"):
        if p and Path(p).is_file():
            return Path(p)
    return None


@pytest.mark.parametrize("output_tuple", [False, True])
def test_fake_gates_numpy(tmp_path, output_tuple):
    E, topk, steps = 16, 2, 3
    gates = [FakeGate(E, topk, seed, output_tuple) for seed in range(2)]
    rec = lplb.record_trace(gates, num_experts=E, config={"model": "fake"})
    want = []
    for _ in range(steps):
        seen: list[list[np.ndarray]] = [[], []]
        for _batch in range(2):  # two micro-batches per step
            for layer, g in enumerate(gates):
                out = g(np.zeros((5, 4)))
                seen[layer].append(out[0] if output_tuple else out)
        rec.step()
        want.append(expected_counts(seen, E))
    path = tmp_path / "t.json.gz"
    rec.save(str(path))
    rec.remove()
    assert all(not g.hooks for g in gates)
    data = json.loads(gzip.open(path, "rt").read())
    assert data["counts"] == want
    assert data["config"]["experts"] == E and data["config"]["model"] == "fake"
    assert np.asarray(data["counts"]).shape == (steps, 2, E)

    cli = find_cli()
    if cli is not None:  # the simulator replays what the recorder wrote
        r = subprocess.run([str(cli), "simulate", "-q", "--trace", str(path), "--ep", "4",
                            "--redundant", "2", "--topology", "ring:4", "--window", "1",
                            "--refresh", "1", "--methods", "eplb,lplb_exact"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "LPLB (exact)" in r.stdout


def test_bad_input_is_named():
    rec = lplb.TraceRecorder(1, 8)
    with pytest.raises(ValueError, match="num_experts"):
        rec.add(0, np.array([8]))
    with pytest.raises(ValueError, match="layer 3"):
        rec.add(3, np.array([1]))
    with pytest.raises(TypeError, match="integers"):
        rec.add(0, np.array([1.5]))
    with pytest.raises(ValueError, match="no closed step"):
        rec.save("/nonexistent/x.json")
    with pytest.raises(TypeError, match="register_forward_hook"):
        lplb.record_trace([object()], 8)

    class FloatGate(FakeGate):
        def __call__(self, x):
            for fn in self.hooks:
                fn(self, (x,), np.zeros((2, 8), np.float32))

    g = FloatGate(8, 2, 0, False)
    lplb.record_trace(g, 8)
    with pytest.raises(TypeError, match="indices="):
        g(np.zeros(2))


def test_a_step_without_batches_counts_zero(tmp_path):
    rec = lplb.TraceRecorder(2, 4)
    rec.add(1, [0, 0, 3])
    rec.step()
    rec.step()
    assert rec.counts == [[[0, 0, 0, 0], [2, 0, 0, 1]], [[0] * 4, [0] * 4]]
    rec.save(str(tmp_path / "plain.json"))
    assert json.loads((tmp_path / "plain.json").read_text())["counts"] == rec.counts


@requires_torch
def test_torch_module_hook(tmp_path):
    import torch

    E, topk = 32, 4
    torch.manual_seed(0)

    class Gate(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(8, E, bias=False)

        def forward(self, h):
            scores = self.proj(h).sigmoid()
            w, idx = scores.topk(topk, dim=-1)
            return idx, w

    gates = [Gate(), Gate()]
    rec = lplb.record_trace(gates, num_experts=E)
    want = np.zeros((2, E), np.int64)
    for _ in range(3):
        h = torch.randn(64, 8)
        for layer, g in enumerate(gates):
            idx, _ = g(h)
            want[layer] += np.bincount(idx.reshape(-1).numpy(), minlength=E)
    rec.step()
    rec.save(str(tmp_path / "t.json.gz"))
    rec.remove()
    data = json.loads(gzip.open(tmp_path / "t.json.gz", "rt").read())
    assert data["counts"] == [want.tolist()]
