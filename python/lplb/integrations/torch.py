"""lplb balancers for PyTorch MoE layers.

A balancer turns the router's logical expert ids (int64 [T, k], values in
[0, E)) into physical slot ids over `phy2log` (slot s holds logical expert
phy2log[s] and lives on rank s // n_local). Every balancer here keeps each
token with its expert: `balancer.phy2log[balancer(ids)] == ids`.

- `NoBalancer`: expert e in slot e, no copies.
- `StaticBalancer`: a fixed placement with copies (EPLB's), each expert's
  tokens split evenly over its copies. Plain torch ops.
- `LplbBalancer`: lplb.Planner's per-batch LP (count -> solve -> map).
- `PlacementBalancer`: lplb.PlacementPlanner's exact LP over any placement
  (EPLB + LP, hybrid + LP, online placement).

The planners' calls are torch.library custom ops (`lplb::planner_run`,
`lplb::placement_run`) with fake implementations, so that
torch.compile(fullgraph=True) of a layer that calls a balancer traces it as
one opaque node with no graph break. Planners cannot be op arguments, so
each balancer registers its planner under an integer handle; the handle is a
Python int on the balancer, a constant for the compiled graph.

Device paths: `LplbBalancer` runs on the GPU with no host synchronisation
when lplb was built with its CUDA backend (capturable in a CUDA graph after
one warm-up call). `PlacementBalancer` uses the GPU placement planner when
the installed lplb has one (lplb.PlacementPlanner accepting CUDA tensors)
and otherwise runs on the CPU, copying ids to the host and back (which
synchronises, so it cannot be captured); `PlacementBalancer.path` says
which ("cuda" or "cpu").
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

import numpy as np
import torch

# Weak: a balancer (and its planner) lives as long as the layer holding it.
_handles: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_next_handle = itertools.count(1)


def _register(obj: Any) -> int:
    handle = next(_next_handle)
    _handles[handle] = obj
    return handle


def _lookup(handle: int) -> Any:
    try:
        return _handles[handle]
    except KeyError:
        raise ValueError(f"handle: no lplb balancer is registered under {handle}") from None


@torch.library.custom_op("lplb::planner_run", mutates_args=())
def planner_run(idx: torch.Tensor, handle: int) -> torch.Tensor:
    """lplb.Planner.run(idx) of the planner registered under handle."""
    return _lookup(handle)._planner.run(idx).clone()


@planner_run.register_fake
def _planner_run_fake(idx: torch.Tensor, handle: int) -> torch.Tensor:
    return torch.empty_like(idx)


@torch.library.custom_op("lplb::placement_run", mutates_args=())
def placement_run(idx: torch.Tensor, handle: int) -> torch.Tensor:
    """lplb.PlacementPlanner.run(idx) of the balancer registered under handle
    (GPU placement planner when available, else through the host)."""
    return _lookup(handle)._run_eager(idx)


@placement_run.register_fake
def _placement_run_fake(idx: torch.Tensor, handle: int) -> torch.Tensor:
    return torch.empty_like(idx)


def _as_long(a: Any, device: Any = None) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.to(device=device, dtype=torch.long).reshape(-1)
    return torch.as_tensor(np.asarray(a, dtype=np.int64).reshape(-1), device=device)


def log2phy_table(phy2log: Any, num_experts: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(log2phy int64 [E, max_count] (each expert's slots ascending, -1
    padded), logcnt int64 [E]) of a placement, on phy2log's device."""
    p2l = _as_long(phy2log)
    host = p2l.cpu().numpy()
    if host.size == 0 or host.min() < 0 or host.max() >= num_experts:
        raise ValueError(f"phy2log: entries must lie in [0, {num_experts})")
    logcnt = np.bincount(host, minlength=num_experts)
    if (logcnt == 0).any():
        raise ValueError(f"phy2log: expert {int(np.argmin(logcnt))} has no slot")
    table = np.full((num_experts, int(logcnt.max())), -1, dtype=np.int64)
    fill = np.zeros(num_experts, dtype=np.int64)
    for slot, e in enumerate(host):
        table[e, fill[e]] = slot
        fill[e] += 1
    return torch.from_numpy(table).to(p2l.device), torch.from_numpy(logcnt).to(p2l.device)


class Balancer:
    """Base: maps logical ids to physical slot ids over `phy2log`.

    Attributes: `name`, `phy2log` (int64 [num_physical]), `num_experts`,
    `ep_size`, `n_local` (slots per rank), `num_physical`, `path` ("torch",
    "cuda" or "cpu": where the balancer's own work runs), `capturable`
    (True when a call on CUDA tensors can be captured in a CUDA graph).
    """

    name = "balancer"

    def __init__(self, phy2log: Any, num_experts: int, ep_size: int) -> None:
        self.phy2log = _as_long(phy2log)
        self.num_experts = int(num_experts)
        self.ep_size = int(ep_size)
        self.num_physical = int(self.phy2log.numel())
        if self.ep_size < 1 or self.num_physical % self.ep_size:
            raise ValueError(
                f"phy2log: {self.num_physical} slots do not split over ep_size {self.ep_size}"
            )
        self.n_local = self.num_physical // self.ep_size
        self.path = "torch"
        self.capturable = True

    def to(self, device: Any) -> Balancer:
        """Moves the balancer's tables to device (returns self)."""
        self.phy2log = self.phy2log.to(device)
        return self

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(experts={self.num_experts}, ep_size={self.ep_size}, "
            f"n_local={self.n_local}, path={self.path!r})"
        )


