"""``face_cnn``: a compact VGG-style network for 48x48 face crops.

Blocks of two 3x3 convolutions (batch norm, ReLU), 2x2 max pooling and dropout; global average pooling; a
linear head. Input ``(batch, channels, height, width)``, any size of at least 16 pixels.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from avemo.errors import ParameterError
from avemo.models.face.common import ImageHead, check_images
from avemo.models.registry import EmotionModel, ModelConfig, register_model


@dataclasses.dataclass
class FaceCNNConfig(ModelConfig):
    channels: tuple[int, ...] = (32, 64, 128, 256)
    convs_per_block: int = 2
    block_dropout: float = 0.1
    dropout: float = 0.4


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


@register_model
class FaceCNN(EmotionModel):
    name = "face_cnn"
    config_class = FaceCNNConfig
    input_kind = "image"

    def __init__(self, input_dim: int, num_classes: int, config: FaceCNNConfig, aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        if aux_dim:
            raise ParameterError("model 'face_cnn' takes no aux inputs; build it with aux_dim=0")
        if not config.channels or config.convs_per_block < 1:
            raise ParameterError("model 'face_cnn' needs at least one block and convs_per_block >= 1")
        layers: list[nn.Module] = []
        c_in = input_dim
        for c_out in config.channels:
            for k in range(config.convs_per_block):
                layers.append(conv_bn_relu(c_in if k == 0 else c_out, c_out))
            layers += [nn.MaxPool2d(2), nn.Dropout2d(config.block_dropout)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self._embed_dim = int(config.channels[-1])
        self.head = ImageHead(self._embed_dim, num_classes, config.dropout)

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.body(check_images(self.name, x, self.input_dim))
        return x.mean(dim=(2, 3))

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding)
