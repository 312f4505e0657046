"""``gru``: input projection, a stacked (optionally bidirectional) GRU, mean+std pooling."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from avemo.models.layers import ClassifierHead, MaskedRNN, check_frames, masked_mean_std
from avemo.models.registry import EmotionModel, ModelConfig, register_model


@dataclasses.dataclass
class GRUConfig(ModelConfig):
    proj_dim: int = 128
    hidden: int = 128
    num_layers: int = 2
    bidirectional: bool = True
    head_hidden: int = 128
    dropout: float = 0.2


@register_model
class GRUModel(EmotionModel):
    name = "gru"
    config_class = GRUConfig
    input_kind = "frames"

    def __init__(self, input_dim: int, num_classes: int, config: GRUConfig, aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        self.proj = nn.Sequential(nn.Linear(input_dim, config.proj_dim), nn.LayerNorm(config.proj_dim),
                                  nn.Dropout(config.dropout))
        self.rnn = MaskedRNN("gru", config.proj_dim, config.hidden, config.num_layers,
                             bidirectional=config.bidirectional, dropout=config.dropout)
        self.head = ClassifierHead(self.embed_dim, num_classes, aux_dim, config.head_hidden, config.dropout)

    @property
    def embed_dim(self) -> int:
        return 2 * self.rnn.out_dim

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = check_frames(self.name, x, mask, self.input_dim)
        return masked_mean_std(self.rnn(self.proj(x), mask), mask)

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding, aux)
