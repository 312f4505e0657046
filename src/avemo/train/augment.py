"""Batch augmentation of face crops on the fly: one affine warp per image (random crop, scale, rotation, shift,
horizontal flip), then brightness/contrast jitter and random erasing.

Images are ``(batch, channels, size, size)`` floats in [0, 1]; the output is ``(batch, channels, crop, crop)``.
Evaluation takes the centre crop; test-time augmentation averages the centre crop and its mirror image (plus
the four corner crops with ``tta="shifts"``, or the centre zoomed in and out by the training ``scale``, each
mirrored too, with ``tta="scales"``). Randomness comes from torch's global generator, which the trainer seeds
per epoch, so training stays deterministic.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from avemo.errors import ParameterError

TTA_MODES = ("none", "flip", "shifts", "scales")


@dataclasses.dataclass(frozen=True)
class ImageAugmentConfig:
    """``crop``: output side in pixels (``None`` = input size); during training the crop window moves at random
    by up to half the margin around it, plus ``shift`` (a fraction of half the side, +/-); ``scale``: relative
    zoom range (+/-); ``rotation``: degrees (+/-); ``brightness``/``contrast``: relative
    jitter (+/-); ``erase``: probability of erasing one random rectangle (up to a quarter of the crop)."""

    crop: int | None = 40
    scale: float = 0.15
    rotation: float = 12.0
    shift: float = 0.08
    flip: bool = True
    brightness: float = 0.2
    contrast: float = 0.2
    erase: float = 0.25
    tta: str = "flip"

    def __post_init__(self) -> None:
        if self.crop is not None and self.crop < 8:
            raise ParameterError(f"augment crop must be >= 8 pixels or None, got {self.crop}")
        if min(self.scale, self.rotation, self.shift, self.brightness, self.contrast, self.erase) < 0 or \
                self.scale >= 1 or self.erase > 1:
            raise ParameterError("augment scale must be in [0, 1), erase in [0, 1] and the other ranges >= 0, "
                                 f"got {dataclasses.asdict(self)}")
        if self.tta not in TTA_MODES:
            raise ParameterError(f"augment tta must be one of {list(TTA_MODES)}, got {self.tta!r}")


class ImageAugment:
    """Training augmentation, evaluation crop and test-time views for square image batches."""

    def __init__(self, config: ImageAugmentConfig | None = None) -> None:
        self.config = config if config is not None else ImageAugmentConfig()

    def _size(self, x: torch.Tensor) -> tuple[int, float]:
        if x.ndim != 4:
            raise ParameterError(f"augmentation expects images (batch, channels, height, width), got {tuple(x.shape)}")
        side = x.shape[-1]
        crop = self.config.crop or side
        if crop > side:
            raise ParameterError(f"augment crop {crop} is larger than the {side}-pixel images; lower `crop`")
        return crop, crop / side

    def _warp(self, x: torch.Tensor, theta: torch.Tensor, crop: int) -> torch.Tensor:
        grid = F.affine_grid(theta, [x.shape[0], x.shape[1], crop, crop], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def train(self, x: torch.Tensor) -> torch.Tensor:
        """A randomly augmented crop of every image."""
        cfg = self.config
        crop, frac = self._size(x)
        n = x.shape[0]
        zoom = frac * (1 + (torch.rand(n) * 2 - 1) * cfg.scale)
        angle = (torch.rand(n) * 2 - 1) * math.radians(cfg.rotation)
        room = (1 - frac) / 2 + cfg.shift  # in normalised coordinates (the side spans 2)
        tx, ty = ((torch.rand(n) * 2 - 1) * room for _ in range(2))
        flip = torch.where(torch.rand(n) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(n)
        cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
        theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
        out = self._warp(x, theta, crop)
        if cfg.brightness or cfg.contrast:
            mean = out.mean(dim=(1, 2, 3), keepdim=True)
            c = 1 + (torch.rand(n, 1, 1, 1) * 2 - 1) * cfg.contrast
            b = (torch.rand(n, 1, 1, 1) * 2 - 1) * cfg.brightness * 0.5
            out = ((out - mean) * c + mean + b).clamp(0, 1)
        if cfg.erase > 0:
            out = self._erase(out)
        return out

    def _erase(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        chosen = torch.rand(n) < self.config.erase
        eh = (torch.rand(n) * 0.3 + 0.2) * h
        ew = (torch.rand(n) * 0.3 + 0.2) * w
        y0 = torch.rand(n) * (h - eh)
        x0 = torch.rand(n) * (w - ew)
        rows = torch.arange(h).view(1, h, 1)
        cols = torch.arange(w).view(1, 1, w)
        box = (rows >= y0.view(n, 1, 1)) & (rows < (y0 + eh).view(n, 1, 1)) & \
            (cols >= x0.view(n, 1, 1)) & (cols < (x0 + ew).view(n, 1, 1)) & chosen.view(n, 1, 1)
        noise = torch.rand(n, 1, h, w)
        return torch.where(box.unsqueeze(1), noise, x)

    def eval(self, x: torch.Tensor) -> torch.Tensor:
        """The centre crop of every image."""
        crop, _ = self._size(x)
        top = (x.shape[-2] - crop) // 2
        left = (x.shape[-1] - crop) // 2
        return x[..., top:top + crop, left:left + crop]

    def tta_views(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The views whose predictions are averaged at test time (centre crop first)."""
        center = self.eval(x)
        if self.config.tta == "none":
            return [center]
        views = [center, center.flip(-1)]
        if self.config.tta == "shifts":
            crop, _ = self._size(x)
            room = x.shape[-1] - crop
            if room >= 2:
                views += [x[..., top:top + crop, left:left + crop]
                          for top, left in ((0, 0), (0, room), (room, 0), (room, room))]
        elif self.config.tta == "scales":
            for zoomed in self._zoomed_crops(x):
                views += [zoomed, zoomed.flip(-1)]
        return views

    def _zoomed_crops(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Centre crops of side ``crop * (1 -/+ scale)`` (clipped to the image) resized to the crop side: the
        zoom range the model saw in training, at its two ends."""
        crop, _ = self._size(x)
        side = x.shape[-1]
        out = []
        for factor in (1 - self.config.scale, 1 + self.config.scale):
            window = min(side, max(2, round(crop * factor)))
            if window == crop:
                continue
            top, left = (x.shape[-2] - window) // 2, (side - window) // 2
            out.append(F.interpolate(x[..., top:top + window, left:left + window], size=(crop, crop),
                                     mode="bilinear", align_corners=False, antialias=window > crop))
        return out
