"""Record your model's routing as a trace that `lplb simulate --trace` replays.

A trace is gzipped JSON ``{"config": {...}, "counts": [steps][layers][experts]}``:
``counts[s][l][e]`` is the number of token-slots the gate of MoE layer ``l``
sent to expert ``e`` during step ``s``. :func:`record_trace` attaches a
forward hook to each gate; every forward pass adds its expert choices to the
current step, :meth:`TraceRecorder.step` closes the step (call it once per
optimizer or decode step), :meth:`TraceRecorder.save` writes the file::

    rec = lplb.record_trace([blk.moe.gate for blk in model.blocks], num_experts=256)
    for batch in loader:
        loss = model(batch); loss.backward(); opt.step()
        rec.step()
    rec.save("my_model.json.gz")        # lplb simulate --trace my_model.json.gz
    rec.remove()

torch is optional and imported by nobody here: the hook accepts torch tensors
(counted on their device with ``torch.bincount``; the counts reach the host
once per step, not once per layer) and anything numpy can read.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

IndexExtractor = Callable[[Any, Any, Any], Any]


def _is_torch_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "bincount")


def _is_integer(x: Any) -> bool:
    if _is_torch_tensor(x):
        return not (x.is_floating_point() or x.is_complex()) and str(x.dtype) != "torch.bool"
    return isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.integer)


def default_indices(module: Any, inputs: Any, output: Any) -> Any:
    """The expert ids in a gate's output: the output itself when it is an
    integer array or tensor, else the first integer one in a tuple/list
    (e.g. DeepSeek-style gates return ``(topk_idx, topk_weight)``)."""
    if _is_integer(output):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            if _is_integer(item):
                return item
    raise TypeError(
        "record_trace: the gate's output holds no integer expert-id array or tensor; "
        "pass indices=lambda module, inputs, output: <the [tokens, topk] expert ids>"
    )


class TraceRecorder:
    """Per-step expert counts of several MoE layers (see the module doc)."""

    def __init__(self, num_layers: int, num_experts: int, config: dict | None = None) -> None:
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if int(num_experts) < 1:
            raise ValueError(f"num_experts must be >= 1, got {num_experts}")
        self.num_layers, self.num_experts = int(num_layers), int(num_experts)
        self.config: dict = dict(config or {})
        self.counts: list[list[list[int]]] = []  # closed steps
        self._open: list[Any] = [None] * self.num_layers  # this step, per layer
        self._handles: list[Any] = []

    def add(self, layer: int, indices: Any) -> None:
        """Count one batch of expert ids (any shape; -1 = no expert) for
        ``layer`` in the open step."""
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"layer {layer} is outside [0, {self.num_layers})")
        E = self.num_experts
        if _is_torch_tensor(indices):
            import torch  # only reached with a torch tensor in hand

            ids = indices.detach().reshape(-1).long()
            if ids.numel() and int(ids.max()) >= E:  # one sync; wrong ids must not pass
                raise ValueError(f"layer {layer}: expert id {int(ids.max())} >= num_experts {E}")
            c = torch.bincount(ids[ids >= 0], minlength=E)
        else:
            ids = np.asarray(indices).reshape(-1)
            if not np.issubdtype(ids.dtype, np.integer):
                raise TypeError(f"layer {layer}: expert ids must be integers, got {ids.dtype}")
            ids = ids[ids >= 0]
            if ids.size and int(ids.max()) >= E:
                raise ValueError(f"layer {layer}: expert id {int(ids.max())} >= num_experts {E}")
            c = np.bincount(ids, minlength=E).astype(np.int64)
        self._open[layer] = c if self._open[layer] is None else self._open[layer] + c

    def step(self) -> None:
        """Close the open step (layers that saw no batch count zero)."""
        row = []
        for c in self._open:
            if c is None:
                row.append([0] * self.num_experts)
            elif _is_torch_tensor(c):
                row.append([int(v) for v in c.cpu().tolist()])
            else:
                row.append([int(v) for v in c])
        self.counts.append(row)
        self._open = [None] * self.num_layers

    def save(self, path: str) -> None:
        """Write the closed steps (gzipped when ``path`` ends in .gz)."""
        if not self.counts:
            raise ValueError("no closed step to save: call step() after each step")
        cfg = {"experts": self.num_experts, "layers": self.num_layers, "steps": len(self.counts)}
        cfg.update(self.config)
        text = json.dumps({"config": cfg, "counts": self.counts}, separators=(",", ":"))
        if str(path).endswith(".gz"):
            with gzip.open(path, "wt", encoding="utf-8") as f:
                f.write(text)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)

    def remove(self) -> None:
        """Detach every hook this recorder registered."""
        for h in self._handles:
            h.remove()
        self._handles = []


def record_trace(
    gates: Any,
    num_experts: int,
    indices: IndexExtractor = default_indices,
    config: dict | None = None,
) -> TraceRecorder:
    """Hook the gate module(s) of MoE layers and return their recorder.

    :param gates: one module or a sequence of them, one per MoE layer, in layer
        order; anything with PyTorch's ``register_forward_hook(fn)``.
    :param num_experts: routed experts E per layer.
    :param indices: ``fn(module, inputs, output)`` returning the step's expert
        ids ([tokens, topk], -1 allowed); the default finds the integer array
        in the gate's output.
    :param config: extra fields for the trace's "config" (model name, ...).
    """
    mods: Sequence[Any] = list(gates) if isinstance(gates, (list, tuple)) else [gates]
    for m in mods:
        if not callable(getattr(m, "register_forward_hook", None)):
            raise TypeError(f"record_trace: {type(m).__name__} has no register_forward_hook")
    rec = TraceRecorder(len(mods), num_experts, config)
    for layer, m in enumerate(mods):

        def hook(module: Any, inputs: Any, output: Any, layer: int = layer) -> None:
            rec.add(layer, indices(module, inputs, output))

        rec._handles.append(m.register_forward_hook(hook))
    return rec
