"""``mlp``: for vectors (functionals such as eGeMAPS, or pooled embeddings); standardise them beforehand."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from avemo.models.layers import ClassifierHead, check_vectors
from avemo.models.registry import EmotionModel, ModelConfig, register_model


@dataclasses.dataclass
class MLPConfig(ModelConfig):
    hidden: tuple[int, ...] = (256, 128)
    head_hidden: int = 0
    dropout: float = 0.3


@register_model
class MLPModel(EmotionModel):
    name = "mlp"
    config_class = MLPConfig
    input_kind = "vector"

    def __init__(self, input_dim: int, num_classes: int, config: MLPConfig, aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        layers: list[nn.Module] = [nn.LayerNorm(input_dim)]
        size = input_dim
        for width in (int(h) for h in config.hidden):
            layers += [nn.Linear(size, width), nn.GELU(), nn.Dropout(config.dropout)]
            size = width
        self.body = nn.Sequential(*layers)
        self._embed_dim = size
        self.head = ClassifierHead(size, num_classes, aux_dim, config.head_hidden, config.dropout)

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        check_vectors(self.name, x, self.input_dim)
        return self.body(x)

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding, aux)
