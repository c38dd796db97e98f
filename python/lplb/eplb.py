"""lplb.rebalance_experts: deepseek-ai/EPLB's entry point, same signature and outputs."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from . import _arrays, _core
from ._arrays import Kind

if TYPE_CHECKING:
    import torch

    Array = Union[np.ndarray, torch.Tensor]
else:
    Array = Any


def rebalance_experts(
    weight: Array,
    num_replicas: int,
    num_groups: int,
    num_nodes: int,
    num_gpus: int,
    *,
    spread_replicas: bool = False,
) -> tuple[Array, Array, Array]:
    """Expert-parallelism load balancer (EPLB): replicate and place experts.

    Hierarchical policy when num_groups % num_nodes == 0 (pack expert groups
    onto nodes, replicate within nodes, pack replicas onto GPUs), else the
    same with one group and one node. For inputs without ties the result is
    identical to deepseek-ai/EPLB's.

    :param weight: [layers, num_logical_experts] load statistics (numeric,
        finite, >= 0; a numpy array, torch tensor on any device, or nested list).
    :param num_replicas: physical experts per layer, a multiple of num_gpus.
    :param num_groups: expert groups; num_logical_experts must divide evenly.
    :param num_nodes: server nodes (intra-node links are faster).
    :param num_gpus: GPUs, a multiple of num_nodes.
    :param spread_replicas: never put two replicas of one expert on the same
        GPU when sizes allow (off: identical to EPLB).
    :return: int64 (phy2log [layers, num_replicas]: logical expert of each
        replica; log2phy [layers, num_logical_experts, X]: replicas of each
        expert, -1 padded, X the largest count; logcnt [layers,
        num_logical_experts]: replica counts), as the kind of `weight`, on its
        device.
    :raises ValueError: on sizes that do not divide, or bad weights.
    :raises TypeError: on a non-numeric weight or non-integer sizes.
    """
    w = _arrays.as_array(weight, "weight", allow_sequence=True)
    _arrays.check_numeric_dtype(w, "weight")
    if w.ndim != 2:
        raise ValueError(
            f"weight: expected a 2-D [layers, num_logical_experts] array, got shape {tuple(w.shape)}"
        )
    host = np.ascontiguousarray(_arrays.to_numpy(w), dtype=np.float64)
    groups = _arrays.py_int(num_groups, "num_groups")
    nodes = _arrays.py_int(num_nodes, "num_nodes")
    outputs = _core.rebalance_experts(
        host,
        _arrays.py_int(num_replicas, "num_replicas"),
        groups,
        nodes,
        _arrays.py_int(num_gpus, "num_gpus"),
        bool(spread_replicas),
    )
    if groups % nodes:  # sizes were validated above, so nodes > 0
        # The reference falls back silently; the node-local layout was
        # probably intended, so say so.
        warnings.warn(
            f"rebalance_experts: num_groups {groups} is not a multiple of num_nodes {nodes}: "
            "EPLB falls back to the global policy (replicas packed across all GPUs, "
            "ignoring groups and nodes)",
            stacklevel=2,
        )
    kind = Kind.of(w)
    return tuple(kind.from_host(a) for a in outputs)  # type: ignore[return-value]


__all__ = ["rebalance_experts"]
