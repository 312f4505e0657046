"""Shared machinery of the audio-visual fusion models.

A fusion model takes a dict of clip-level modality vectors, e.g. ``{"speech": (B, Ds), "face": (B, Df)}``,
and ``present: {modality: BoolTensor (B,)}`` saying which modality each example has. A modality missing from
``inputs`` altogether counts as absent for every example; ``present=None`` means every given modality is
present. Inputs of absent examples are never read (they may hold zeros or NaN). Every example needs at
least one present modality.

Fusion models are registered like every other model, with ``input_kind = "multimodal"``; their
``input_dim`` is the dict of modality dimensions, so ``create_model("fusion_concat", {"speech": 88,
"face": 35}, 8)`` builds one and ``describe()`` round-trips.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import torch
from torch import nn

from avemo.errors import ParameterError
from avemo.models.registry import EmotionModel, ModelConfig


@dataclasses.dataclass
class FusionConfig(ModelConfig):
    """Base of the fusion models' settings."""

    dropout: float = 0.2


def _check_input_dims(name: str, input_dim: Any) -> dict[str, int]:
    if not isinstance(input_dim, Mapping) or not input_dim:
        raise ParameterError(f"model {name!r} is multimodal: input_dim must be a dict of modality -> dimension, "
                             f"e.g. {{'speech': 88, 'face': 35}}, got {input_dim!r}")
    dims: dict[str, int] = {}
    for key, dim in input_dim.items():
        if not isinstance(key, str) or not key:
            raise ParameterError(f"model {name!r}: modality names must be non-empty strings, got {key!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise ParameterError(f"model {name!r}: dimension of modality {key!r} must be a positive int, got {dim!r}")
        dims[key] = int(dim)
    return dims


class FusionModel(EmotionModel):
    """Base class of fusion models: ``forward(inputs, present)``, ``forward_features(inputs, present)``,
    ``forward_head(embedding)``."""

    input_kind = "multimodal"
    config_class = FusionConfig

    def __init__(self, input_dim: Mapping[str, int], num_classes: int, config: FusionConfig,
                 aux_dim: int = 0) -> None:
        nn.Module.__init__(self)  # EmotionModel.__init__ validates an int input_dim
        dims = _check_input_dims(self.name, input_dim)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ParameterError(f"model {self.name!r}: num_classes must be an int >= 2, got {num_classes!r}")
        if aux_dim:
            raise ParameterError(f"model {self.name!r} takes no aux vector; pass it as one more modality instead")
        if not 0.0 <= config.dropout < 1.0:
            raise ParameterError(f"model {self.name!r}: dropout must be in [0, 1), got {config.dropout}")
        self.input_dim, self.num_classes, self.aux_dim, self.config = dims, num_classes, 0, config
        self.input_dims = dims
        self.modalities: tuple[str, ...] = tuple(dims)

    # -- input handling ------------------------------------------------------------------------------------

    def prepare_inputs(self, inputs: Mapping[str, torch.Tensor],
                       present: Mapping[str, torch.Tensor] | None = None
                       ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Validate inputs; return per-modality tensors (absent examples zeroed) and ``present (B, M)`` bool.

        Raises:
            ParameterError: unknown modality, wrong shape, no modality given, or an example with none present.
        """
        if not isinstance(inputs, Mapping) or not inputs:
            raise ParameterError(f"model {self.name!r} expects a dict of modality tensors {list(self.modalities)}, "
                                 f"got {type(inputs).__name__}")
        unknown = sorted(set(inputs) - set(self.modalities))
        if unknown:
            raise ParameterError(f"model {self.name!r}: unknown modality {unknown}; it was built for "
                                 f"{list(self.modalities)}")
        if present is not None:
            unknown = sorted(set(present) - set(self.modalities))
            if unknown:
                raise ParameterError(f"model {self.name!r}: present names unknown modality {unknown}")
        ref = next(iter(inputs.values()))
        if not isinstance(ref, torch.Tensor) or ref.ndim != 2:
            raise ParameterError(f"model {self.name!r}: modality tensors must be (batch, dim)")
        batch, device, dtype = ref.shape[0], ref.device, ref.dtype
        if not dtype.is_floating_point:
            dtype = torch.float32
        xs: dict[str, torch.Tensor] = {}
        masks = []
        for m in self.modalities:
            dim = self.input_dims[m]
            if m in inputs:
                x = inputs[m]
                if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape != (batch, dim):
                    shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                    raise ParameterError(f"model {self.name!r}: modality {m!r} must be ({batch}, {dim}), got {shape}")
                x = x.to(dtype)
                if present is not None and m in present:
                    p = torch.as_tensor(present[m], device=device)
                    if p.shape != (batch,):
                        raise ParameterError(f"model {self.name!r}: present[{m!r}] must have shape ({batch},), "
                                             f"got {tuple(p.shape)}")
                    p = p.bool()
                else:
                    p = torch.ones(batch, dtype=torch.bool, device=device)
                x = torch.where(p[:, None], x, torch.zeros((), dtype=dtype, device=device))
            else:
                if present is not None and m in present and bool(torch.as_tensor(present[m]).any()):
                    raise ParameterError(f"model {self.name!r}: present[{m!r}] is True for some examples but "
                                         f"inputs has no {m!r} tensor")
                x = torch.zeros(batch, dim, dtype=dtype, device=device)
                p = torch.zeros(batch, dtype=torch.bool, device=device)
            xs[m] = x
            masks.append(p)
        mask = torch.stack(masks, dim=1)
        if not bool(mask.any(dim=1).all()):
            bad = int((~mask.any(dim=1)).nonzero()[0, 0])
            raise ParameterError(f"model {self.name!r}: example {bad} has no modality present; "
                                 f"drop it or give it at least one of {list(self.modalities)}")
        return xs, mask

    # -- the two steps -------------------------------------------------------------------------------------

    def forward_features(self, inputs: Mapping[str, torch.Tensor],  # type: ignore[override]
                         present: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, inputs: Mapping[str, torch.Tensor],  # type: ignore[override]
                present: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Class logits ``(batch, num_classes)``."""
        return self.forward_head(self.forward_features(inputs, present))


def modality_projection(in_dim: int, out_dim: int, dropout: float) -> nn.Sequential:
    """LayerNorm -> Linear -> GELU -> Dropout: maps one modality vector to the shared width."""
    return nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, out_dim), nn.GELU(), nn.Dropout(dropout))


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax over ``dim`` restricted to ``mask`` (True = keep); masked entries get exactly 0."""
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=dim)
    return torch.nan_to_num(weights, nan=0.0)


def modality_dropout(present: Mapping[str, torch.Tensor], p: float | Mapping[str, float],
                     generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Randomly hide modalities for training robustness to missing ones.

    Each present modality of each example is dropped with probability ``p``, or ``p[modality]`` when ``p``
    maps modality names to probabilities (a modality not named is never dropped); an example never loses all
    of its present modalities (if every one was drawn, one of them, chosen at random, is kept). Absent
    modalities stay absent.

    Raises:
        ParameterError: for a probability outside ``[0, 1]`` or mismatched mask shapes.
    """
    probs = {n: float(p.get(n, 0.0)) for n in present} if isinstance(p, Mapping) else \
        {n: float(p) for n in present}
    bad = {n: q for n, q in probs.items() if not 0.0 <= q <= 1.0}
    if bad:
        raise ParameterError(f"modality dropout probabilities must be in [0, 1], got {bad}")
    names = list(present)
    if not names:
        return {}
    masks = [torch.as_tensor(present[n]).bool() for n in names]
    if any(m.ndim != 1 or m.shape != masks[0].shape for m in masks):
        raise ParameterError("modality_dropout: every present mask must be a vector of the same length")
    mask = torch.stack(masks, dim=1)
    if not any(probs.values()) or len(names) == 1:
        return {n: mask[:, i].clone() for i, n in enumerate(names)}
    device = mask.device
    draw = torch.rand(mask.shape, generator=generator, device=generator.device if generator is not None else device)
    kept = mask & (draw.to(device) >= torch.tensor([probs[n] for n in names], device=device))
    lost_all = mask.any(dim=1) & ~kept.any(dim=1)
    if bool(lost_all.any()):
        pick = torch.rand(mask.shape, generator=generator,
                          device=generator.device if generator is not None else device).to(device)
        pick = pick.masked_fill(~mask, -1.0).argmax(dim=1)
        restore = torch.zeros_like(mask)
        restore[torch.arange(mask.shape[0], device=device), pick] = True
        kept = kept | (restore & lost_all[:, None])
    return {n: kept[:, i] for i, n in enumerate(names)}
