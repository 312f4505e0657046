"""``attention_head``: a small head over frozen pretrained frames (e.g. Whisper encoder, 384-d at 50/s).

LayerNorm + dropout on the frames, a two-layer projection MLP, multi-query attention pooling (``heads`` learned
queries, concatenated), then the classifier head.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from avemo.models.layers import AttentionPooling, ClassifierHead, check_frames
from avemo.models.layers.masking import apply_mask
from avemo.models.registry import EmotionModel, ModelConfig, register_model


@dataclasses.dataclass
class AttentionHeadConfig(ModelConfig):
    proj_dim: int = 128
    heads: int = 4
    attention_hidden: int = 64
    input_dropout: float = 0.1
    head_hidden: int = 128
    dropout: float = 0.3


@register_model
class AttentionHeadModel(EmotionModel):
    name = "attention_head"
    config_class = AttentionHeadConfig
    input_kind = "frames"

    def __init__(self, input_dim: int, num_classes: int, config: AttentionHeadConfig, aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        self.norm = nn.LayerNorm(input_dim)
        self.input_dropout = nn.Dropout(config.input_dropout)
        self.proj = nn.Sequential(nn.Linear(input_dim, config.proj_dim), nn.GELU(), nn.Dropout(config.dropout),
                                  nn.Linear(config.proj_dim, config.proj_dim), nn.GELU())
        self.pool = AttentionPooling(config.proj_dim, config.heads, config.attention_hidden)
        self.head = ClassifierHead(self.embed_dim, num_classes, aux_dim, config.head_hidden, config.dropout)

    @property
    def embed_dim(self) -> int:
        return self.pool.out_dim

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = check_frames(self.name, x, mask, self.input_dim)
        h = self.proj(self.input_dropout(self.norm(apply_mask(x, mask))))
        return self.pool(h, mask)

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding, aux)
