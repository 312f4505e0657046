"""``cnn``: 1-D convolution blocks (Conv1d, BatchNorm1d, ReLU, dropout) over frames, masked pooling."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from avemo.errors import ParameterError
from avemo.models.layers import AttentionPooling, ClassifierHead, MaskedConvBlock, check_frames, masked_mean, \
    masked_mean_std
from avemo.models.registry import EmotionModel, ModelConfig, register_model

POOLINGS = ("mean", "mean_std", "attention")


@dataclasses.dataclass
class CNNConfig(ModelConfig):
    channels: tuple[int, ...] = (64, 128, 128)
    kernel_size: int = 5
    pooling: str = "mean_std"  # "mean", "mean_std" or "attention"
    head_hidden: int = 128
    dropout: float = 0.2


def make_pooling(pooling: str, dim: int, model: str) -> tuple[nn.Module | None, int]:
    """The pooling module (None for the parameter-free ones) and the pooled size.

    Raises:
        ParameterError: for an unknown pooling.
    """
    if pooling == "mean":
        return None, dim
    if pooling == "mean_std":
        return None, 2 * dim
    if pooling == "attention":
        pool = AttentionPooling(dim, 1)
        return pool, pool.out_dim
    raise ParameterError(f"model {model!r}: pooling must be one of {list(POOLINGS)}, got {pooling!r}")


def apply_pooling(pooling: str, pool: nn.Module | None, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if pool is not None:
        return pool(x, mask)
    return masked_mean(x, mask) if pooling == "mean" else masked_mean_std(x, mask)


@register_model
class CNNModel(EmotionModel):
    name = "cnn"
    config_class = CNNConfig
    input_kind = "frames"

    def __init__(self, input_dim: int, num_classes: int, config: CNNConfig, aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        channels = [int(c) for c in config.channels]
        if not channels:
            raise ParameterError("model 'cnn' needs at least one entry in channels")
        sizes = [input_dim, *channels]
        self.blocks = nn.ModuleList(MaskedConvBlock(a, b, config.kernel_size, 1, config.dropout)
                                    for a, b in zip(sizes[:-1], sizes[1:]))
        self.pool, self._embed_dim = make_pooling(config.pooling, channels[-1], self.name)
        self.head = ClassifierHead(self.embed_dim, num_classes, aux_dim, config.head_hidden, config.dropout)

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = check_frames(self.name, x, mask, self.input_dim)
        for block in self.blocks:
            x, mask = block(x, mask)
        return apply_pooling(self.config.pooling, self.pool, x, mask)

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding, aux)
