"""Saving, restoring and copying an lplb.Planner's state.

A Planner's placement (phy2log, and log2phy / logcnt derived from it) lives
in the C++ core and, on a GPU, in a device mirror. The Python attributes are
views of it, so assigning them must reach the core or fail loudly: a
training loop that restores `planner.phy2log = saved` from a checkpoint
would otherwise route by the old mapping. This mixin gives

- `phy2log` assignment that takes effect (validated), `log2phy` / `logcnt`
  assignment that is accepted only when it agrees with phy2log, and
  read-only sizes and topology (fixed at construction);
- `set_mapping`, `state_dict` / `load_state_dict` / `from_state_dict`;
- pickling, `copy.copy` and `copy.deepcopy`, each a planner with its own core
  (a copy never shares the mutable mapping). The process group is shared by
  copies and dropped by pickling (a group cannot cross processes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _arrays
from ._arrays import Kind

STATE_FORMAT = "lplb.Planner/1"
# What a state dict must match to be loaded into an existing planner.
_CONFIG_KEYS = (
    "n_routed_experts",
    "n_logical_routed_experts",
    "ep_size",
    "gpus_per_node",
    "solver",
    "objective",
    "min_moves",
    "move_tolerance",
)
# Sizes fixed at construction: read-only attributes.
FIXED = (
    "r2o",
    "o2r",
    "group_size",
    "num_redundants",
    "n_routed_experts",
    "n_logical_routed_experts",
    "ep_size",
    "n_group",
    "n_local_routed_experts",
    "n_local_logical_routed_experts",
    "combined_redundant_experts",
)


def _fixed_property(name: str) -> property:
    def get(self: Any) -> Any:
        return self._fixed[name]

    def set_(self: Any, value: Any) -> None:
        raise AttributeError(
            f"lplb.Planner.{name} is fixed at construction (the C++ core was sized by it); "
            "build a new Planner instead"
        )

    return property(get, set_, doc=f"The reference's `{name}` (read-only).")


def _host_int32(value: Any, name: str) -> np.ndarray:
    """value (array, tensor or nested list of integers) as flat int32 numpy."""
    a = _arrays.as_array(value, name, allow_sequence=True)
    h = _arrays.to_numpy(a)
    if h.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer entries, got dtype {h.dtype.name}")
    h = h.reshape(-1)
    if h.size and (int(h.min()) < -(1 << 31) or int(h.max()) >= (1 << 31)):
        raise ValueError(f"{name}: entries must fit in int32, got [{int(h.min())}, {int(h.max())}]")
    return np.ascontiguousarray(h, dtype=np.int32)


def _frozen(kind: Kind, host: np.ndarray) -> Any:
    """host in `kind`; numpy results are read-only so that an in-place edit
    (which the core would never see) raises instead of being ignored."""
    out = kind.from_host(host)
    if isinstance(out, np.ndarray):
        out.setflags(write=False)
    return out


def _home_of(device: str | None) -> Kind:
    if device is None:
        return Kind()
    import torch

    return Kind(torch.device(device))


def _restore(cls: type, state: dict[str, Any], home: str | None, group: Any) -> Any:
    """A planner of class cls rebuilt from state_dict() output."""
    return cls.from_state_dict(state, group=group, device=home)


class PlannerState:
    """Mixin for lplb.Planner: the mapping attributes and state round trips.

    Expects self._core (the C++ planner), self._gpu (the CUDA path or None),
    self._home (Kind of redundant_to_original), self._fixed (dict of FIXED)
    and self._options (constructor keyword arguments, host values).
    """

    # -- the mapping -----------------------------------------------------------

    @property
    def phy2log(self) -> Any:
        """int32 [P * n_local]: physical slot -> logical expert. Assigning it
        installs that mapping (as set_mapping does)."""
        return self._phy2log

    @phy2log.setter
    def phy2log(self, value: Any) -> None:
        self.set_mapping(value)

    @property
    def log2phy(self) -> Any:
        """int32 [E, 2]: original slot, then the copy (-1 padded). Derived from
        phy2log; assigning accepts only the value phy2log implies."""
        return self._log2phy

    @log2phy.setter
    def log2phy(self, value: Any) -> None:
        self._check_derived("log2phy", value, self._core.mapping()[1])

    @property
    def logcnt(self) -> Any:
        """int32 [E]: copies of each expert (1 or 2). Derived from phy2log;
        assigning accepts only the value phy2log implies."""
        return self._logcnt

    @logcnt.setter
    def logcnt(self, value: Any) -> None:
        self._check_derived("logcnt", value, self._core.mapping()[2])

    def _check_derived(self, name: str, value: Any, want: np.ndarray) -> None:
        got = _host_int32(value, name)
        want = want.reshape(-1)
        if got.shape != want.shape or not np.array_equal(got, want):
            bad = (
                f"{got.size} entries, expected {want.size}"
                if got.shape != want.shape
                else f"entry {int(np.flatnonzero(got != want)[0])} differs"
            )
            raise ValueError(
                f"{name}: is derived from phy2log and cannot be set on its own ({bad} from the "
                f"value the current phy2log implies); assign planner.phy2log or call "
                "planner.set_mapping(phy2log) instead"
            )

    def set_mapping(self, phy2log: Any) -> tuple[Any, Any, Any]:
        """Installs a saved placement, e.g. from a checkpoint.

        :param phy2log: integer [P * n_local] (or [P, n_local]) as
            update_redundancy_mapping returned it, for this planner's sizes and
            topology (array, tensor or nested list).
        :return: (phy2log, log2phy, logcnt) as the kind of `phy2log`, on its
            device; also stored as the attributes. The CUDA path (if any)
            follows the new mapping.
        :raises ValueError: when phy2log does not fit (wrong size, an expert
            without exactly one original slot, copies that do not follow the
            topology); the mapping is then unchanged.
        """
        a = _arrays.as_array(phy2log, "phy2log", allow_sequence=True)
        if a.ndim > 2:
            raise ValueError(
                f"phy2log: expected [P * n_local] or [P, n_local], got shape {tuple(a.shape)}"
            )
        self._core.set_mapping(_host_int32(a, "phy2log"))
        return self._install_mapping(Kind.of(a))

    def _install_mapping(self, kind: Kind) -> tuple[Any, Any, Any]:
        """Publishes the core's mapping to the attributes and the GPU mirror."""
        phy2log, log2phy, logcnt = self._core.mapping()
        if self._gpu is not None:
            self._gpu.set_mapping(phy2log)
        self._phy2log, self._log2phy, self._logcnt = (
            _frozen(kind, phy2log),
            _frozen(kind, log2phy),
            _frozen(kind, logcnt),
        )
        return self._phy2log, self._log2phy, self._logcnt

    # -- state dicts -----------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild this planner, as plain values: numpy
        arrays, ints, floats, bools, strings and a cost_model dict. Round-trips
        through load_state_dict / from_state_dict (and torch.save)."""
        o = self._options
        return {
            "format": STATE_FORMAT,
            "redundant_to_original": np.array(self._core.topology.r2o, dtype=np.int32),
            "n_routed_experts": self._fixed["n_routed_experts"],
            "n_logical_routed_experts": self._fixed["n_logical_routed_experts"],
            "ep_size": self._fixed["ep_size"],
            "gpus_per_node": o["gpus_per_node"],
            "solver": self.solver,
            "objective": self.objective,
            "cost_model": {k: np.asarray(v) if isinstance(v, list) else v for k, v in self.cost_model.items()},
            "min_moves": self.min_moves,
            "move_tolerance": self.move_tolerance,
            "max_ids": o["max_ids"],
            "check_errors": o["check_errors"],
            "phy2log": np.array(self._core.mapping()[0], dtype=np.int32),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the mapping of state_dict() output into this planner.

        The sizes, topology and options in `state` must equal this planner's
        (build one with Planner.from_state_dict otherwise); phy2log is
        validated as set_mapping does. Attributes keep this planner's kind.
        :raises ValueError: on a missing key, a mismatch or a bad phy2log.
        :raises TypeError: when state is not a dict.
        """
        _check_state(state)
        mine = self.state_dict()
        for key in _CONFIG_KEYS:
            if state[key] != mine[key]:
                raise ValueError(
                    f"state_dict: {key!r} is {state[key]!r} but this planner has {mine[key]!r}; "
                    "build a matching planner with lplb.Planner.from_state_dict(state)"
                )
        r2o = _host_int32(state["redundant_to_original"], "state_dict['redundant_to_original']")
        if not np.array_equal(r2o, mine["redundant_to_original"].reshape(-1)):
            raise ValueError(
                "state_dict: 'redundant_to_original' differs from this planner's topology; "
                "build a matching planner with lplb.Planner.from_state_dict(state)"
            )
        with _arrays.renamed("phy2log", "state_dict['phy2log']"):
            self._core.set_mapping(_host_int32(state["phy2log"], "state_dict['phy2log']"))
        self._install_mapping(self._home)

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], group: Any = None, device: str | None = None) -> Any:
        """A new planner built from state_dict() output.

        :param group: the torch.distributed group for the new planner (a group
            is not part of the state).
        :param device: None for numpy attributes, or a torch device string
            ('cpu', 'cuda:0') for tensor attributes.
        """
        _check_state(state)
        home = _home_of(device)
        r2o = _arrays.as_array(state["redundant_to_original"], "redundant_to_original", allow_sequence=True)
        r2o = home.from_host(np.array(_arrays.to_numpy(r2o)))  # the constructor validates it
        planner = cls(
            r2o,
            state["n_routed_experts"],
            state["n_logical_routed_experts"],
            state["ep_size"],
            group,
            solver=state["solver"],
            gpus_per_node=state["gpus_per_node"],
            max_ids=state.get("max_ids", 1 << 24),
            check_errors=state.get("check_errors", False),
            objective=state["objective"],
            cost_model=state["cost_model"],
            min_moves=state["min_moves"],
            move_tolerance=state["move_tolerance"],
        )
        with _arrays.renamed("phy2log", "state_dict['phy2log']"):
            planner._core.set_mapping(_host_int32(state["phy2log"], "state_dict['phy2log']"))
        planner._install_mapping(planner._home)
        return planner

    # -- pickling and copies -----------------------------------------------------

    def _device_name(self) -> str | None:
        return None if self._home.device is None else str(self._home.device)

    def __reduce__(self) -> Any:
        # The group is dropped: a process group does not cross processes.
        return (_restore, (type(self), self.state_dict(), self._device_name(), None))

    def __copy__(self) -> Any:
        # A real copy: a shared core would let one copy's
        # update_redundancy_mapping silently re-route the other.
        out = _restore(type(self), self.state_dict(), self._device_name(), self.ep_group)
        out.deep_ep_initialized = self.deep_ep_initialized
        return out

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        out = self.__copy__()  # the group is a handle, shared on purpose
        memo[id(self)] = out
        return out


for _name in FIXED:
    setattr(PlannerState, _name, _fixed_property(_name))
del _name


def _check_state(state: Any) -> None:
    if not isinstance(state, dict):
        raise TypeError(f"state_dict: expected a dict from Planner.state_dict(), got {type(state).__name__}")
    fmt = state.get("format")
    if fmt != STATE_FORMAT:
        raise ValueError(f"state_dict: 'format' is {fmt!r}, expected {STATE_FORMAT!r}")
    need = ("redundant_to_original", "phy2log", "cost_model") + _CONFIG_KEYS
    missing = [k for k in need if k not in state]
    if missing:
        raise ValueError(f"state_dict: missing key(s) {', '.join(map(repr, missing))}")
