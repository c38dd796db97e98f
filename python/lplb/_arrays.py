"""Array plumbing for the lplb Python layer.

Inputs may be numpy arrays, torch tensors (CPU or CUDA) or any other object
that speaks DLPack on the host; plain lists are accepted where a docstring
says so. Results come back as the same kind of array on the same device:
torch for torch, numpy for everything else. torch is never imported here
unless the caller already did (a tensor can only exist if it was), so the
package works without it. Nothing in this file links against libtorch: the
C++ core receives tensors through DLPack (nanobind ndarray).
"""

from __future__ import annotations

import contextlib
import operator
import sys
from typing import Any, Iterator

import numpy as np

INDEX_DTYPES = ("int32", "int64")
_NUMERIC_PREFIXES = ("int", "uint", "float", "bfloat")


def _torch() -> Any:
    return sys.modules.get("torch")


def is_tensor(x: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def is_cuda(x: Any) -> bool:
    return is_tensor(x) and x.device.type == "cuda"


def as_array(x: Any, name: str, *, allow_sequence: bool = False) -> Any:
    """A numpy array or a detached torch tensor; TypeError for anything else."""
    if isinstance(x, np.ndarray):
        return x
    if is_tensor(x):
        return x.detach()
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except Exception as err:  # noqa: BLE001 - re-raised with the argument's name
            raise TypeError(
                f"{name}: cannot read this {type(x).__name__} through DLPack on the host "
                f"(only numpy arrays and torch tensors may live on a GPU): {err}"
            ) from None
    if allow_sequence and isinstance(x, (list, tuple, int, float, np.generic)):
        try:
            return np.asarray(x)
        except ValueError as err:
            raise ValueError(f"{name}: not a rectangular array: {err}") from None
    raise TypeError(
        f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}"
    )


def dtype_name(a: Any) -> str:
    """'int32', 'float64', ... for numpy arrays and torch tensors alike."""
    if isinstance(a, np.ndarray):
        return a.dtype.name
    return str(a.dtype).replace("torch.", "")


def check_index_dtype(a: Any, name: str) -> None:
    dt = dtype_name(a)
    if dt not in INDEX_DTYPES:
        raise TypeError(f"{name}: expected int32 or int64 expert ids, got dtype {dt}")


def check_numeric_dtype(a: Any, name: str) -> None:
    dt = dtype_name(a)
    if dt == "bool" or not dt.startswith(_NUMERIC_PREFIXES):
        raise TypeError(f"{name}: expected an integer or floating-point array, got dtype {dt}")


def check_float_dtype(a: Any, name: str) -> None:
    dt = dtype_name(a)
    if not dt.startswith(("float", "bfloat")):
        raise TypeError(f"{name}: expected a floating-point array, got dtype {dt}")


def check_numel(a: Any, numel: int, name: str, what: str) -> None:
    got = int(a.size) if isinstance(a, np.ndarray) else int(a.numel())
    if got != numel:
        raise ValueError(
            f"{name}: expected {numel} entries ({what}), got {got} (shape {tuple(a.shape)})"
        )


def py_int(value: Any, name: str, minimum: int | None = None) -> int:
    """operator.index(value), with argument-named errors."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected an integer, got bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}") from None
    if minimum is not None and v < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {v}")
    return v


def flat(a: Any) -> Any:
    """A C-contiguous 1-D view (or copy, when the input is not contiguous)."""
    if isinstance(a, np.ndarray):
        if not a.dtype.isnative:  # DLPack has no byte order
            a = a.astype(a.dtype.newbyteorder("="))
        return np.ascontiguousarray(a).reshape(-1)
    return a.contiguous().view(-1)


def astype(a: Any, dtype: str, copy: bool = False) -> Any:
    if isinstance(a, np.ndarray):
        return a.astype(dtype, copy=copy)
    return a.to(getattr(_torch(), dtype), copy=copy)


def as_tensor_like(a: Any, like: Any) -> Any:
    """a (numpy or tensor) as a torch tensor on like's device."""
    if not is_tensor(a):
        a = _torch().from_numpy(np.ascontiguousarray(a))
    return a.to(like.device)


def host(a: Any, dtype: str | None = None) -> Any:
    """A contiguous host array (numpy stays numpy, a tensor moves to the CPU)."""
    if not isinstance(a, np.ndarray):
        a = a.cpu()
    if dtype is not None:
        a = astype(a, dtype)
    if isinstance(a, np.ndarray):
        return np.ascontiguousarray(a)
    return a.contiguous()


def to_numpy(a: Any) -> np.ndarray:
    """A host numpy array with the same values (copies only when it must)."""
    if isinstance(a, np.ndarray):
        return a
    a = a.cpu()
    if str(a.dtype) == "torch.bfloat16":  # numpy has no bfloat16
        a = a.float()
    return np.from_dlpack(a.contiguous())


def is_writable(a: Any) -> bool:
    return a.flags.writeable if isinstance(a, np.ndarray) else True


@contextlib.contextmanager
def renamed(core_name: str, name: str) -> Iterator[None]:
    """Reports a core ValueError about `core_name` under the Python name."""
    try:
        yield
    except ValueError as err:
        msg = str(err)
        if msg.startswith(core_name + ":"):
            raise ValueError(name + msg[len(core_name) :]) from None
        raise


class Kind:
    """Where results go: numpy, or torch on a given device."""

    __slots__ = ("device",)

    def __init__(self, device: Any = None) -> None:
        self.device = device  # None: numpy; else a torch.device

    @staticmethod
    def of(a: Any) -> Kind:
        return Kind(a.device) if is_tensor(a) else Kind()

    @property
    def is_torch(self) -> bool:
        return self.device is not None

    @property
    def is_cuda(self) -> bool:
        return self.device is not None and self.device.type == "cuda"

    def empty(self, shape: tuple[int, ...], dtype: str) -> Any:
        if self.device is None:
            return np.empty(shape, dtype=dtype)
        torch = _torch()
        return torch.empty(shape, dtype=getattr(torch, dtype), device=self.device)

    def from_host(self, a: np.ndarray) -> Any:
        """Converts a fresh host numpy array into this kind (no copy on the CPU)."""
        if self.device is None:
            return a
        t = _torch().from_dlpack(np.ascontiguousarray(a))
        return t if self.device.type == "cpu" else t.to(self.device)

    def __repr__(self) -> str:
        return "Kind(numpy)" if self.device is None else f"Kind(torch, {self.device})"
