"""Pieces every face model shares: input checks and the linear classifier head."""

from __future__ import annotations

import torch
from torch import nn

from avemo.errors import ParameterError


def check_images(model: str, x: torch.Tensor, channels: int) -> torch.Tensor:
    """``x`` must be ``(batch, channels, height, width)`` float.

    Raises:
        ParameterError: for another shape.
    """
    if x.ndim != 4 or x.shape[1] != channels:
        raise ParameterError(f"model {model!r} expects images (batch, {channels}, height, width), "
                             f"got shape {tuple(x.shape)}")
    return x


class ImageHead(nn.Module):
    """Dropout then a linear layer from the pooled embedding ``(batch, dim)`` to logits ``(batch, classes)``."""

    def __init__(self, dim: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(dim, num_classes)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(embedding))
