"""A small, self-contained trainer for the multimodal fusion models (``fusion_*``).

AdamW, class-balanced cross-entropy, modality dropout, early stopping on validation UA (unweighted accuracy =
balanced accuracy = mean per-class recall); returns the best model (weights of the best validation epoch).

Data are :class:`MultimodalArrays`: clip-level vectors per modality (``{"speech": (N, Ds), "face": (N, Df)}``),
optional availability masks and integer labels. Validation data must come from training speakers only.
Features are used as given: the models LayerNorm each modality vector, but features with very different
scales per dimension (e.g. eGeMAPS functionals) train better when z-scored with training statistics first.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from avemo.errors import ParameterError
from avemo.models.fusion.base import FusionModel, modality_dropout
from avemo.train.metrics import unweighted_accuracy
from avemo.train.predict import fusion_logits
from avemo.train.trainer import class_weights
from avemo.models.registry import create_model


def _to_tensor(a: Any, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().to(dtype)
    return torch.as_tensor(np.asarray(a), dtype=dtype)


@dataclasses.dataclass
class MultimodalArrays:
    """Clip-level multimodal data: ``inputs[m]`` is ``(N, D_m)``, ``present[m]`` ``(N,)`` bool, ``y`` ``(N,)``.

    ``present=None`` (or a modality missing from it) means present everywhere. Values of absent entries are
    ignored (they may be NaN). Built with :meth:`create`, which validates and converts to tensors.
    """

    inputs: dict[str, torch.Tensor]
    y: torch.Tensor
    present: dict[str, torch.Tensor]

    @classmethod
    def create(cls, inputs: Mapping[str, Any], y: Any, present: Mapping[str, Any] | None = None) -> "MultimodalArrays":
        """Validate and convert.

        Raises:
            ParameterError: for no modality, mismatched lengths, bad labels, or an example with none present.
        """
        if not inputs:
            raise ParameterError("MultimodalArrays needs at least one modality")
        x = {m: _to_tensor(v, torch.float32) for m, v in inputs.items()}
        yy = _to_tensor(y, torch.int64)
        n = len(yy)
        if yy.ndim != 1 or n == 0:
            raise ParameterError(f"labels must be a non-empty vector, got shape {tuple(yy.shape)}")
        if int(yy.min()) < 0:
            raise ParameterError("labels must be non-negative class indices")
        pres: dict[str, torch.Tensor] = {}
        for m, v in x.items():
            if v.ndim != 2 or v.shape[0] != n:
                raise ParameterError(f"modality {m!r} must be ({n}, dim), got {tuple(v.shape)}")
            p = (present or {}).get(m)
            p = torch.ones(n, dtype=torch.bool) if p is None else _to_tensor(p, torch.bool)
            if p.shape != (n,):
                raise ParameterError(f"present[{m!r}] must have shape ({n},), got {tuple(p.shape)}")
            bad = p & ~torch.isfinite(v).all(dim=1)
            if bool(bad.any()):
                raise ParameterError(f"modality {m!r}: example {int(bad.nonzero()[0, 0])} is marked present but "
                                     f"has NaN/inf values; mark it absent or fix the features")
            pres[m] = p
        unknown = sorted(set(present or {}) - set(x))
        if unknown:
            raise ParameterError(f"present names modalities {unknown} that inputs lacks")
        none = ~torch.stack(list(pres.values()), dim=1).any(dim=1)
        if bool(none.any()):
            raise ParameterError(f"example {int(none.nonzero()[0, 0])} has no modality present; drop it")
        return cls(x, yy, pres)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def dims(self) -> dict[str, int]:
        return {m: int(v.shape[1]) for m, v in self.inputs.items()}

    def subset(self, index: Any) -> "MultimodalArrays":
        idx = torch.as_tensor(index)
        return MultimodalArrays({m: v[idx] for m, v in self.inputs.items()}, self.y[idx],
                                {m: p[idx] for m, p in self.present.items()})


@dataclasses.dataclass
class FusionTrainConfig:
    """Settings of :func:`train_fusion_model`."""

    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-2
    patience: int = 15  # epochs without validation-UA improvement before stopping
    # per-example, per-modality drop probability (never drops all); a mapping gives each modality its own
    modality_dropout: float | dict[str, float] = 0.2
    class_balanced: bool = True  # weight the loss by inverse class frequency of the training data
    label_smoothing: float = 0.0
    grad_clip: float | None = 5.0
    seed: int = 0
    device: str = "cpu"

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ParameterError("epochs, batch_size and patience must be >= 1")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ParameterError(f"need lr > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}")
        probs = self.modality_dropout.values() if isinstance(self.modality_dropout, dict) else [self.modality_dropout]
        if not all(isinstance(q, (int, float)) and 0.0 <= q < 1.0 for q in probs):
            raise ParameterError(f"modality_dropout must be in [0, 1) or a mapping of modality names to such "
                                 f"probabilities, got {self.modality_dropout}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ParameterError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")


@dataclasses.dataclass
class FusionTrainResult:
    """The trained model (best validation epoch, in eval mode) and the training record."""

    model: FusionModel
    best_epoch: int
    best_val_ua: float
    history: list[dict[str, float]]


def predict_logits(model: FusionModel, data: MultimodalArrays, batch_size: int = 256) -> torch.Tensor:
    """Logits ``(N, C)`` of a fusion model on ``data`` (eval mode; restores the model's mode)."""
    return fusion_logits(model, data, batch_size)


def evaluate_ua(model: FusionModel, data: MultimodalArrays, batch_size: int = 256) -> float:
    """Unweighted accuracy of ``model`` on ``data``."""
    pred = predict_logits(model, data, batch_size).argmax(dim=1).numpy()
    return unweighted_accuracy(data.y.numpy(), pred)


def train_fusion_model(model: FusionModel, train: MultimodalArrays, val: MultimodalArrays,
                       config: FusionTrainConfig | None = None, verbose: bool = False) -> FusionTrainResult:
    """Train ``model`` on ``train`` with early stopping on ``val`` UA; return it with its best weights loaded.

    Seeds ``torch`` with ``config.seed`` (dropout) and uses a seeded generator for shuffling and modality
    dropout, so a run is reproducible on the same machine.

    Raises:
        ParameterError: if the data do not match the model (modalities, dimensions, label range) or the
            configuration is invalid.
    """
    config = config or FusionTrainConfig()
    config.validate()
    if not isinstance(model, FusionModel):
        raise ParameterError(f"train_fusion_model needs a fusion model, got {type(model).__name__}")
    for name, data in (("train", train), ("val", val)):
        unknown = sorted(set(data.dims) - set(model.modalities))
        if unknown:
            raise ParameterError(f"{name} data have modalities {unknown} the model was not built for "
                                 f"({list(model.modalities)})")
        wrong = {m: d for m, d in data.dims.items() if model.input_dims[m] != d}
        if wrong:
            raise ParameterError(f"{name} data dimensions {wrong} differ from the model's {model.input_dims}")
        if int(data.y.max()) >= model.num_classes:
            raise ParameterError(f"{name} labels reach {int(data.y.max())} but the model has "
                                 f"{model.num_classes} classes")
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    device = torch.device(config.device)
    model.to(device)
    weight = class_weights(train.y.numpy(), model.num_classes).to(device) if config.class_balanced else None
    loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)
    optim = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    best_ua, best_epoch, best_state = -math.inf, 0, copy.deepcopy(model.state_dict())
    history: list[dict[str, float]] = []
    stale = 0
    n = len(train)
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen)
        total, seen = 0.0, 0
        for start in range(0, n, config.batch_size):
            idx = order[start:start + config.batch_size]
            if len(idx) < 2 and n >= 2:  # skip a trailing batch of one example (a noisy step)
                continue
            pres = {m: p[idx] for m, p in train.present.items()}
            if config.modality_dropout:
                pres = modality_dropout(pres, config.modality_dropout, gen)
            logits = model({m: v[idx].to(device) for m, v in train.inputs.items()},
                           {m: p.to(device) for m, p in pres.items()})
            loss = loss_fn(logits, train.y[idx].to(device))
            optim.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optim.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        val_ua = evaluate_ua(model, val)
        history.append({"epoch": float(epoch), "train_loss": total / max(seen, 1), "val_ua": val_ua})
        if verbose:
            print(f"epoch {epoch:3d}  loss {total / max(seen, 1):.4f}  val UA {val_ua:.4f}")
        if val_ua > best_ua + 1e-9:
            best_ua, best_epoch, stale = val_ua, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return FusionTrainResult(model, best_epoch, float(best_ua), history)


def fit_fusion(name: str, train: MultimodalArrays, val: MultimodalArrays, num_classes: int,
               model_config: dict[str, Any] | None = None, train_config: FusionTrainConfig | None = None,
               verbose: bool = False) -> FusionTrainResult:
    """Build the registered fusion model ``name`` for ``train``'s modalities (seeded) and train it.

    Raises:
        ParameterError: for an unknown model or setting, or data that do not fit.
    """
    train_config = train_config or FusionTrainConfig()
    torch.manual_seed(train_config.seed)
    model = create_model(name, train.dims, num_classes, config=model_config)
    if not isinstance(model, FusionModel):
        raise ParameterError(f"model {name!r} is not a fusion model; choose a 'fusion_*' model")
    return train_fusion_model(model, train, val, train_config, verbose=verbose)
