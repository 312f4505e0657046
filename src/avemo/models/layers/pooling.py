"""Masked pooling over frames: mean, mean+std, and attention with learned queries."""

from __future__ import annotations

import torch
from torch import nn


def _weights(mask: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    w = mask.to(dtype).unsqueeze(-1)  # (B, T, 1)
    return w, w.sum(dim=1).clamp_min(1.0)  # (B, 1) counts; an all-padding row pools to zeros


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over real frames: ``(batch, frames, dim) -> (batch, dim)``."""
    if mask is None:
        return x.mean(dim=1)
    w, n = _weights(mask, x.dtype)
    return (x * w).sum(dim=1) / n


def masked_mean_std(x: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """Mean and standard deviation over real frames, concatenated: ``(batch, frames, dim) -> (batch, 2 * dim)``."""
    if mask is None:
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    w, n = _weights(mask, x.dtype)
    mean = (x * w).sum(dim=1) / n
    var = (((x - mean.unsqueeze(1)) ** 2) * w).sum(dim=1) / n
    return torch.cat([mean, torch.sqrt(var + eps)], dim=-1)


class AttentionPooling(nn.Module):
    """Attention pooling with ``num_queries`` learned queries, a masked softmax over frames each.

    Scores are ``q_h . tanh(W x_t)``; each query yields a weighted mean of the frames, and the results are
    concatenated: ``(batch, frames, dim) -> (batch, num_queries * dim)``.
    """

    def __init__(self, dim: int, num_queries: int = 1, hidden: int = 64) -> None:
        super().__init__()
        self.dim, self.num_queries = dim, num_queries
        self.key = nn.Linear(dim, hidden)
        self.query = nn.Linear(hidden, num_queries, bias=False)  # rows are the learned queries

    @property
    def out_dim(self) -> int:
        return self.dim * self.num_queries

    def attention(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention weights ``(batch, frames, num_queries)``; zero on padded frames, summing to 1 over frames."""
        scores = self.query(torch.tanh(self.key(x)))  # (B, T, Q)
        if mask is None:
            return torch.softmax(scores, dim=1)
        m = mask.unsqueeze(-1)
        scores = scores.masked_fill(~m, torch.finfo(scores.dtype).min)
        return torch.softmax(scores, dim=1) * m.to(scores.dtype)  # the product only matters for all-padding rows

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        weights = self.attention(x, mask)
        pooled = torch.einsum("btq,btd->bqd", weights, x)
        return pooled.reshape(x.shape[0], self.out_dim)
