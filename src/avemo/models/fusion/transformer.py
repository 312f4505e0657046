"""Cross-modal Transformer fusion: modality tokens + a CLS token through a small TransformerEncoder."""

from __future__ import annotations

import dataclasses
from typing import Mapping

import torch
from torch import nn

from avemo.errors import ParameterError
from avemo.models.fusion.base import FusionConfig, FusionModel
from avemo.models.registry import register_model


@dataclasses.dataclass
class TransformerFusionConfig(FusionConfig):
    """Settings of ``fusion_transformer``."""

    d_model: int = 64
    tokens_per_modality: int = 2  # each modality vector is projected to this many d_model tokens
    num_layers: int = 2
    num_heads: int = 4
    ff_dim: int = 128
    dropout: float = 0.1


@register_model
class TransformerFusion(FusionModel):
    """Each modality vector is LayerNorm-ed and projected to ``tokens_per_modality`` tokens of width
    ``d_model``; a modality-type embedding and a within-modality token-position embedding are added; a
    learned CLS token is prepended; a pre-norm TransformerEncoder attends across all tokens with a key
    padding mask hiding absent modalities' tokens; the final CLS token (``forward_features``) goes through
    LayerNorm + Linear to logits. The CLS token is never masked, so every row has a key to attend to."""

    name = "fusion_transformer"
    config_class = TransformerFusionConfig

    def __init__(self, input_dim: Mapping[str, int], num_classes: int, config: TransformerFusionConfig,
                 aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        d, k = config.d_model, config.tokens_per_modality
        if d <= 0 or k <= 0 or config.num_layers <= 0 or config.num_heads <= 0 or d % config.num_heads:
            raise ParameterError(f"model {self.name!r}: need positive d_model, tokens_per_modality, num_layers, "
                                 f"num_heads with d_model divisible by num_heads; got d_model={d}, "
                                 f"tokens_per_modality={k}, num_layers={config.num_layers}, "
                                 f"num_heads={config.num_heads}")
        self.tokenizers = nn.ModuleDict({m: nn.Sequential(nn.LayerNorm(self.input_dims[m]),
                                                          nn.Linear(self.input_dims[m], d * k))
                                         for m in self.modalities})
        self.type_embedding = nn.Parameter(0.02 * torch.randn(len(self.modalities), 1, d))
        self.position_embedding = nn.Parameter(0.02 * torch.randn(1, k, d))
        self.cls_token = nn.Parameter(0.02 * torch.randn(1, 1, d))
        layer = nn.TransformerEncoderLayer(d, config.num_heads, config.ff_dim, config.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, num_classes))

    @property
    def embed_dim(self) -> int:
        return self.config.d_model

    def forward_features(self, inputs, present=None) -> torch.Tensor:
        xs, mask = self.prepare_inputs(inputs, present)
        d, k = self.config.d_model, self.config.tokens_per_modality
        batch = mask.shape[0]
        tokens = [self.cls_token.expand(batch, 1, d)]
        for i, m in enumerate(self.modalities):
            t = self.tokenizers[m](xs[m]).view(batch, k, d)
            tokens.append(t + self.type_embedding[i] + self.position_embedding)
        seq = torch.cat(tokens, dim=1)  # (B, 1 + M*k, d)
        pad = torch.cat([torch.zeros(batch, 1, dtype=torch.bool, device=mask.device),
                         (~mask).repeat_interleave(k, dim=1)], dim=1)
        out = self.encoder(seq, src_key_padding_mask=pad)
        return out[:, 0]

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding)