class NoBalancer(Balancer):
    """Expert e in slot e (rank e // (E / P)), no copies."""

    name = "none"

    def __init__(self, num_experts: int, ep_size: int, device: Any = None) -> None:
        if num_experts % ep_size:
            raise ValueError(f"num_experts: {num_experts} is not a multiple of ep_size {ep_size}")
        super().__init__(torch.arange(num_experts, device=device), num_experts, ep_size)

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        return ids


def _occurrence(flat: torch.Tensor, num_values: int) -> torch.Tensor:
    """For each entry of flat (values in [0, num_values)), how many earlier
    entries hold the same value. Static shapes only (compiles, captures)."""
    n = flat.numel()
    order = torch.argsort(flat, stable=True)
    counts = torch.zeros(num_values, dtype=torch.long, device=flat.device)
    counts.index_add_(0, flat, torch.ones_like(flat))
    start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n, device=flat.device) - start[flat[order]]
    occ = torch.empty_like(flat)
    occ[order] = rank
    return occ


class StaticBalancer(Balancer):
    """A fixed placement (e.g. EPLB's phy2log); an expert's tokens are dealt
    to its copies in turn (the i-th token of expert e, in input order, goes
    to copy i mod count), so the split is even to within one token."""

    name = "static"

    def __init__(self, phy2log: Any, num_experts: int, ep_size: int, name: str = "eplb") -> None:
        super().__init__(phy2log, num_experts, ep_size)
        self.name = name
        self.log2phy, self.logcnt = log2phy_table(self.phy2log, self.num_experts)

    def to(self, device: Any) -> StaticBalancer:
        super().to(device)
        self.log2phy = self.log2phy.to(device)
        self.logcnt = self.logcnt.to(device)
        return self

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        flat = ids.reshape(-1).long()
        valid = flat >= 0
        # -1 entries count as an extra value E, so they do not shift the turns.
        occ = _occurrence(torch.where(valid, flat, torch.full_like(flat, self.num_experts)), self.num_experts + 1)
        e = torch.where(valid, flat, torch.zeros_like(flat))
        copy = occ % self.logcnt[e]
        slot = self.log2phy[e, copy]
        return torch.where(valid, slot, flat).to(ids.dtype).reshape(ids.shape)


class LplbBalancer(Balancer):
    """lplb.Planner (redundant experts over a topology, per-batch LP).

    Call `refresh(history)` to rebuild the placement
    (Planner.update_redundancy_mapping); then re-lay out the expert weights
    from the new `phy2log`.
    """

    name = "lplb"

    def __init__(self, planner: Any) -> None:
        self._planner = planner
        super().__init__(planner.phy2log, planner.n_logical_routed_experts, planner.ep_size)
        import lplb

        self.path = "cuda" if lplb.has_cuda else "cpu"
        self.capturable = bool(lplb.has_cuda)
        self.handle = _register(self)

    def refresh(self, history: Any) -> torch.Tensor:
        """Re-plans the placement from a workload history [E]; returns phy2log."""
        device = self.phy2log.device
        p2l, _, _ = self._planner.update_redundancy_mapping(history)
        self.phy2log = _as_long(p2l, device)
        return self.phy2log

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        return planner_run(ids, self.handle)


def _cpu_only(err: Exception) -> bool:
    """The TypeError of a PlacementPlanner without a GPU path for CUDA ids."""
    msg = str(err)
    return isinstance(err, TypeError) and ("runs on the CPU" in msg or "without the CUDA backend" in msg)


class PlacementBalancer(Balancer):
    """lplb.PlacementPlanner: the exact per-batch LP over any placement.

    Takes the GPU placement planner's path for CUDA ids when the installed
    lplb has one, else maps on the host (ids copied to the CPU and back).
    """

    name = "placement"

    def __init__(self, phy2log: Any, num_experts: int, ep_size: int, name: str = "placement_lp") -> None:
        super().__init__(phy2log, num_experts, ep_size)
        import lplb

        self.name = name
        self._planner = lplb.PlacementPlanner(self.phy2log.cpu(), num_experts, ep_size)
        # Unknown until the first CUDA call (this lplb's PlacementPlanner may
        # or may not take CUDA tensors); never without the CUDA backend.
        self._gpu_ok: bool | None = None if lplb.has_cuda else False
        self.path = "cpu"
        self.capturable = False
        self.handle = _register(self)

    def _run_eager(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.is_cuda and self._gpu_ok is not False:
            try:
                out = self._planner.run(ids)
                self._gpu_ok, self.path, self.capturable = True, "cuda", True
                return out.clone()
            except TypeError as err:
                if not _cpu_only(err):
                    raise
                self._gpu_ok = False
        if ids.is_cuda:
            return self._planner.run(ids.cpu()).to(ids.device)
        return self._planner.run(ids).clone()

    def probe(self, device: Any) -> str:
        """Finds out (by one small call) which path CUDA ids on device take."""
        if torch.device(device).type == "cuda" and self._gpu_ok is None:
            self._run_eager(torch.zeros(1, 1, dtype=torch.long, device=device))
        return self.path

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        return placement_run(ids, self.handle)


def slot_weights(weight: torch.Tensor, phy2log: torch.Tensor) -> torch.Tensor:
    """The weights of every physical slot, [num_physical, ...]: weight
    [E, ...] gathered by phy2log (a copy holds its expert's values). A view
    of weight when the placement is the identity. Under autograd the
    gradient of a copy flows back into (is summed into) its expert's row."""
    if phy2log.numel() == weight.shape[0] and bool(
        (phy2log == torch.arange(weight.shape[0], device=phy2log.device)).all()
    ):
        return weight
    return weight.index_select(0, phy2log.to(weight.device))


__all__ = [
    "Balancer",
    "LplbBalancer",
    "NoBalancer",
    "PlacementBalancer",
    "StaticBalancer",
    "log2phy_table",
    "placement_run",
    "planner_run",
    "slot_weights",
]
