"""Pad variable-length examples into batches with masks."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch

from avemo.errors import ParameterError


@dataclasses.dataclass
class Batch:
    """``x`` is ``(batch, frames, dim)`` with ``mask`` ``(batch, frames)`` True on real frames, ``(batch, dim)``
    with ``mask=None`` for vectors, or ``(batch, channels, height, width)`` with ``mask=None`` for images; ``aux``
    ``(batch, aux_dim)`` and ``labels`` ``(batch,)`` when given."""

    x: torch.Tensor
    mask: torch.Tensor | None
    aux: torch.Tensor | None = None
    labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]


def crop(array: np.ndarray, max_frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """At most ``max_frames`` consecutive frames: a random window with ``rng``, else the centre one."""
    extra = array.shape[0] - max_frames
    if extra <= 0:
        return array
    start = int(rng.integers(0, extra + 1)) if rng is not None else extra // 2
    return array[start:start + max_frames]


def collate(arrays: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray | None = None,
            aux: Sequence[np.ndarray] | np.ndarray | None = None, max_frames: int | None = None,
            rng: np.random.Generator | None = None) -> Batch:
    """Stack examples into a :class:`Batch`: frame matrices ``(T, D)`` are zero-padded to the longest (after
    cropping to ``max_frames``, randomly when ``rng`` is given); vectors ``(D,)`` and images ``(C, H, W)`` are
    stacked (uint8 images are scaled to [0, 1]).

    Raises:
        ParameterError: for an empty list, mixed kinds or dimensions, or an example without frames.
    """
    if len(arrays) == 0:
        raise ParameterError("collate needs at least one example")
    first = np.asarray(arrays[0])
    if first.ndim == 3:
        return _collate_images(arrays, labels)
    if first.ndim not in (1, 2):
        raise ParameterError(f"examples must be frame matrices (T, D), vectors (D,) or images (C, H, W), "
                             f"got shape {first.shape}")
    dim = first.shape[-1]
    for a in arrays:
        if a.ndim != first.ndim or a.shape[-1] != dim:
            raise ParameterError(f"all examples in a batch need the same kind and dimension; got shapes "
                                 f"{first.shape} and {a.shape}")
    if first.ndim == 1:
        x = torch.from_numpy(np.stack([np.asarray(a, dtype=np.float32) for a in arrays]))
        mask = None
    else:
        if max_frames is not None:
            arrays = [crop(a, max_frames, rng) for a in arrays]
        lengths = [a.shape[0] for a in arrays]
        if min(lengths) == 0:
            raise ParameterError("an example has no frames; drop empty recordings before batching")
        x_np = np.zeros((len(arrays), max(lengths), dim), dtype=np.float32)
        mask_np = np.zeros((len(arrays), max(lengths)), dtype=bool)
        for i, a in enumerate(arrays):
            x_np[i, : a.shape[0]] = a
            mask_np[i, : a.shape[0]] = True
        x, mask = torch.from_numpy(x_np), torch.from_numpy(mask_np)
    aux_t = None if aux is None else torch.from_numpy(np.stack([np.asarray(v, dtype=np.float32) for v in aux]))
    labels_t = None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)
    return Batch(x, mask, aux_t, labels_t)


def _collate_images(arrays: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray | None) -> Batch:
    shape = np.asarray(arrays[0]).shape
    for a in arrays:
        if a.shape != shape:
            raise ParameterError(f"all images in a batch need the same shape; got {shape} and {a.shape}")
    stacked = np.stack(arrays)
    x = torch.from_numpy(stacked.astype(np.float32) / 255.0 if stacked.dtype == np.uint8
                         else stacked.astype(np.float32, copy=False))
    labels_t = None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)
    return Batch(x, None, None, labels_t)
