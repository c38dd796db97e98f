"""Shared fixtures: the array kinds every API test runs on.

numpy always; torch CPU when torch imports; torch CUDA when a GPU is
visible. torch is not a test requirement (its wheel is huge): those cases
skip without it.
"""

from __future__ import annotations

import numpy as np
import pytest

try:
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

HAVE_TORCH = torch is not None
HAVE_CUDA = HAVE_TORCH and torch.cuda.is_available()

requires_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
requires_cuda = pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device (or no torch)")


class Kind:
    """Makes arrays of one kind from numpy and reads them back."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    @property
    def is_numpy(self) -> bool:
        return self.name == "numpy"

    def make(self, a) -> object:
        a = np.asarray(a)
        if self.is_numpy:
            return a
        t = torch.from_numpy(np.ascontiguousarray(a))
        return t.cuda() if self.name == "torch-cuda" else t

    def zeros_counter(self, dtype: str = "int32") -> object:
        return self.make(np.zeros((), dtype=dtype))

    @staticmethod
    def numpy(x) -> np.ndarray:
        if isinstance(x, np.ndarray):
            return x
        return x.detach().cpu().numpy()

    def assert_kind(self, x, dtype: str | None = None) -> None:
        """x is an array of this kind (and device), with dtype if given."""
        if self.is_numpy:
            assert isinstance(x, np.ndarray), type(x)
            got = x.dtype.name
        else:
            assert isinstance(x, torch.Tensor), type(x)
            assert x.device.type == ("cuda" if self.name == "torch-cuda" else "cpu"), x.device
            got = str(x.dtype).replace("torch.", "")
        if dtype is not None:
            assert got == dtype, (got, dtype)


KINDS = [
    pytest.param(Kind("numpy"), id="numpy"),
    pytest.param(Kind("torch-cpu"), id="torch-cpu", marks=requires_torch),
    pytest.param(Kind("torch-cuda"), id="torch-cuda", marks=requires_cuda),
]


@pytest.fixture(params=KINDS)
def kind(request) -> Kind:
    return request.param
