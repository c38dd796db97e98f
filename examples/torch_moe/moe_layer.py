"""A DeepSeek-V3-shaped MoE layer with a pluggable lplb balancer.

Router: sigmoid scores of a linear gate, top-k of E experts, weights
normalised over the k chosen. Experts: SwiGLU, h = x W1^T (gate and up
halves), y = (silu(h_gate) * h_up) W2^T, in bf16 (or any dtype).

Expert parallelism is emulated on one device: P virtual ranks, rank r holds
the physical slots [r * n_local, (r + 1) * n_local) of the balancer's
phy2log. The slot weights are the logical weights gathered by phy2log
(`lplb.integrations.torch.slot_weights`): a copy holds exactly its expert's
values, as on a real EP rank after the weight refresh.

`forward` is the whole layer (route -> balance -> group -> grouped GEMM over
all slots -> combine), compilable with torch.compile(fullgraph=True). The
measuring driver (run.py) calls the stages itself to time each rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lplb.integrations.torch import Balancer, NoBalancer, slot_weights


@dataclass(frozen=True)
class Shapes:
    hidden: int
    inter: int
    experts: int
    topk: int


SHAPES = {
    "deepseek-v3": Shapes(hidden=7168, inter=2048, experts=256, topk=8),
    "small": Shapes(hidden=1024, inter=256, experts=64, topk=4),
    "mini": Shapes(hidden=64, inter=32, experts=256, topk=8),  # the trace shapes, tiny matrices
    "tiny": Shapes(hidden=32, inter=16, experts=32, topk=4),
}


@dataclass
class Grouped:
    """Token-expert pairs sorted by physical slot."""

    order: torch.Tensor  # int64 [N]: pair index (token * k + j) of each sorted row
    token: torch.Tensor  # int64 [N]: token of each sorted row
    counts: torch.Tensor  # int64 [num_physical]: rows per slot
    offs: torch.Tensor  # int32 [num_physical]: end row of each slot (grouped GEMM offsets)
    x: torch.Tensor  # [N, hidden]: the rows' inputs


def group_by_slot(x: torch.Tensor, phys: torch.Tensor, num_physical: int) -> Grouped:
    """Sorts the token-expert pairs of phys [T, k] by slot. Static shapes and
    no host synchronisation, so it captures in a CUDA graph and compiles."""
    k = phys.shape[-1]
    flat = phys.reshape(-1)
    order = torch.argsort(flat, stable=True)
    counts = torch.zeros(num_physical, dtype=torch.long, device=flat.device)
    counts.index_add_(0, flat, torch.ones_like(flat))
    offs = torch.cumsum(counts, 0).to(torch.int32)
    token = order // k
    return Grouped(order, token, counts, offs, x.index_select(0, token))


def experts_grouped(x: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor, offs: torch.Tensor) -> torch.Tensor:
    """SwiGLU over groups of rows: rows [offs[g-1], offs[g]) use w1[g], w2[g].

    One grouped GEMM per projection (torch._grouped_mm); rows past offs[-1]
    are not computed."""
    inter = w2.shape[-1]
    h = torch._grouped_mm(x, w1.transpose(-2, -1), offs=offs)
    a = (F.silu(h[:, :inter]) * h[:, inter:]).contiguous()
    return torch._grouped_mm(a, w2.transpose(-2, -1), offs=offs)


def combine(y: torch.Tensor, g: Grouped, weights: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """fp32 [T, hidden]: sum over each token's k experts of weight * output."""
    w = weights.reshape(-1)[g.order].float().unsqueeze(1)
    out = torch.zeros(num_tokens, y.shape[1], dtype=torch.float32, device=y.device)
    return out.index_add_(0, g.token, y.float() * w)


class MoELayer(torch.nn.Module):
    """Router + SwiGLU experts; `balancer` decides the physical slot of every
    token-expert pair. Call `set_balancer` (or `refresh_weights` after the
    balancer's placement changed) to lay out the slot weights."""

    def __init__(
        self,
        shapes: Shapes,
        ep_size: int,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        s = shapes
        self.shapes = s
        self.ep_size = ep_size
        dev = torch.device(device) if device is not None else torch.device("cpu")
        gen = torch.Generator(device=dev).manual_seed(seed)

        def init(*shape: int, fan_in: int) -> torch.Tensor:
            # One expert at a time in fp32, on the device (fast at full size).
            t = torch.empty(shape, dtype=dtype, device=dev)
            for i in range(shape[0]):
                t[i] = torch.randn(shape[1:], generator=gen, device=dev) * fan_in**-0.5
            return t

        self.gate = torch.nn.Parameter(torch.randn(s.experts, s.hidden, generator=gen, device=dev) * s.hidden**-0.5)
        self.w1 = torch.nn.Parameter(init(s.experts, 2 * s.inter, s.hidden, fan_in=s.hidden))
        self.w2 = torch.nn.Parameter(init(s.experts, s.hidden, s.inter, fan_in=s.inter))
        self.balancer: Balancer = NoBalancer(s.experts, ep_size, device=device)
        self.refresh_weights()

    def set_balancer(self, balancer: Balancer) -> None:
        if balancer.num_experts != self.shapes.experts or balancer.ep_size != self.ep_size:
            raise ValueError(
                f"balancer: built for {balancer.num_experts} experts over {balancer.ep_size} ranks, "
                f"the layer has {self.shapes.experts} over {self.ep_size}"
            )
        self.balancer = balancer.to(self.w1.device)
        self.refresh_weights()

    @torch.no_grad()
    def refresh_weights(self) -> None:
        """Lays out the slot weights from the balancer's phy2log (inference:
        a copy; for training gather inside forward instead, see
        docs/INTEGRATION.md)."""
        p2l = self.balancer.phy2log.to(self.w1.device)
        self.slot_w1 = slot_weights(self.w1.detach(), p2l)
        self.slot_w2 = slot_weights(self.w2.detach(), p2l)

    def rank_weights(self, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.balancer.n_local
        return self.slot_w1[rank * n : (rank + 1) * n], self.slot_w2[rank * n : (rank + 1) * n]

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids int64 [T, k], weights fp32 [T, k]) of the top-k experts."""
        scores = torch.sigmoid(x.float() @ self.gate.t())
        w, ids = torch.topk(scores, self.shapes.topk, dim=-1)
        return ids, w / w.sum(-1, keepdim=True)

    def gate_weights(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """fp32 [T, k] combine weights of given expert ids (trace replay)."""
        scores = torch.sigmoid(x.float() @ self.gate.t()).gather(1, ids)
        return scores / scores.sum(-1, keepdim=True)

    def forward(
        self, x: torch.Tensor, ids: torch.Tensor | None = None, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """fp32 [T, hidden]. ids/weights: given routing (default: the router's)."""
        if ids is None:
            ids, weights = self.route(x)
        elif weights is None:
            weights = self.gate_weights(x, ids)
        phys = self.balancer(ids)
        g = group_by_slot(x, phys, self.balancer.num_physical)
        y = experts_grouped(g.x, self.slot_w1, self.slot_w2, g.offs)
        return combine(y, g, weights, x.shape[0])
