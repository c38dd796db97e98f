"""The GPU path of lplb.PlacementPlanner for torch CUDA tensors.

As lplb._cuda does for lplb.Planner: every call enqueues work on the
caller's current CUDA stream and never waits for the device, so
`PlacementPlanner.run` can be captured in a CUDA graph after one warm-up
call (the first call on a device creates the device planner, which
synchronises). Device arrays cross as DLPack capsules made without a
stream sync; temporaries are allocated by torch on the same stream.

Bad ids or workloads do not raise here (that would need a synchronisation):
kernels record them in an error word that `check_errors()` reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._cuda import CudaPath


class PlacementCudaPath(CudaPath):
    """One lplb._core.CudaPlacementPlanner per CUDA device, created on first
    use (the device plumbing is CudaPath's)."""

    def __init__(
        self,
        phy2log: np.ndarray,
        num_experts: int,
        ep_size: int,
        max_ids: int,
        absent: np.ndarray | None = None,
    ) -> None:
        super().__init__(None, max_ids, False)
        self._phy2log = phy2log
        self._absent = absent
        self._E = num_experts
        self._P = ep_size

    def _make(self, index: int) -> Any:
        return _core.CudaPlacementPlanner(
            self._phy2log, self._E, self._P, self._absent, self._max_ids, index
        )

    def count(self, ids: Any) -> Any:
        torch = self._torch()
        cp = self._planner(ids.device, ids.numel())
        stream = self._stream(ids.device)
        cp.count(self._dl(ids), stream)
        counts = torch.empty(self._E, dtype=torch.int64, device=ids.device)
        cp.counts_into(self._dl(counts), stream)
        return counts

    def _plan(self, cp: Any, device: Any, stream: int) -> dict[str, Any]:
        torch = self._torch()
        shares = torch.empty(cp.num_physical, dtype=torch.float64, device=device)
        cp.shares_into(self._dl(shares), stream)
        res = torch.empty(2, dtype=torch.float64, device=device)
        cp.result_into(self._dl(res), stream)
        return {"shares": shares, "optimum": res[0], "max_load": res[1]}

    def solve(self, workload: Any) -> dict[str, Any]:
        torch = self._torch()
        cp = self._planner(workload.device)
        stream = self._stream(workload.device)
        integral = not workload.dtype.is_floating_point
        w = workload.reshape(-1).to(torch.int64 if integral else torch.float64).contiguous()
        cp.solve(self._dl(w), stream)
        return self._plan(cp, workload.device, stream)

    def map(self, ids: Any, shares: Any) -> Any:
        torch = self._torch()
        cp = self._planner(ids.device, ids.numel())
        stream = self._stream(ids.device)
        shares = shares.to(device=ids.device, dtype=torch.float64).reshape(-1).contiguous()
        out = torch.empty_like(ids)
        cp.count(self._dl(ids), stream)  # map() reads the per-tile counts of these very ids
        cp.map(self._dl(ids), self._dl(out), stream, self._dl(shares))
        return out

    def run(self, ids: Any) -> tuple[Any, dict[str, Any]]:
        torch = self._torch()
        cp = self._planner(ids.device, ids.numel())
        stream = self._stream(ids.device)
        out = torch.empty_like(ids)
        cp.run(self._dl(ids), self._dl(out), stream)
        return out, self._plan(cp, ids.device, stream)
