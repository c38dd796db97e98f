"""lplb.Planner's plumbing: ids and arrays in, the host fallbacks (count
and map on the CPU, results back to a CUDA tensor's device), the avail
counter, the device/objective check and the torch.distributed all-reduce.

A mixin: expects self._core (the C++ planner), self._gpu (the CUDA path or
None), self.objective / self.min_moves / self.ep_group and the reference's
sizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _arrays
from ._arrays import Kind

Array = Any
_COUNT_ALIGN = 256  # the reference's count kernel block size


class PlannerHost:
    """Helpers of lplb.Planner (see the module docstring)."""

    @staticmethod
    def _ids(idx: Array) -> tuple[Array, tuple[int, ...]]:
        """(idx as a flat contiguous int32/int64 array of the same kind and
        device, idx's shape)."""
        a = _arrays.as_array(idx, "idx")
        _arrays.check_index_dtype(a, "idx")
        return _arrays.flat(a), tuple(a.shape)

    def _n_sms(self, n_sms: int | None, ids: Array) -> int:
        if n_sms is not None:
            return _arrays.py_int(n_sms, "n_sms", 1)
        if _arrays.is_cuda(ids) and self._gpu is not None:
            import torch

            return torch.cuda.get_device_properties(ids.device).multi_processor_count
        return 1

    @staticmethod
    def _on(tensor: Any) -> Any:
        """Makes tensor's GPU the current device for the enqueued work."""
        import torch

        return torch.cuda.device(tensor.device)

    @staticmethod
    def _via_host(ids: Array, fn: Any) -> Any:
        """fn(ids) on the host; results go back to ids' GPU when ids is a CUDA
        tensor and the extension has no CUDA backend."""
        if not _arrays.is_cuda(ids):
            return fn(ids)
        out = fn(ids.cpu())
        if isinstance(out, tuple):
            return tuple(o.to(ids.device) for o in out)
        return out.to(ids.device)

    def _count_host(self, ids: Array, n_sms: int) -> tuple[Array, Array]:
        E = self.n_logical_routed_experts
        kind = Kind.of(ids)
        counts = kind.empty((E,), "int32")
        by_sm = kind.empty((n_sms * E,), "int32")
        with _arrays.renamed("ids", "idx"):
            self._core.count(ids, counts, by_sm, n_sms, _COUNT_ALIGN)
        return counts, by_sm.reshape(n_sms, E)

    def _map_host(self, ids: Array, probs: np.ndarray) -> Array:
        out = Kind.of(ids).empty(tuple(ids.shape), _arrays.dtype_name(ids))
        with _arrays.renamed("ids", "idx"), _arrays.renamed("probs", "o_weight"):
            self._core.map(ids, probs, out)
        return out

    def _host_workload(self, workload: Array, name: str) -> np.ndarray:
        w = _arrays.as_array(workload, name, allow_sequence=True)
        _arrays.check_numeric_dtype(w, name)
        _arrays.check_numel(w, self.n_logical_routed_experts, name, "one per logical expert")
        return np.ascontiguousarray(_arrays.to_numpy(w).reshape(-1), dtype=np.float64)

    def _host_probs(self, probs: Array) -> np.ndarray:
        p = _arrays.as_array(probs, "probs", allow_sequence=True)
        _arrays.check_float_dtype(p, "probs")
        _arrays.check_numel(p, self._core.num_probs, "probs", "[n_group, group_size, num_redundants]")
        h = _arrays.to_numpy(p).reshape(-1)
        if h.dtype != np.float32:
            h = h.astype(np.float64, copy=False)
        return np.ascontiguousarray(h)

    def _check_device_objective(self, a: Array, name: str) -> None:
        """The CUDA planner solves the default objective only."""
        if not _arrays.is_cuda(a) or (self.objective == "tokens" and not self.min_moves):
            return
        what = f"objective={self.objective!r}" + (" with min_moves=True" if self.min_moves else "")
        raise ValueError(
            f"objective: {what} runs on the CPU only (the CUDA planner solves "
            f"objective='tokens' without min_moves), but {name} is a tensor on {a.device}; "
            "move it with .cpu(), or use Planner.plan() for a host solve"
        )

    @staticmethod
    def _check_counter(avail_counter: Array | None) -> None:
        if avail_counter is None:
            return
        if not (isinstance(avail_counter, np.ndarray) or _arrays.is_tensor(avail_counter)):
            raise TypeError(
                "avail_counter: expected a one-element array or tensor (updated in place), "
                f"got {type(avail_counter).__name__}"
            )
        _arrays.check_numeric_dtype(avail_counter, "avail_counter")
        _arrays.check_numel(avail_counter, 1, "avail_counter", "a single counter")
        if not _arrays.is_writable(avail_counter):
            raise ValueError("avail_counter: the array is read-only")

    @staticmethod
    def _bump(avail_counter: Array | None, feasible: int) -> None:
        if avail_counter is None:
            return
        if isinstance(avail_counter, np.ndarray):
            avail_counter[...] += feasible
        else:
            avail_counter.add_(feasible)

    def _all_reduce(self, workload: Array) -> Array:
        """Sum of every rank's workload through torch.distributed (same kind).

        Integers are summed as int64 and floats as float64 so that sums over
        many ranks neither overflow nor round; an NCCL group gets a CUDA copy.
        """
        import torch
        import torch.distributed as dist

        t = workload if _arrays.is_tensor(workload) else torch.from_numpy(np.ascontiguousarray(workload))
        wide = torch.float64 if t.dtype.is_floating_point else torch.int64
        if dist.get_backend(self.ep_group) == "nccl" and t.device.type != "cuda":
            red = t.to(device=torch.device("cuda", torch.cuda.current_device()), dtype=wide)
        else:
            red = t.to(dtype=wide, copy=True)
        dist.all_reduce(red, group=self.ep_group)
        if isinstance(workload, np.ndarray):
            return red.cpu().numpy()
        return red.to(workload.device)
