"""lplb.Planner: a drop-in for deepseek-ai/LPLB's `lplb.Planner`.

Same constructor, same methods, same shapes and dtypes; extra keyword-only
options choose the LP solver, the EPLB node size and the objective (token
count or modelled GEMM time, optionally moving the fewest tokens). Works on
numpy arrays and torch tensors (CPU and CUDA) without linking against
libtorch.

This file is the public class; its parts live beside it: _planner_state.py
(mapping attributes, state dicts, pickling, copies) and _planner_host.py
(array plumbing, host fallbacks, the avail counter, the all-reduce).

Notation (docs/ARCHITECTURE.md): E logical experts, P = ep_size ranks, S ranks per
redundancy group (rows of redundant_to_original), D replicated blocks per
rank (its columns), G = P / S groups, R redundant experts per rank, C = R / D
experts combined into one block, n_local = E / P + R physical experts per rank.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from . import _arrays, _core, _objective
from ._arrays import Kind
from ._planner_host import PlannerHost
from ._planner_state import PlannerState

if TYPE_CHECKING:
    import torch

    Array = Union[np.ndarray, torch.Tensor]
else:
    Array = Any

class Planner(PlannerState, PlannerHost):
    """Per-batch LP load balancer over redundant experts (deepseek-ai/LPLB API).

    Every method accepts numpy arrays or torch tensors and returns the same
    kind of array on the same device. CPU work releases the GIL. On CUDA
    tensors (when the extension was built with the CUDA backend) work is
    enqueued on the caller's current stream without host synchronisation;
    see `check_errors`.

    The mapping attributes follow the core: assigning `phy2log` installs it
    (validated, as `set_mapping`), sizes and topology are read-only; see
    `state_dict`, `load_state_dict`, pickling and copies (lplb/_planner_state.py).
    """

    def __init__(
        self,
        redundant_to_original: Array,
        n_routed_experts: int,
        n_logical_routed_experts: int,
        ep_size: int | None = None,
        group: Any = None,
        *,
        solver: str = "exact",
        gpus_per_node: int = 8,
        max_ids: int = 1 << 24,
        check_errors: bool = False,
        objective: str = "tokens",
        cost_model: Any = None,
        min_moves: bool = False,
        move_tolerance: float = 0.0,
    ) -> None:
        """
        :param redundant_to_original: int [S, D] (array, tensor or nested list).
            r2o[i][d] = j: rank i of each group holds a copy of the d-th
            replicated block of rank j. Each column must be a permutation of
            0..S-1 without fixed points, so every block lives on two ranks.
        :param n_routed_experts: physical experts in all, E + R * P.
        :param n_logical_routed_experts: logical experts E.
        :param ep_size: ranks P; defaults to the size of `group`.
        :param group: a torch.distributed process group. When given, workloads
            are all-reduced through torch.distributed before solving.
        :param solver: 'exact' (the LP optimum, default) or 'ipm' (the
            reference's 5-step interior-point method, for comparison).
        :param gpus_per_node: node size for the EPLB reorder in
            update_redundancy_mapping (the reference uses the local GPU count).
        :param max_ids: ids per call the GPU workspace is first sized for (it
            grows outside CUDA graph capture when exceeded).
        :param check_errors: on the GPU, synchronise after every call and raise
            on bad ids or workloads (off: call `check_errors()` yourself).
        :param objective: 'tokens' (default: minimise the largest rank's token
            count) or 'time' (minimise the largest rank's modelled
            GEMM time under `cost_model`; needs solver='exact').
        :param cost_model: None (the H200 fit, `lplb.CostModel()`), an
            lplb.CostModel, or a dict with any of a_us, b_us_per_token,
            c_us_per_expert (numbers) and speed, extra_us (one entry per rank);
            missing keys keep their defaults. time(r) = extra_us[r] + (a_us +
            b_us_per_token * tokens + c_us_per_expert * active) / speed[r].
            Used by objective='time' and for plan()'s time_before/time_after.
        :param min_moves: secondary objective (needs solver='exact'): among
            splits whose maximum is within (1 + move_tolerance) of the optimum,
            move the fewest tokens across nodes (of gpus_per_node ranks), then
            the fewest in all.
        :param move_tolerance: relative slack for min_moves, finite and >= 0.

        Anything but objective='tokens' without min_moves runs on the CPU
        only: solve_probs() and run() raise ValueError for CUDA tensors then
        (plan(), solve() and rank_loads() accept any device).
        :raises ValueError: on sizes or a matrix that do not fit together.
        :raises TypeError: on arguments of the wrong type or dtype.
        """
        r2o = _arrays.as_array(redundant_to_original, "redundant_to_original", allow_sequence=True)
        self._home = Kind.of(r2o)
        host_r2o = _arrays.to_numpy(r2o)
        if host_r2o.ndim != 2:
            raise ValueError(
                "redundant_to_original: expected a 2-D [group_size, num_redundants] matrix, "
                f"got shape {tuple(host_r2o.shape)}"
            )
        if host_r2o.dtype.kind not in "iu":
            raise TypeError(
                f"redundant_to_original: expected integer entries, got dtype {host_r2o.dtype.name}"
            )
        if host_r2o.size and (host_r2o.min() < 0 or host_r2o.max() >= host_r2o.shape[0]):
            # [num_redundants, group_size] instead of [group_size, num_redundants]
            # (the reference's README builds it with a trailing .T).
            transposed = host_r2o.min() >= 0 and host_r2o.max() < host_r2o.shape[1]
            raise ValueError(
                "redundant_to_original: entries must lie in [0, group_size = "
                f"{host_r2o.shape[0]}), got [{host_r2o.min()}, {host_r2o.max()}]"
                + (
                    f"; it looks transposed: expected [group_size, num_redundants] (one row "
                    f"per rank of a group), got {tuple(host_r2o.shape)}: pass its transpose (.T)"
                    if transposed
                    else ""
                )
            )
        topology = _core.Topology(np.ascontiguousarray(host_r2o, dtype=np.int32))

        n_routed = _arrays.py_int(n_routed_experts, "n_routed_experts", 1)
        n_logical = _arrays.py_int(n_logical_routed_experts, "n_logical_routed_experts", 1)
        if ep_size is None:
            if group is None:
                raise ValueError("ep_size: must be given when group is None")
            import torch.distributed as dist

            ep_size = dist.get_world_size(group)
        ep = _arrays.py_int(ep_size, "ep_size", 1)
        extra = n_routed - n_logical
        if extra <= 0 or extra % ep:
            raise ValueError(
                f"n_routed_experts: {n_routed} - n_logical_routed_experts {n_logical} = {extra} "
                f"redundant experts, which is not a positive multiple of ep_size {ep}"
            )
        gpn = _arrays.py_int(gpus_per_node, "gpus_per_node", 1)
        if not isinstance(solver, str):
            raise TypeError(f"solver: expected 'exact' or 'ipm', got {type(solver).__name__}")
        objective, min_moves, move_tolerance = _objective.check_options(
            objective, min_moves, move_tolerance
        )
        if move_tolerance and not min_moves:
            warnings.warn(
                "lplb.Planner: move_tolerance has no effect without min_moves=True", stacklevel=2
            )
        self._core = _core.Planner(
            topology,
            n_logical,
            ep,
            extra // ep,
            gpn,
            solver,
            objective,
            _objective.cost_model(cost_model, ep),
            min_moves,
            move_tolerance,
        )
        c = self._core
        max_ids = _arrays.py_int(max_ids, "max_ids", 1)
        self._options = {"gpus_per_node": gpn, "max_ids": max_ids, "check_errors": bool(check_errors)}

        # The reference's attributes (read-only: the core was sized by them).
        self._fixed = {
            "r2o": self._home.from_host(c.topology.r2o),
            "o2r": self._home.from_host(c.topology.o2r),
            "group_size": c.topology.group_size,
            "num_redundants": c.topology.slots,
            "n_routed_experts": n_routed,
            "n_logical_routed_experts": n_logical,
            "ep_size": ep,
            "n_group": c.num_groups,
            "n_local_routed_experts": c.n_local,
            "n_local_logical_routed_experts": c.n_local_logical,
            "combined_redundant_experts": c.combined,
        }
        self.ep_group = group
        self.deep_ep_initialized = False
        self._fast_shapes = (  # solve_probs' outputs: probs, global_workload
            (self.n_group, self.group_size, self.num_redundants),
            (self.n_group, self.group_size, self.n_local_logical_routed_experts),
        )

        self._gpu = None
        if _core.has_cuda:
            from ._cuda import CudaPath

            self._gpu = CudaPath(c, max_ids, bool(check_errors))
        # The eager fast path serves the default objective only (the CUDA
        # planner's); run() and solve_probs() try it first.
        self._fast = (
            self._gpu if self._gpu is not None and objective == "tokens" and not min_moves else None
        )

        self.update_redundancy_mapping()

    # -- extras ----------------------------------------------------------------

    @property
    def solver(self) -> str:
        """'exact' or 'ipm'."""
        return self._core.solver

    @property
    def objective(self) -> str:
        """'tokens' or 'time'."""
        return self._core.objective

    @property
    def cost_model(self) -> dict[str, Any]:
        """The cost model's fields (a_us, b_us_per_token, c_us_per_expert,
        speed, extra_us) as a dict."""
        return _objective.as_dict(self._core.cost_model)

    @property
    def min_moves(self) -> bool:
        return self._core.min_moves

    @property
    def move_tolerance(self) -> float:
        return self._core.move_tolerance

    @property
    def core(self) -> Any:
        """The underlying lplb._core.Planner (host arrays only)."""
        return self._core

    def __repr__(self) -> str:
        return (
            f"lplb.Planner(topology={self.group_size}x{self.num_redundants}, "
            f"experts={self.n_logical_routed_experts}, ep_size={self.ep_size}, "
            f"redundant_per_rank={self.n_local_routed_experts - self.n_local_logical_routed_experts}, "
            f"solver={self.solver!r}, objective={self.objective!r}"
            + (f", min_moves=True, move_tolerance={self.move_tolerance}" if self.min_moves else "")
            + ")"
        )

    def init_from_deep_ep(self, buffer: Any) -> None:
        """Accepted for compatibility; DeepEP's communicators are not used.

        Workloads are still all-reduced through torch.distributed when the
        planner has a group, so results are the same.
        """
        if not self.deep_ep_initialized:
            warnings.warn(
                "lplb.Planner.init_from_deep_ep: DeepEP is not used; workloads are "
                "all-reduced through torch.distributed instead",
                stacklevel=2,
            )
        self.deep_ep_initialized = True

    def check_errors(self) -> None:
        """Raises ValueError if a GPU kernel saw a bad id or workload.

        Synchronises the current stream of every device this planner ran on.
        A no-op on the CPU, where bad input raises at once.
        """
        if self._gpu is not None:
            self._gpu.check_errors()

    def solve(self, workload: Array) -> Any:
        """Solves every group's LP on the host; for analysis and tests.

        :param workload: [E] numeric, finite and >= 0 (any device; not reduced
            across the group).
        :return: lplb._core.SolveOutput with numpy `probs` [G * S * D],
            `load_before` [P], `load_after` [P], `time_before` [P],
            `time_after` [P], `tokens_moved`, `tokens_cross_node`, `solve_us`,
            `ipm_fallbacks`. See plan() for the same as a dict of arrays of
            the workload's kind.
        """
        return self._core.solve(self._host_workload(workload, "workload"))

    def plan(self, workload: Array) -> dict[str, Any]:
        """Solves every group's LP on the host (any objective) and reports it.

        :param workload: [E] numeric, finite and >= 0 (numpy, list, or a torch
            tensor on any device; not reduced across the group).
        :return: a dict; arrays are float64 of the workload's kind and device:
            `probs` [G, S, D] (share of each block kept on its original rank),
            `load_before` / `load_after` [P] (tokens per rank, all on their
            original rank / with probs applied), `time_before` / `time_after`
            [P] (modelled GEMM time in us under cost_model; a rank's active
            experts are those receiving tokens), and floats
            `imbalance_before` / `imbalance_after` (max / mean of the loads),
            `tokens_moved` (tokens sent to a copy), `tokens_cross_node` (the
            part whose copy is on another node of gpus_per_node ranks),
            `solve_us`, and int `ipm_fallbacks`.
        """
        w = _arrays.as_array(workload, "workload", allow_sequence=True)
        out = self._core.solve(self._host_workload(w, "workload"))
        kind = Kind.of(w)
        shape_p = (self.n_group, self.group_size, self.num_redundants)
        load_before, load_after = out.load_before, out.load_after
        return {
            "probs": kind.from_host(out.probs).reshape(shape_p),
            "load_before": kind.from_host(load_before),
            "load_after": kind.from_host(load_after),
            "imbalance_before": _core.imbalance(load_before),
            "imbalance_after": _core.imbalance(load_after),
            "time_before": kind.from_host(out.time_before),
            "time_after": kind.from_host(out.time_after),
            "tokens_moved": out.tokens_moved,
            "tokens_cross_node": out.tokens_cross_node,
            "solve_us": out.solve_us,
            "ipm_fallbacks": out.ipm_fallbacks,
        }

    def rank_loads(self, workload: Array, probs: Array | None = None) -> np.ndarray:
        """float64 [P] numpy: per-rank loads of workload [E] with probs
        [G, S, D] applied (no balancing when probs is None)."""
        w = self._host_workload(workload, "workload")
        if probs is None:
            return self._core.rank_loads(w)
        return self._core.rank_loads(w, self._host_probs(probs))

    # -- the reference's methods -----------------------------------------------

    def update_redundancy_mapping(
        self, workload: Array | None = None
    ) -> tuple[Array, Array, Array]:
        """Places experts and their copies; returns (phy2log, log2phy, logcnt).

        :param workload: None for the identity order (expert e on rank
            e // (E / P)), or a history [E] (numeric, finite, >= 0): EPLB
            reorders experts across ranks (no replication), then each rank's
            experts are sorted by history, descending, and the first C * D of
            each rank are replicated per the topology.
        :return: int32 phy2log [P * n_local] (physical slot -> logical expert),
            int32 log2phy [E, 2] (original slot, then the copy, -1 padded),
            int32 logcnt [E] (1 or 2), as the kind of `workload` (of
            redundant_to_original when None), on its device. Also stored as
            self.phy2log, self.log2phy, self.logcnt (numpy ones read-only:
            edit a copy and assign it, or call set_mapping).
        """
        if workload is None:
            kind = self._home
            self._core.update_redundancy_mapping(None)
        else:
            w = _arrays.as_array(workload, "workload", allow_sequence=True)
            if w.ndim != 1:
                raise ValueError(
                    f"workload: expected a 1-D history [{self.n_logical_routed_experts}], "
                    f"got shape {tuple(w.shape)}"
                )
            kind = Kind.of(w)
            with _arrays.renamed("history", "workload"):
                self._core.update_redundancy_mapping(self._host_workload(w, "workload"))
        return self._install_mapping(kind)

    def count_workload(self, idx: Array, n_sms: int | None = None) -> tuple[Array, Array]:
        """Counts expert ids.

        :param idx: int32 or int64, any shape, values in [-1, E); -1 is skipped.
        :param n_sms: chunks (SMs in the reference) for the partial counts;
            default 1 on the CPU, the device's SM count on a GPU.
        :return: (counts int32 [E], by_sm int32 [n_sms, E]) where by_sm[s] is
            the inclusive prefix of the counts over the reference's chunking of
            the flattened idx (chunk size ceil(N / n_sms) rounded up to 256);
            by_sm[-1] == counts.
        :raises ValueError: on an id outside [-1, E) (on the GPU: see check_errors).
        """
        ids, _ = self._ids(idx)
        n_sms = self._n_sms(n_sms, ids)
        if _arrays.is_cuda(ids) and self._gpu is not None:
            with self._on(ids):
                return self._gpu.count_workload(ids, n_sms)
        return self._via_host(ids, lambda h: self._count_host(h, n_sms))

    def solve_probs(self, workload: Array, avail_counter: Array | None = None) -> tuple[Array, Array]:
        """Solves the LP of every redundancy group for a batch's workload.

        :param workload: [E] numeric (e.g. counts from count_workload), finite
            and >= 0; all-reduced over `group` first when the planner has one.
        :param avail_counter: a one-element integer array or tensor, incremented
            in place by the number of groups solved to a feasible point (all of
            them for 'exact'; groups where 'ipm' failed its convergence test
            and fell back to 0.5 are not counted), as the reference does.
        :return: (probs float32 [G, S, D]: share of block (rank, d) kept on its
            original rank; global_workload float32 [G, S, E / P]: the
            (all-reduced) workload reshaped as the reference does). The
            reference scales global_workload to a maximum of 1; we return the
            token counts themselves (divide by .max() for the reference's).
        :raises ValueError: on a wrong size, or a negative or non-finite entry.
        """
        if self._fast is not None and self.ep_group is None:
            res = self._fast.fast_solve(workload, avail_counter, *self._fast_shapes)
            if res is not None:
                return res
        w = _arrays.as_array(workload, "workload", allow_sequence=True)
        _arrays.check_numeric_dtype(w, "workload")
        _arrays.check_numel(w, self.n_logical_routed_experts, "workload", "one per logical expert")
        self._check_counter(avail_counter)
        self._check_device_objective(w, "workload")
        w = _arrays.flat(w)
        if self.ep_group is not None:
            w = self._all_reduce(w)
        shape_w = (self.n_group, self.group_size, self.n_local_logical_routed_experts)
        shape_p = (self.n_group, self.group_size, self.num_redundants)
        if _arrays.is_cuda(w) and self._gpu is not None:
            with self._on(w):
                probs = self._gpu.solve(w, avail_counter)
                return probs.float().view(shape_p), _arrays.astype(w, "float32", copy=True).view(shape_w)
        kind = Kind.of(w)
        # A CUDA tensor without the CUDA backend: solve on the host, copy back.
        host_kind = Kind(w.cpu().device) if kind.is_cuda else kind
        probs = host_kind.empty((self._core.num_probs,), "float32")
        feasible = self._core.solve_into(self._host_workload(w, "workload"), probs)
        self._bump(avail_counter, feasible)
        if kind.is_cuda:
            probs = probs.to(kind.device)
        return probs.reshape(shape_p), _arrays.astype(w, "float32", copy=True).reshape(shape_w)

    def weighted_select_target(
        self,
        idx: Array,
        o_weight: Array,
        local_workload_by_sm: Array | None = None,
        n_sms: int | None = None,
    ) -> Array:
        """Maps logical expert ids to physical ids with the given shares.

        For an expert with a copy, of the T tokens routed to it in idx,
        round(p * T) go to the original slot and the rest to the copy, spread
        evenly in input order (deterministic; identical on CPU and GPU).

        :param idx: int32 or int64, any shape, values in [-1, E).
        :param o_weight: float [G, S, D] (numel P * D), e.g. from solve_probs.
        :param local_workload_by_sm: [n_sms, E] from count_workload; accepted
            for compatibility and shape-checked, not needed by our mapping.
        :param n_sms: accepted for compatibility.
        :return: physical ids in [-1, P * n_local), same shape, dtype and
            device as idx, -1 kept.
        """
        ids, shape = self._ids(idx)
        probs = _arrays.as_array(o_weight, "o_weight", allow_sequence=True)
        _arrays.check_float_dtype(probs, "o_weight")
        _arrays.check_numel(probs, self._core.num_probs, "o_weight", "[n_group, group_size, num_redundants]")
        if local_workload_by_sm is not None:
            by_sm = _arrays.as_array(local_workload_by_sm, "local_workload_by_sm")
            E = self.n_logical_routed_experts
            rows = n_sms if n_sms is not None else (by_sm.shape[0] if by_sm.ndim == 2 else -1)
            if by_sm.ndim != 2 or tuple(by_sm.shape) != (rows, E):
                raise ValueError(
                    f"local_workload_by_sm: expected shape [n_sms, {E}], got {tuple(by_sm.shape)}"
                )
        if _arrays.is_cuda(ids) and self._gpu is not None:
            with self._on(ids):
                probs = _arrays.as_tensor_like(_arrays.flat(probs), ids)
                return self._gpu.map(ids, probs).view(shape)
        host_probs = self._host_probs(probs)
        out = self._via_host(ids, lambda h: self._map_host(h, host_probs))
        return out.reshape(shape)

    def run(self, idx: Array, avail_counter: Array | None = None, n_sms: int | None = None) -> Array:
        """count_workload -> solve_probs -> weighted_select_target in one call.

        :param idx: int32 or int64, any shape, logical ids in [-1, E).
        :param avail_counter: see solve_probs.
        :param n_sms: accepted for compatibility.
        :return: physical ids, same shape, dtype and device as idx.

        On a GPU this is one fused sequence on the current stream with no host
        synchronisation (capturable in a CUDA graph after a warm-up call).
        """
        if (
            self._fast is not None
            and self.ep_group is None
            and (n_sms is None or (type(n_sms) is int and n_sms >= 1))
        ):
            out = self._fast.fast_run(idx, avail_counter)
            if out is not None:
                return out
        ids, shape = self._ids(idx)
        self._check_counter(avail_counter)
        self._check_device_objective(ids, "idx")
        if n_sms is not None:
            _arrays.py_int(n_sms, "n_sms", 1)
        if _arrays.is_cuda(ids) and self._gpu is not None:
            reduce = self._all_reduce if self.ep_group is not None else None
            with self._on(ids):
                return self._gpu.run(ids, avail_counter, reduce).view(shape)
        counts, by_sm = self.count_workload(ids, 1)  # the host mapping needs no per-SM split
        o_weight, _ = self.solve_probs(counts, avail_counter)
        return self.weighted_select_target(ids, o_weight, by_sm).reshape(shape)
