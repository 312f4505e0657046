"""``cnn_lstm``: a strided convolution front end (the mask is downsampled with it), a BiLSTM, attention pooling."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from avemo.errors import ParameterError
from avemo.models.layers import AttentionPooling, ClassifierHead, MaskedConvBlock, MaskedRNN, check_frames
from avemo.models.registry import EmotionModel, ModelConfig, register_model


@dataclasses.dataclass
class CNNLSTMConfig(ModelConfig):
    channels: tuple[int, ...] = (64, 128)
    strides: tuple[int, ...] = (2, 2)
    kernel_size: int = 5
    hidden: int = 128
    num_layers: int = 1
    attention_hidden: int = 64
    head_hidden: int = 128
    dropout: float = 0.2


@register_model
class CNNLSTMModel(EmotionModel):
    name = "cnn_lstm"
    config_class = CNNLSTMConfig
    input_kind = "frames"

    def __init__(self, input_dim: int, num_classes: int, config: CNNLSTMConfig, aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        channels, strides = [int(c) for c in config.channels], [int(s) for s in config.strides]
        if not channels or len(channels) != len(strides):
            raise ParameterError(f"model 'cnn_lstm' needs channels and strides of the same non-zero length, "
                                 f"got {channels} and {strides}")
        sizes = [input_dim, *channels]
        self.blocks = nn.ModuleList(MaskedConvBlock(a, b, config.kernel_size, s, config.dropout)
                                    for a, b, s in zip(sizes[:-1], sizes[1:], strides))
        self.rnn = MaskedRNN("lstm", channels[-1], config.hidden, config.num_layers, bidirectional=True,
                             dropout=config.dropout)
        self.pool = AttentionPooling(self.rnn.out_dim, 1, config.attention_hidden)
        self.head = ClassifierHead(self.embed_dim, num_classes, aux_dim, config.head_hidden, config.dropout)

    @property
    def embed_dim(self) -> int:
        return self.pool.out_dim

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = check_frames(self.name, x, mask, self.input_dim)
        for block in self.blocks:
            x, mask = block(x, mask)
        return self.pool(self.rnn(x, mask), mask)

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding, aux)
