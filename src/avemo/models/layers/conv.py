"""Masked 1-D convolution blocks: padded frames are zeroed before every convolution and left out of the
batch-norm statistics, so padding changes nothing on real frames."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avemo.errors import ParameterError


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over ``(batch, channels, frames)`` whose training statistics use real frames only.

    Same parameters and buffers as :class:`torch.nn.BatchNorm1d`; evaluation uses the running statistics.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        if not self.training or mask is None:
            return super().forward(x)
        w = mask.unsqueeze(1).to(x.dtype)  # (B, 1, T)
        n = w.sum().clamp_min(1.0)
        mean = (x * w).sum(dim=(0, 2)) / n
        var = (((x - mean[None, :, None]) ** 2) * w).sum(dim=(0, 2)) / n
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                unbiased = var * n / (n - 1).clamp_min(1.0)
                self.running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
                self.running_var.mul_(1 - momentum).add_(unbiased.detach() * momentum)
        out = (x - mean[None, :, None]) / torch.sqrt(var[None, :, None] + self.eps)
        if self.affine:
            out = out * self.weight[None, :, None] + self.bias[None, :, None]
        return out


class MaskedConvBlock(nn.Module):
    """``Conv1d -> MaskedBatchNorm1d -> ReLU -> Dropout`` on ``(batch, frames, channels)`` with a mask.

    With ``stride > 1`` the mask is downsampled with it (frame ``i`` of the output is centred on input frame
    ``stride * i``); the kernel size must be odd.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 1,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0 or stride < 1:
            raise ParameterError(f"conv blocks need an odd kernel_size and stride >= 1, got {kernel_size} and {stride}")
        self.stride = stride
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                              bias=False)
        self.norm = MaskedBatchNorm1d(out_channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0)
        y = self.conv(x.transpose(1, 2))  # (B, C, T')
        if self.stride > 1:
            mask = mask[:, :: self.stride]
        y = F.relu(self.norm(y, mask))
        return self.dropout(y.transpose(1, 2)), mask
