"""Input checks and mask helpers for padded frame batches.

A mask is a boolean ``(batch, frames)`` tensor, True on real frames. Recurrent and strided models assume real
frames come first and padding after (what :func:`avemo.train.batching.collate` produces).
Nothing here branches on tensor values, so the models stay traceable for export.
"""

from __future__ import annotations

import torch

from avemo.errors import ParameterError


def check_frames(name: str, x: torch.Tensor, mask: torch.Tensor | None, input_dim: int) -> torch.Tensor:
    """Validate a frames batch and return its mask (all True when ``mask`` is None).

    Raises:
        ParameterError: when ``x`` is not ``(batch, frames, input_dim)`` or ``mask`` not a matching bool tensor.
    """
    if x.dim() != 3 or x.shape[-1] != input_dim:
        raise ParameterError(f"model {name!r} expects frames of shape (batch, frames, {input_dim}), "
                             f"got {tuple(x.shape)}")
    if mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    if mask.shape != x.shape[:2]:
        raise ParameterError(f"model {name!r}: mask shape {tuple(mask.shape)} does not match frames "
                             f"{tuple(x.shape[:2])}; pass a (batch, frames) bool mask")
    if mask.dtype != torch.bool:
        raise ParameterError(f"model {name!r}: mask must be a bool tensor (True on real frames), got {mask.dtype}")
    return mask


def check_vectors(name: str, x: torch.Tensor, input_dim: int) -> None:
    """Validate a ``(batch, input_dim)`` batch.

    Raises:
        ParameterError: for any other shape.
    """
    if x.dim() != 2 or x.shape[-1] != input_dim:
        raise ParameterError(f"model {name!r} expects vectors of shape (batch, {input_dim}), got {tuple(x.shape)}")


def lengths_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Number of real frames per row, ``(batch,)`` int64."""
    return mask.sum(dim=1)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first ``lengths[b]`` frames in time, leaving the padding in place (self-inverse)."""
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)  # (1, T)
    lengths = lengths.unsqueeze(1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)  # (B, T)
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def apply_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero the padded frames of a ``(batch, frames, dim)`` tensor."""
    return x.masked_fill(~mask.unsqueeze(-1), 0.0)
