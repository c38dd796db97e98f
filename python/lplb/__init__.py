"""lplb: linear-programming load balancing for MoE expert parallelism.

A drop-in for deepseek-ai/LPLB (`lplb.Planner`) and deepseek-ai/EPLB
(`lplb.rebalance_experts`) backed by a C++ core (and a CUDA backend when
built with one), plus the exact per-batch LP over any replica placement
(`lplb.PlacementPlanner`, `lplb.design_placement`). Works on numpy arrays and torch tensors through DLPack,
without linking against libtorch. See docs/PYTHON.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._core import CostModel, SolveOutput, Topology
from .eplb import rebalance_experts
from .placement import PlacementPlanner, design_placement
from .replan import replan
from .planner import Planner
from .tracing import TraceRecorder, record_trace

__version__: str = _core.__version__

#: True when the extension was built with the CUDA backend (torch CUDA
#: tensors then run on the GPU; otherwise they round-trip through the host).
has_cuda: bool = _core.has_cuda


def topology(spec: str) -> np.ndarray:
    """The r2o matrix (int32 [S, D] numpy) of a named topology: 'cube',
    'hypercube', 'ring', 'ring:S' or 'torus:MxN', or a JSON file path."""
    return Topology.parse(spec).r2o


def imbalance(loads: Any) -> float:
    """max / mean of per-rank loads (1.0 when all are zero)."""
    return _core.imbalance(np.ascontiguousarray(np.asarray(loads, dtype=np.float64).reshape(-1)))


__all__ = [
    "CostModel",
    "PlacementPlanner",
    "Planner",
    "SolveOutput",
    "TraceRecorder",
    "Topology",
    "design_placement",
    "replan",
    "has_cuda",
    "imbalance",
    "rebalance_experts",
    "record_trace",
    "topology",
    "__version__",
]
