"""Feature-level fusion: project each modality, stand in a learned embedding for a missing one, concatenate."""

from __future__ import annotations

import dataclasses
from typing import Mapping

import torch
from torch import nn

from avemo.models.fusion.base import FusionConfig, FusionModel, modality_projection
from avemo.models.registry import register_model


@dataclasses.dataclass
class ConcatFusionConfig(FusionConfig):
    """Settings of ``fusion_concat``."""

    proj_dim: int = 64  # width of each modality's projection
    hidden_dim: int = 128  # hidden width of the MLP head
    dropout: float = 0.2


@register_model
class ConcatFusion(FusionModel):
    """Per-modality LayerNorm + projection; a learned "missing" embedding replaces an absent modality;
    the projections are concatenated (``forward_features``) and an MLP maps them to logits."""

    name = "fusion_concat"
    config_class = ConcatFusionConfig

    def __init__(self, input_dim: Mapping[str, int], num_classes: int, config: ConcatFusionConfig,
                 aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        d = config.proj_dim
        self.projections = nn.ModuleDict({m: modality_projection(self.input_dims[m], d, config.dropout)
                                          for m in self.modalities})
        self.missing = nn.ParameterDict({m: nn.Parameter(0.02 * torch.randn(d)) for m in self.modalities})
        self.head = nn.Sequential(nn.Linear(d * len(self.modalities), config.hidden_dim), nn.GELU(),
                                  nn.Dropout(config.dropout), nn.Linear(config.hidden_dim, num_classes))

    @property
    def embed_dim(self) -> int:
        return self.config.proj_dim * len(self.modalities)

    def forward_features(self, inputs, present=None) -> torch.Tensor:
        xs, mask = self.prepare_inputs(inputs, present)
        parts = []
        for i, m in enumerate(self.modalities):
            z = self.projections[m](xs[m])
            parts.append(torch.where(mask[:, i:i + 1], z, self.missing[m].to(z.dtype).expand_as(z)))
        return torch.cat(parts, dim=1)

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding)
