"""The GPU path of lplb.Planner for torch CUDA tensors.

Every call enqueues work on the caller's current CUDA stream
(torch.cuda.current_stream(device)) and never waits for the device, so
`Planner.run` can be captured in a CUDA graph after one warm-up call (the
first call on a device allocates the device workspace, which synchronises).
The stream crosses into our extension as the integer handle torch reports
(`.cuda_stream`); device arrays cross as DLPack capsules made by
torch.utils.dlpack.to_dlpack, which never synchronises (Tensor.__dlpack__()
without a stream makes torch 2.x order the legacy default stream after the
current one, which would break graph capture). Temporaries are allocated by
torch on that same stream, so the caching allocator's stream-ordered reuse
keeps them alive long enough.

Planner.run and Planner.solve_probs first try an eager fast path
(`fast_run`, `fast_solve`): for plain contiguous CUDA tensors of the
supported dtypes on a device whose planner exists, one extension call
enqueues everything (count -> solve -> map, the float32 probs, the counter
increment) with raw device pointers and the raw current-stream handle, and
one torch allocation makes the output. Anything else takes the general path
below, which validates and reports every other case.

Bad ids or workloads do not raise here (that would need a synchronisation):
kernels record them in an error word that `check_errors()` reads. Construct
the Planner with `check_errors=True` to check after every call instead.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from . import _arrays, _core

ALIGN = 256  # the reference's count kernel block size: chunk sizes round up to it


class CudaPath:
    """One lplb._core.CudaPlanner per CUDA device, created on first use."""

    def __init__(self, core: Any, max_ids: int, check: bool) -> None:
        self._core = core
        self._max_ids = max_ids
        self._check = check
        self._by_device: dict[int, Any] = {}
        self._fast_ready = False

    # -- the eager fast path ------------------------------------------------

    def _init_fast(self) -> None:
        """Caches the torch objects the fast path compares against."""
        torch = self._torch()
        self._tensor = torch.Tensor
        self._id_is_64 = {torch.int32: False, torch.int64: True}
        # DeviceDtype codes of the extension.
        self._w_code = {torch.int32: 0, torch.int64: 1, torch.float32: 2, torch.float64: 3}
        self._f32 = torch.float32
        self._empty = torch.empty
        self._empty_like = torch.empty_like
        self._templates: dict[int, Any] = {}  # index -> (probs, workload) to copy shapes from
        # torch.cuda.current_stream() builds a Stream object (microseconds);
        # the raw handle of the same stream is what the extension needs.
        raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
        if raw is None:
            raw = lambda index: torch.cuda.current_stream(index).cuda_stream  # noqa: E731
        self._raw_stream = raw
        self._fast_ready = True

    def _fast_counter(self, counter: Any, index: int) -> tuple[int, bool] | None:
        """(pointer, is int64) of a counter the kernels can increment, or
        None when it needs the general path (0, False for no counter)."""
        if counter is None:
            return 0, False
        if type(counter) is not self._tensor or not counter.is_cuda:
            return None
        is64 = self._id_is_64.get(counter.dtype)
        if is64 is None or counter.numel() != 1 or counter.get_device() != index:
            return None
        return counter.data_ptr(), is64

    def fast_run(self, ids: Any, avail_counter: Any) -> Any:
        """Planner.run for a plain contiguous int32/int64 CUDA tensor, or
        None when the general path must handle the call."""
        if not self._fast_ready:
            if "torch" not in sys.modules:  # no torch loaded: not a torch tensor
                return None
            self._init_fast()
        if type(ids) is not self._tensor or not ids.is_cuda:
            return None
        is64 = self._id_is_64.get(ids.dtype)
        if is64 is None or not ids.is_contiguous():
            return None
        index = ids.get_device()
        cp = self._by_device.get(index)
        n = ids.numel()
        if cp is None or n > cp.max_ids:
            return None
        counter = self._fast_counter(avail_counter, index)
        if counter is None:
            return None
        stream = self._raw_stream(index)
        out = self._empty_like(ids)
        cp.run_raw(ids.data_ptr(), n, is64, out.data_ptr(), stream, counter[0], counter[1])
        if self._check:
            cp.check_errors(stream)
        return out

    def fast_solve(self, workload: Any, avail_counter: Any, shape_p: Any, shape_w: Any) -> Any:
        """Planner.solve_probs for a plain contiguous CUDA tensor of
        E int32/int64/float32/float64 entries: (probs, workload) as float32,
        or None when the general path must handle the call."""
        if not self._fast_ready:
            if "torch" not in sys.modules:  # no torch loaded: not a torch tensor
                return None
            self._init_fast()
        if type(workload) is not self._tensor or not workload.is_cuda:
            return None
        code = self._w_code.get(workload.dtype)
        if code is None or not workload.is_contiguous():
            return None
        index = workload.get_device()
        cp = self._by_device.get(index)
        if cp is None or workload.numel() != cp.num_experts:
            return None
        counter = self._fast_counter(avail_counter, index)
        if counter is None:
            return None
        # empty_like of a kept tensor costs about half of torch.empty with
        # shape, dtype and device arguments.
        like = self._templates.get(index)
        if like is None:  # shapes are fixed per planner
            like = self._templates[index] = (
                self._empty(shape_p, dtype=self._f32, device=workload.device),
                self._empty(shape_w, dtype=self._f32, device=workload.device),
            )
        stream = self._raw_stream(index)
        probs = self._empty_like(like[0])
        global_w = self._empty_like(like[1])
        cp.solve_raw(workload.data_ptr(), code, probs.data_ptr(), global_w.data_ptr(), stream,
                     counter[0], counter[1])
        if self._check:
            cp.check_errors(stream)
        return probs, global_w

    # -- plumbing -----------------------------------------------------------

    @staticmethod
    def _torch() -> Any:
        import torch

        return torch

    @staticmethod
    def _dl(t: Any) -> Any:
        """A DLPack capsule of a CUDA tensor, made without any stream sync."""
        from torch.utils.dlpack import to_dlpack

        return to_dlpack(t)

    def _device_index(self, device: Any) -> int:
        return device.index if device.index is not None else self._torch().cuda.current_device()

    def _stream(self, device: Any) -> int:
        return self._torch().cuda.current_stream(device).cuda_stream

    def _planner(self, device: Any, n_ids: int = 0) -> Any:
        torch = self._torch()
        index = self._device_index(device)
        cp = self._by_device.get(index)
        if cp is not None and n_ids <= cp.max_ids:
            return cp
        if torch.cuda.is_current_stream_capturing():
            raise ValueError(
                f"idx: {n_ids} ids exceed the {self._max_ids} the device workspace was sized "
                "for, and it cannot grow during CUDA graph capture: call once before capturing, "
                "or pass a larger max_ids to Planner()"
            )
        self._max_ids = max(self._max_ids, n_ids)
        with torch.cuda.device(index):
            cp = self._make(index)
        self._by_device[index] = cp
        return cp

    def _make(self, index: int) -> Any:
        """The device planner for CUDA device `index` (made current)."""
        return _core.CudaPlanner(self._core, self._max_ids, 1, index)

    def _after(self, cp: Any, stream: int) -> None:
        if self._check:
            cp.check_errors(stream)

    def check_errors(self) -> None:
        for index, cp in self._by_device.items():  # empty until a CUDA tensor came by
            cp.check_errors(self._stream(self._torch().device("cuda", index)))

    def set_mapping(self, phy2log_host: Any) -> None:
        for index, cp in self._by_device.items():
            cp.set_mapping(phy2log_host, self._stream(self._torch().device("cuda", index)))

    def _bump(self, cp: Any, avail_counter: Any, device: Any, stream: int) -> None:
        """avail_counter += groups not in IPM fallback (on the device, no sync)."""
        torch = self._torch()
        codes = torch.empty(cp.num_groups, dtype=torch.int32, device=device)
        cp.codes_into(self._dl(codes), stream)
        feasible = (codes != _core.LP_STATUS_IPM_FALLBACK).sum()
        if _arrays.is_tensor(avail_counter) and avail_counter.device == device:
            avail_counter.add_(feasible.to(avail_counter.dtype))
        elif _arrays.is_tensor(avail_counter):
            avail_counter.add_(int(feasible))
        else:
            avail_counter[...] += int(feasible)

    def _by_sm(self, ids: Any, n_sms: int, num_experts: int) -> Any:
        """int32 [n_sms, E]: the reference's per-SM inclusive prefix counts.

        Bucket keys (chunk, id) are sorted and the bucket sizes read off with
        searchsorted: deterministic (also under
        torch.use_deterministic_algorithms) and free of host syncs.
        """
        torch = self._torch()
        n = ids.numel()
        buckets = n_sms * (num_experts + 1)
        if n == 0:
            return torch.zeros((n_sms, num_experts), dtype=torch.int32, device=ids.device)
        per = -(-n // n_sms)
        per = -(-per // ALIGN) * ALIGN
        chunk = torch.arange(n, device=ids.device) // per
        # Ids outside [-1, E) are reported by our count kernel; clamp so these
        # torch ops stay in bounds.
        col = ids.to(torch.int64).clamp(-1, num_experts - 1) + 1
        keys = torch.sort(chunk * (num_experts + 1) + col).values
        edges = torch.searchsorted(keys, torch.arange(buckets + 1, device=ids.device))
        sizes = (edges[1:] - edges[:-1]).to(torch.int32)
        return sizes.view(n_sms, num_experts + 1)[:, 1:].cumsum(0, dtype=torch.int32)

    # -- the reference's methods --------------------------------------------

    def count_workload(self, ids: Any, n_sms: int) -> tuple[Any, Any]:
        torch = self._torch()
        cp = self._planner(ids.device, ids.numel())
        stream = self._stream(ids.device)
        cp.count(self._dl(ids), stream)
        counts = torch.empty(cp.num_experts, dtype=torch.int64, device=ids.device)
        cp.counts_into(self._dl(counts), stream)
        by_sm = self._by_sm(ids, n_sms, cp.num_experts)
        self._after(cp, stream)
        return counts.to(torch.int32), by_sm

    def solve(self, workload: Any, avail_counter: Any) -> Any:
        """float64 [P * D] probs for workload (flat, any numeric dtype, device)."""
        torch = self._torch()
        device = workload.device
        cp = self._planner(device)
        stream = self._stream(device)
        integral = not workload.dtype.is_floating_point
        cp.solve(self._dl(workload.to(torch.int64 if integral else torch.float64)), stream)
        probs = torch.empty(cp.num_probs, dtype=torch.float64, device=device)
        cp.probs_into(self._dl(probs), stream)
        if avail_counter is not None:
            self._bump(cp, avail_counter, device, stream)
        self._after(cp, stream)
        return probs

    def map(self, ids: Any, probs: Any) -> Any:
        torch = self._torch()
        cp = self._planner(ids.device, ids.numel())
        stream = self._stream(ids.device)
        probs = probs.to(device=ids.device, dtype=torch.float64).contiguous()
        out = torch.empty_like(ids)
        cp.count(self._dl(ids), stream)  # map() reads the partial counts of these very ids
        cp.map(self._dl(ids), self._dl(out), stream, self._dl(probs))
        self._after(cp, stream)
        return out

    def run(self, ids: Any, avail_counter: Any, all_reduce: Callable[[Any], Any] | None) -> Any:
        """count -> (all-reduce) -> solve -> map, all on the current stream.

        The probs pass through float32 exactly as solve_probs returns them, so
        run() equals the composed reference steps (and the CPU path) token for
        token: round(p * T) must see the same p.
        """
        torch = self._torch()
        cp = self._planner(ids.device, ids.numel())
        stream = self._stream(ids.device)
        cp.count(self._dl(ids), stream)
        counts = torch.empty(cp.num_experts, dtype=torch.int64, device=ids.device)
        cp.counts_into(self._dl(counts), stream)
        if all_reduce is not None:
            counts = all_reduce(counts).to(torch.int64)
        cp.solve(self._dl(counts), stream)
        probs = torch.empty(cp.num_probs, dtype=torch.float64, device=ids.device)
        cp.probs_into(self._dl(probs), stream)
        probs = probs.float().double()
        out = torch.empty_like(ids)
        cp.map(self._dl(ids), self._dl(out), stream, self._dl(probs))
        if avail_counter is not None:
            self._bump(cp, avail_counter, ids.device, stream)
        self._after(cp, stream)
        return out
