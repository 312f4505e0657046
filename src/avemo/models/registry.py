"""Model registry (``register_model`` / ``create_model``) and the base class every model follows.

Every model maps its inputs to class logits in two steps, so fusion heads can consume any encoder:
``forward_features(...) -> (batch, embed_dim)`` and ``forward_head(embedding) -> (batch, num_classes)``.

Input kinds:
- ``"frames"``: ``x`` is ``(batch, frames, input_dim)`` with a boolean ``mask`` ``(batch, frames)``, True on
  real frames; an optional ``aux`` vector ``(batch, aux_dim)`` (e.g. eGeMAPS functionals) joins the pooled
  embedding before the head.
- ``"vector"``: ``x`` is ``(batch, input_dim)``; ``mask`` is ignored.
- ``"image"``: ``x`` is ``(batch, input_dim, height, width)`` (``input_dim`` = channels, pixels in [0, 1]);
  ``mask`` is ignored.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import nn

from avemo.errors import ParameterError


@dataclasses.dataclass
class ModelConfig:
    """Base of every model's hyper-parameters; subclasses add fields with defaults."""

    dropout: float = 0.2


class EmotionModel(nn.Module):
    """Base class: subclasses set ``name``, ``config_class``, ``input_kind`` and implement the two steps."""

    name: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    input_kind: ClassVar[str] = "frames"

    def __init__(self, input_dim: int, num_classes: int, config: ModelConfig, aux_dim: int = 0) -> None:
        super().__init__()
        if input_dim <= 0 or num_classes < 2:
            raise ParameterError(f"model {self.name!r}: need input_dim > 0 and num_classes >= 2, "
                                 f"got {input_dim} and {num_classes}")
        self.input_dim, self.num_classes, self.aux_dim, self.config = input_dim, num_classes, aux_dim, config

    @property
    def embed_dim(self) -> int:
        """Size of the embedding ``forward_features`` returns (before ``aux`` is joined)."""
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Encode inputs to one embedding per example, ``(batch, embed_dim)``."""
        raise NotImplementedError

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        """Map an embedding (joined with ``aux`` when the model has ``aux_dim``) to logits."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_head(self.forward_features(x, mask), aux)

    def describe(self) -> dict[str, Any]:
        """JSON-able description that rebuilds this model with :func:`create_model`."""
        return {"name": self.name, "input_dim": self.input_dim, "num_classes": self.num_classes,
                "aux_dim": self.aux_dim, "config": dataclasses.asdict(self.config)}


_REGISTRY: dict[str, type[EmotionModel]] = {}


def register_model(cls: type[EmotionModel]) -> type[EmotionModel]:
    """Class decorator: make a model available to :func:`create_model` under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    import avemo.models.face  # noqa: F401
    import avemo.models.speech  # noqa: F401
    try:
        import avemo.models.fusion  # noqa: F401
    except ModuleNotFoundError:
        pass


def list_models(input_kind: str | None = None) -> list[str]:
    """Names of registered models, optionally only those of one input kind."""
    _load_builtin()
    return sorted(n for n, c in _REGISTRY.items() if input_kind is None or c.input_kind == input_kind)


def model_class(name: str) -> type[EmotionModel]:
    """The registered class for ``name``.

    Raises:
        ParameterError: for an unknown name.
    """
    _load_builtin()
    if name not in _REGISTRY:
        raise ParameterError(f"unknown model {name!r}; choose one of {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def create_model(name: str, input_dim: int, num_classes: int, aux_dim: int = 0,
                 config: dict[str, Any] | None = None, **overrides: Any) -> EmotionModel:
    """Build a registered model from its name and hyper-parameters.

    Raises:
        ParameterError: for an unknown model or hyper-parameter.
    """
    cls = model_class(name)
    values = {**(config or {}), **overrides}
    try:
        cfg = cls.config_class(**values)
    except TypeError:
        fields = [f.name for f in dataclasses.fields(cls.config_class)]
        unknown = sorted(set(values) - set(fields))
        raise ParameterError(f"model {name!r} has no setting(s) {unknown}; its settings are {fields}") from None
    return cls(input_dim, num_classes, cfg, aux_dim=aux_dim)
