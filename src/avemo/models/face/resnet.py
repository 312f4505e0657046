"""``face_resnet``: a ResNet-style network (basic residual blocks) trained from scratch on face crops.

A 3x3 stem (no early downsampling, as the crops are small), four stages of basic blocks, the first block of
stages 2-4 halving the resolution; global average pooling and a linear head.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from avemo.errors import ParameterError
from avemo.models.face.common import ImageHead, check_images
from avemo.models.registry import EmotionModel, ModelConfig, register_model


@dataclasses.dataclass
class FaceResNetConfig(ModelConfig):
    widths: tuple[int, ...] = (32, 64, 128, 256)
    blocks_per_stage: tuple[int, ...] = (2, 2, 2, 2)
    dropout: float = 0.3


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


@register_model
class FaceResNet(EmotionModel):
    name = "face_resnet"
    config_class = FaceResNetConfig
    input_kind = "image"

    def __init__(self, input_dim: int, num_classes: int, config: FaceResNetConfig, aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        if aux_dim:
            raise ParameterError("model 'face_resnet' takes no aux inputs; build it with aux_dim=0")
        if not config.widths or len(config.widths) != len(config.blocks_per_stage) or min(config.blocks_per_stage) < 1:
            raise ParameterError("model 'face_resnet': widths and blocks_per_stage need the same, non-zero length "
                                 f"and at least one block per stage, got {config.widths} / {config.blocks_per_stage}")
        widths = [int(w) for w in config.widths]
        self.stem = nn.Sequential(nn.Conv2d(input_dim, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True))
        stages: list[nn.Module] = []
        c_in = widths[0]
        for i, (width, n) in enumerate(zip(widths, config.blocks_per_stage)):
            for k in range(int(n)):
                stages.append(BasicBlock(c_in, width, 2 if (k == 0 and i > 0) else 1))
                c_in = width
        self.stages = nn.Sequential(*stages)
        self._embed_dim = widths[-1]
        self.head = ImageHead(self._embed_dim, num_classes, config.dropout)

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.stages(self.stem(check_images(self.name, x, self.input_dim)))
        return x.mean(dim=(2, 3))

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding)
