"""lplb.PlacementPlanner and lplb.design_placement: the exact per-batch LP
over any replica placement, and a placement designed for it.

A placement is a phy2log over P ranks: physical slot s holds logical expert
phy2log[s] and lives on rank s // n_local. Replica counts are free (EPLB's
output, LPLB's layout, several copies of one expert on one rank, your own).
For every batch PlacementPlanner finds, for every expert, the share of its
tokens each replica takes so that the most loaded rank is as light as
possible (exactly: a parametric max-flow). design_placement ("hybrid")
chooses replica counts like EPLB and spreads them so that the per-batch LP
can move load anywhere. See include/lplb/placement.hpp,
include/lplb/placement_design.hpp and docs/PLACEMENT.md.

numpy arrays, torch CPU tensors and nested lists run on the CPU and results
come back as the same kind (torch for torch, numpy otherwise). torch CUDA
tensors given to count, solve, map and run run on the GPU when the package
was built with the CUDA backend (lplb.has_cuda): CudaPlacementPlanner, on
the caller's current stream, without host synchronisation, so the calls can
be captured in a CUDA graph after one warm-up call; results stay on the
device (solve's dict then holds `shares` and 0-d tensors `optimum` and
`max_load`); bad ids or workloads are reported by check_errors(). The
analysis helpers (slot_counts, rank_loads) are CPU only. design_placement,
a one-off planning call like rebalance_experts, accepts any device and
returns on the input's.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from . import _arrays, _core
from ._arrays import Kind

if TYPE_CHECKING:
    import torch

    Array = Union[np.ndarray, torch.Tensor]
else:
    Array = Any

_INT64_MAX = np.iinfo(np.int64).max


def _host_array(x: Any, name: str, *, allow_sequence: bool = True) -> Any:
    """x as a numpy array or CPU tensor; TypeError for CUDA tensors."""
    a = _arrays.as_array(x, name, allow_sequence=allow_sequence)
    if _arrays.is_cuda(a):
        raise TypeError(
            f"{name}: this PlacementPlanner method runs on the CPU; move the tensor with .cpu() "
            f"(got a tensor on {a.device})"
        )
    return a


def _any_array(x: Any, name: str, *, allow_sequence: bool = True) -> Any:
    """x as a numpy array or tensor; CUDA tensors only where the package has CUDA."""
    a = _arrays.as_array(x, name, allow_sequence=allow_sequence)
    if _arrays.is_cuda(a) and not getattr(_core, "has_cuda", False):
        raise TypeError(
            f"{name}: this lplb was built without the CUDA backend; move the tensor with "
            f".cpu() (got a tensor on {a.device})"
        )
    return a


def _host_ints(a: Any, name: str) -> np.ndarray:
    """Any integer array as flat contiguous int64 numpy (no silent wrap)."""
    h = _arrays.to_numpy(a).reshape(-1)
    if h.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer entries, got dtype {h.dtype.name}")
    if h.dtype == np.uint64 and h.size and int(h.max()) > _INT64_MAX:
        raise ValueError(f"{name}: entry {int(h.argmax())} = {int(h.max())} exceeds int64")
    return np.ascontiguousarray(h, dtype=np.int64)


def _host_mask(x: Any, name: str) -> np.ndarray:
    """A bool or integer mask as flat contiguous uint8 numpy (1 = set)."""
    h = _arrays.to_numpy(_host_array(x, name)).reshape(-1)
    if h.dtype != np.bool_ and h.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected bool or integer entries, got dtype {h.dtype.name}")
    return np.ascontiguousarray(h != 0, dtype=np.uint8)


def _host_floats(a: Any, name: str) -> np.ndarray:
    _arrays.check_numeric_dtype(a, name)
    return np.ascontiguousarray(_arrays.to_numpy(a).reshape(-1), dtype=np.float64)


class PlacementPlanner:
    """Exact per-batch LP balancing over any replica placement (CPU, or the
    GPU for CUDA tensors).

    Immutable after construction; methods may run concurrently from several
    threads (the C++ work releases the GIL).
    """

    def __init__(
        self, phy2log: Array, num_experts: int, ep_size: int, absent: Array | None = None
    ) -> None:
        """
        :param phy2log: integer [ep_size * n_local] (any shape; flattened
            rank-major, e.g. [ep_size, n_local] or one layer of
            rebalance_experts' phy2log): the logical expert of every physical
            slot. Its length must be a positive multiple of ep_size and every
            expert in [0, num_experts) must appear at least once; an expert
            may have any number of replicas, several on one rank included.
        :param num_experts: logical experts E.
        :param ep_size: ranks P.
        :param absent: None (every slot serves) or [num_physical] bool/integer
            mask, nonzero = the slot cannot serve (its weights are being
            refilled, e.g. after lplb.replan): it gets share 0, never appears
            in map()'s output, and the LP and the even split use the present
            slots only; log2phy, logcnt and max_count count present slots.
            Every expert needs at least one present slot.
        :raises ValueError: on sizes, a phy2log or a mask that do not fit together.
        :raises TypeError: on a non-integer phy2log or sizes, or a CUDA tensor.
        """
        a = _host_array(phy2log, "phy2log")
        self._home = Kind.of(a)
        flat = _host_ints(a, "phy2log")
        E = _arrays.py_int(num_experts, "num_experts", 1)
        P = _arrays.py_int(ep_size, "ep_size", 1)
        mask = None if absent is None else _host_mask(absent, "absent")
        self._core = _core.PlacementPlanner(flat, E, P, mask)
        self._flat = flat
        self._absent = mask
        self._gpu: Any = None  # lplb._placement_cuda.PlacementCudaPath, on first CUDA tensor
        c = self._core
        self.num_experts: int = c.num_experts
        self.ep_size: int = c.ep_size
        self.n_local: int = c.n_local
        self.num_physical: int = c.num_physical
        self.max_count: int = c.max_count
        self.num_movable_groups: int = c.num_movable_groups
        #: int32 [num_physical]: logical expert of each slot (phy2log's kind).
        self.phy2log: Array = self._home.from_host(c.phy2log)
        #: int32 [E, max_count]: each expert's slots in ascending order, -1 padded.
        self.log2phy: Array = self._home.from_host(c.log2phy)
        #: int32 [E]: replicas per expert (>= 1).
        self.logcnt: Array = self._home.from_host(c.logcnt)
        for name in ("phy2log", "log2phy", "logcnt"):  # an in-place edit must not pass silently
            if isinstance(getattr(self, name), np.ndarray):
                getattr(self, name).setflags(write=False)

    # The placement lives in the C++ core (and a device mirror): assigning an
    # attribute would change nothing the planner computes, so it is refused.
    _FIXED = frozenset(
        ("num_experts", "ep_size", "n_local", "num_physical", "max_count", "num_movable_groups",
         "phy2log", "log2phy", "logcnt")
    )

    def __setattr__(self, name: str, value: Any) -> None:
        if name in PlacementPlanner._FIXED and name in self.__dict__:
            raise AttributeError(
                f"lplb.PlacementPlanner.{name} is fixed at construction (the placement lives in "
                "the C++ core); build a new PlacementPlanner(phy2log, num_experts, ep_size)"
            )
        object.__setattr__(self, name, value)

    def __reduce__(self) -> Any:
        # Pickling and copy.copy / copy.deepcopy rebuild the planner: each copy
        # gets its own core (and its own device mirror on first use).
        return (type(self), (self.phy2log, self.num_experts, self.ep_size))

    @property
    def core(self) -> Any:
        """The underlying lplb._core.PlacementPlanner (host numpy arrays only)."""
        return self._core

    def __repr__(self) -> str:
        return (
            f"lplb.PlacementPlanner(experts={self.num_experts}, ep_size={self.ep_size}, "
            f"n_local={self.n_local}, max_count={self.max_count})"
        )

    # -- per batch ---------------------------------------------------------------

    def _cuda(self) -> Any:
        if self._gpu is None:
            from ._placement_cuda import PlacementCudaPath

            self._gpu = PlacementCudaPath(
                self._flat, self.num_experts, self.ep_size, 1 << 20, self._absent
            )
        return self._gpu

    def check_errors(self) -> None:
        """GPU path: synchronises and raises ValueError if a kernel saw a bad
        id or workload since the last check (no-op before any CUDA call)."""
        if self._gpu is not None:
            self._gpu.check_errors()

    def count(self, idx: Array) -> Array:
        """int64 [E] token counts of idx (int32/int64, any shape, values in
        [-1, E); -1 skipped), as idx's kind."""
        ids, _ = self._ids(idx)
        if _arrays.is_cuda(ids):
            return self._cuda().count(ids)
        with _arrays.renamed("ids", "idx"):
            return Kind.of(ids).from_host(self._core.count(ids))

    def solve(self, workload: Array) -> dict[str, Any]:
        """Solves the LP exactly for a (global) workload.

        :param workload: [E] numeric, finite and >= 0 (e.g. count()'s output,
            summed over the EP ranks).
        :return: a dict; arrays are float64 of the workload's kind:
            `shares` [num_physical] (share of its expert's tokens sent to each
            slot; an expert's shares sum to 1, an expert without tokens is
            split evenly), `load_before` [P] (every expert split evenly over
            its replicas, what a static placement does), `load_after` [P]
            (with shares applied); floats `optimum` (the LP's optimal max rank
            load), `imbalance_before`, `imbalance_after` (max / mean),
            `solve_us`; int `rounds` (max-flow rounds).
        """
        w = _any_array(workload, "workload")
        if _arrays.is_cuda(w):
            _arrays.check_numel(w, self.num_experts, "workload", "one per logical expert")
            _arrays.check_numeric_dtype(w, "workload")
            return self._cuda().solve(w)
        return self._result(self._core.solve(self._workload(w)), Kind.of(w))

    def map(self, idx: Array, shares: Array) -> Array:
        """Physical slot ids for logical ids.

        An expert's T tokens in idx go to its replicas (ascending slot order)
        in counts that are the largest-remainder rounding of share * T (they
        sum to T), each replica's tokens evenly interleaved in input order;
        deterministic.

        :param idx: int32 or int64, any shape, values in [-1, E).
        :param shares: float [num_physical], finite and >= 0 (solve()'s
            `shares`; an expert whose shares sum to 0 is split evenly).
        :return: slot ids in [-1, num_physical), idx's shape, dtype and kind;
            -1 kept.
        """
        ids, shape = self._ids(idx)
        if _arrays.is_cuda(ids):
            s = _any_array(shares, "shares")
            _arrays.check_float_dtype(s, "shares")
            _arrays.check_numel(s, self.num_physical, "shares", "one per physical slot")
            return self._cuda().map(ids, s).reshape(shape)
        s = self._shares(shares)
        out = Kind.of(ids).empty(tuple(ids.shape), _arrays.dtype_name(ids))
        with _arrays.renamed("ids", "idx"):
            self._core.map(ids, s, out)
        return out.reshape(shape)

    def run(self, idx: Array, *, return_plan: bool = False) -> Any:
        """count -> solve -> map in one call (this rank's tokens only: no
        reduction across ranks; for EP, sum count() over the ranks yourself
        and call solve() and map()).

        :param idx: int32 or int64, any shape, values in [-1, E).
        :param return_plan: also return solve()'s dict.
        :return: physical slot ids (idx's shape, dtype and kind), or
            (ids, plan) when return_plan.
        """
        ids, shape = self._ids(idx)
        if _arrays.is_cuda(ids):
            out, plan = self._cuda().run(ids)
            return (out.reshape(shape), plan) if return_plan else out.reshape(shape)
        out = Kind.of(ids).empty(tuple(ids.shape), _arrays.dtype_name(ids))
        with _arrays.renamed("ids", "idx"):
            result = self._core.run(ids, out)
        out = out.reshape(shape)
        if return_plan:
            return out, self._result(result, Kind.of(ids))
        return out

    # -- analysis ----------------------------------------------------------------

    def slot_counts(self, counts: Array, shares: Array) -> Array:
        """int64 [num_physical]: tokens each slot receives when map() splits
        counts [E] (integers >= 0) with shares [num_physical]; counts' kind."""
        c = _host_array(counts, "counts")
        _arrays.check_numel(c, self.num_experts, "counts", "one per logical expert")
        return Kind.of(c).from_host(self._core.slot_counts(_host_ints(c, "counts"), self._shares(shares)))

    def rank_loads(self, workload: Array, shares: Array | None = None) -> Array:
        """float64 [P]: per-rank loads of workload [E] with shares applied
        (None: every expert split evenly over its replicas); workload's kind."""
        w = _host_array(workload, "workload")
        h = self._workload(w)
        loads = self._core.rank_loads(h) if shares is None else self._core.rank_loads(h, self._shares(shares))
        return Kind.of(w).from_host(loads)

    def even_shares(self) -> Array:
        """float64 [num_physical]: 1 / logcnt of each slot's expert (the
        static split), as phy2log's kind."""
        return self._home.from_host(self._core.even_shares())

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _ids(idx: Array) -> tuple[Array, tuple[int, ...]]:
        a = _any_array(idx, "idx", allow_sequence=False)
        _arrays.check_index_dtype(a, "idx")
        return _arrays.flat(a), tuple(a.shape)

    def _workload(self, w: Array) -> np.ndarray:
        _arrays.check_numel(w, self.num_experts, "workload", "one per logical expert")
        return _host_floats(w, "workload")

    def _shares(self, shares: Array) -> np.ndarray:
        s = _host_array(shares, "shares")
        _arrays.check_float_dtype(s, "shares")
        _arrays.check_numel(s, self.num_physical, "shares", "one per physical slot")
        return _host_floats(s, "shares")

    @staticmethod
    def _result(r: Any, kind: Kind) -> dict[str, Any]:
        load_before, load_after = r.load_before, r.load_after
        return {
            "shares": kind.from_host(r.shares),
            "load_before": kind.from_host(load_before),
            "load_after": kind.from_host(load_after),
            "optimum": r.optimum,
            "imbalance_before": _core.imbalance(load_before),
            "imbalance_after": _core.imbalance(load_after),
            "rounds": r.rounds,
            "solve_us": r.solve_us,
        }


def _real(value: Any, name: str, minimum: float = 0.0) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    v = float(value)
    if not (math.isfinite(v) and v >= minimum):
        raise ValueError(f"{name}: must be finite and >= {minimum:g}, got {v}")
    return v


def design_placement(
    predicted: Array,
    ep_size: int,
    slots_per_rank: int,
    *,
    deviation: Array | None = None,
    samples: Array | None = None,
    max_copies: int = 0,
    tie_fraction: float = 0.2,
    count_deviations: float = 2.0,
    pack_deviations: float = 0.0,
    num_groups: int = 1,
    num_nodes: int = 1,
    search_moves: int = 0,
    seed: int = 0,
    return_info: bool = False,
) -> Any:
    """Designs a replica placement for PlacementPlanner (the "hybrid" placement).

    1. Replica counts: EPLB's rule (each extra copy to the expert with the
       largest load per copy) on predicted + count_deviations * deviation,
       so that bursty experts get copies.
    2. Packing: replicas by load per copy, heaviest first, each onto the least
       loaded rank with a free slot and no copy of the same expert; every rank
       takes about its fair share of multi-copy replicas, and among ranks
       within tie_fraction of a slot's mean load the one sharing the fewest
       experts with the expert's other ranks wins (a well connected replica
       graph, so per-batch noise can flow anywhere).
    3. Optionally (search_moves > 0, with samples): a local search that lowers
       the mean exact LP optimum over the sample batches (off by default:
       slow, and it does not improve the tail; docs/PLACEMENT.md).

    Deterministic for given inputs and seed.

    :param predicted: [E] expected tokens per expert (numeric, finite, >= 0),
        e.g. a recency-weighted mean of recent batches' counts.
    :param ep_size: ranks P.
    :param slots_per_rank: physical slots per rank; ep_size * slots_per_rank
        >= E (e.g. E // P + redundant experts per rank).
    :param deviation: None or [E]: how much each expert's tokens vary from
        batch to batch (e.g. their standard deviation).
    :param samples: None or [num_samples, E] batches for the local search and
        the reported sample imbalance.
    :param max_copies: most replicas of one expert; 0: one per rank (of its
        node), or more when the slots cannot be filled otherwise.
    :param tie_fraction: packing's near-equal load band (>= 0).
    :param count_deviations: deviations added to predicted for the counts (>= 0).
    :param pack_deviations: deviations added to predicted for packing (>= 0).
    :param num_groups, num_nodes: node-local variant (num_nodes > 1): groups of
        E / num_groups consecutive experts are shared out to nodes and every
        replica stays on its node's ep_size / num_nodes ranks.
    :param search_moves: local-search moves tried (0: steps 1-2 only).
    :param seed: of the local search (>= 0).
    :param return_info: also return a dict with sample_imbalance_before /
        sample_imbalance_after (mean LP imbalance over the samples before /
        after the search; 0 without samples) and moves_accepted.
    :return: int32 phy2log [ep_size * slots_per_rank] (rank-major; feed it to
        PlacementPlanner), of predicted's kind and device; or (phy2log, info).
    :raises ValueError: on sizes that do not fit, or bad values.
    :raises TypeError: on arguments of the wrong type or dtype.
    """
    p = _arrays.as_array(predicted, "predicted", allow_sequence=True)
    if p.ndim != 1:
        raise ValueError(f"predicted: expected a 1-D array [E], got shape {tuple(p.shape)}")
    E = int(p.shape[0])
    dev = None
    if deviation is not None:
        d = _arrays.as_array(deviation, "deviation", allow_sequence=True)
        _arrays.check_numel(d, E, "deviation", "one per logical expert, like predicted")
        dev = _host_floats(d, "deviation")
    smp = None
    if samples is not None:
        s = _arrays.as_array(samples, "samples", allow_sequence=True)
        if s.ndim != 2 or int(s.shape[1]) != E:
            raise ValueError(f"samples: expected shape [num_samples, {E}], got {tuple(s.shape)}")
        smp = _host_floats(s, "samples")
    phy2log, before, after, moves = _core.design_placement(
        _host_floats(p, "predicted"),
        dev,
        _arrays.py_int(ep_size, "ep_size", 1),
        smp,
        _arrays.py_int(slots_per_rank, "slots_per_rank", 1),
        _arrays.py_int(max_copies, "max_copies", 0),
        _real(tie_fraction, "tie_fraction"),
        _real(count_deviations, "count_deviations"),
        _real(pack_deviations, "pack_deviations"),
        _arrays.py_int(num_groups, "num_groups", 1),
        _arrays.py_int(num_nodes, "num_nodes", 1),
        _arrays.py_int(search_moves, "search_moves", 0),
        _seed(seed),
    )
    out = Kind.of(p).from_host(phy2log)
    if return_info:
        info = {
            "sample_imbalance_before": before,
            "sample_imbalance_after": after,
            "moves_accepted": moves,
        }
        return out, info
    return out


def _seed(seed: Any) -> int:
    v = _arrays.py_int(seed, "seed", 0)
    if v >= 1 << 64:
        raise ValueError(f"seed: must be < 2^64, got {v}")
    return v


__all__ = ["PlacementPlanner", "design_placement"]
