"""Attention fusion: per-example modality weights from a small scoring network (masked softmax)."""

from __future__ import annotations

import dataclasses
from typing import Mapping

import torch
from torch import nn

from avemo.models.fusion.base import FusionConfig, FusionModel, masked_softmax, modality_projection
from avemo.models.registry import register_model


@dataclasses.dataclass
class AttentionFusionConfig(FusionConfig):
    """Settings of ``fusion_attention``."""

    proj_dim: int = 64  # shared width every modality is projected to
    score_dim: int = 32  # hidden width of the scoring network
    dropout: float = 0.2


@register_model
class AttentionFusion(FusionModel):
    """Project each modality to a shared width ``d``; a scoring network (``Linear -> tanh -> Linear``, shared,
    plus a learned per-modality bias) gives one score per modality; a softmax over the example's present
    modalities turns the scores into weights; the weighted sum of projections is the embedding.

    ``last_weights`` holds the weights ``(B, M)`` of the latest forward pass (detached), in the order of
    ``modalities``, for explanation.
    """

    name = "fusion_attention"
    config_class = AttentionFusionConfig

    def __init__(self, input_dim: Mapping[str, int], num_classes: int, config: AttentionFusionConfig,
                 aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        d = config.proj_dim
        self.projections = nn.ModuleDict({m: modality_projection(self.input_dims[m], d, config.dropout)
                                          for m in self.modalities})
        self.scorer = nn.Sequential(nn.Linear(d, config.score_dim), nn.Tanh(), nn.Linear(config.score_dim, 1))
        self.modality_bias = nn.Parameter(torch.zeros(len(self.modalities)))
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Dropout(config.dropout), nn.Linear(d, num_classes))
        self.last_weights: torch.Tensor | None = None

    @property
    def embed_dim(self) -> int:
        return self.config.proj_dim

    def last_weights_dict(self) -> dict[str, torch.Tensor]:
        """``last_weights`` by modality name (each ``(B,)``); empty before the first forward pass."""
        if self.last_weights is None:
            return {}
        return {m: self.last_weights[:, i] for i, m in enumerate(self.modalities)}

    def forward_features(self, inputs, present=None) -> torch.Tensor:
        xs, mask = self.prepare_inputs(inputs, present)
        z = torch.stack([self.projections[m](xs[m]) for m in self.modalities], dim=1)  # (B, M, d)
        scores = self.scorer(z).squeeze(-1) + self.modality_bias  # (B, M)
        w = masked_softmax(scores, mask, dim=1)
        self.last_weights = w.detach()
        return (w[:, :, None] * z).sum(dim=1)

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding)
