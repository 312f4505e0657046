"""``transformer``: linear projection, sinusoidal positions, a Transformer encoder, attention pooling."""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from avemo.errors import ParameterError
from avemo.models.layers import AttentionPooling, ClassifierHead, check_frames
from avemo.models.registry import EmotionModel, ModelConfig, register_model


def sinusoidal_positions(length: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """The ``(length, dim)`` sine/cosine position table of "Attention is all you need"."""
    position = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


@dataclasses.dataclass
class TransformerConfig(ModelConfig):
    d_model: int = 128
    heads: int = 4
    num_layers: int = 2
    ff_dim: int = 256
    attention_hidden: int = 64
    head_hidden: int = 128
    dropout: float = 0.1


@register_model
class TransformerModel(EmotionModel):
    name = "transformer"
    config_class = TransformerConfig
    input_kind = "frames"

    def __init__(self, input_dim: int, num_classes: int, config: TransformerConfig, aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        if config.d_model % config.heads or config.d_model % 2:
            raise ParameterError(f"model 'transformer': d_model ({config.d_model}) must be even and divisible by "
                                 f"heads ({config.heads})")
        self.proj = nn.Linear(input_dim, config.d_model)
        self.input_dropout = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(config.d_model, config.heads, config.ff_dim, config.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.num_layers, norm=nn.LayerNorm(config.d_model),
                                             enable_nested_tensor=False)
        self.pool = AttentionPooling(config.d_model, 1, config.attention_hidden)
        self.head = ClassifierHead(self.embed_dim, num_classes, aux_dim, config.head_hidden, config.dropout)

    @property
    def embed_dim(self) -> int:
        return self.pool.out_dim

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = check_frames(self.name, x, mask, self.input_dim)
        h = self.proj(x) + sinusoidal_positions(x.shape[1], self.config.d_model, x.device)
        h = self.encoder(self.input_dropout(h), src_key_padding_mask=~mask)
        return self.pool(h, mask)

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding, aux)
