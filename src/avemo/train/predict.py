"""The inference-time forward pass of trained models: input checks, batched logits in eval mode, test-time
augmentation views, softmax probabilities. Prediction goes through here, never through the trainer."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np
import torch

from avemo.errors import ParameterError
from avemo.models.registry import EmotionModel
from avemo.train.augment import ImageAugment
from avemo.train.batching import Batch, collate


def check_examples(model: EmotionModel, arrays: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray | None,
                aux: Sequence[np.ndarray] | np.ndarray | None, what: str) -> tuple[list[np.ndarray], np.ndarray | None,
                                                                                np.ndarray | None]:
    if arrays is None or len(arrays) == 0:
        raise ParameterError(f"{what}: no examples given")
    vector, image = model.input_kind == "vector", model.input_kind == "image"
    out = []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if not (image and a.dtype == np.uint8):
            a = a.astype(np.float32, copy=False)
        if image:
            ok = a.ndim == 3 and a.shape[0] == model.input_dim and min(a.shape[1:]) > 0
        elif vector:
            ok = a.ndim == 1 and a.shape[0] == model.input_dim
        else:
            ok = a.ndim == 2 and a.shape[1] == model.input_dim and a.shape[0] > 0
        if not ok:
            want = f"({model.input_dim},)" if vector else f"({model.input_dim}, height, width)" if image else \
                f"(frames > 0, {model.input_dim})"
            raise ParameterError(f"{what}: example {i} has shape {a.shape}; model {model.name!r} expects {want}")
        out.append(a)
    y = None
    if labels is not None:
        y = np.asarray(labels)
        if y.shape != (len(out),) or not np.issubdtype(y.dtype, np.integer):
            raise ParameterError(f"{what}: need one integer label per example ({len(out)}), got shape {y.shape} "
                                 f"of {y.dtype}")
        if len(y) and (y.min() < 0 or y.max() >= model.num_classes):
            raise ParameterError(f"{what}: labels must be in [0, {model.num_classes}), got {y.min()}..{y.max()}")
        y = y.astype(np.int64)
    a_out = None
    if model.aux_dim > 0:
        if aux is None:
            raise ParameterError(f"{what}: model {model.name!r} has aux_dim={model.aux_dim}; pass aux vectors")
        a_out = np.asarray(aux, dtype=np.float32)
        if a_out.shape != (len(out), model.aux_dim):
            raise ParameterError(f"{what}: aux must have shape ({len(out)}, {model.aux_dim}), got {a_out.shape}")
    elif aux is not None:
        raise ParameterError(f"{what}: aux given but model {model.name!r} was built with aux_dim=0")
    return out, y, a_out


def grouped_softmax(logits: torch.Tensor, groups: Sequence[int] = ()) -> torch.Tensor:
    """Softmax over the last axis, within each output group of ``groups`` (head widths side by side; empty =
    one softmax over all outputs), so each head's slice is its own distribution."""
    if not groups:
        return torch.softmax(logits, dim=-1)
    return torch.cat([torch.softmax(part, dim=-1) for part in torch.split(logits, list(groups), dim=-1)], dim=-1)


def forward_batch(model: EmotionModel, batch: Batch) -> torch.Tensor:
    return model(batch.x, batch.mask, batch.aux)


def eval_logits(model: EmotionModel, batch: Batch, augment: ImageAugment | None, tta: bool,
                 forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 groups: Sequence[int] = ()) -> torch.Tensor:
    """Logits of one batch in eval mode: the centre crop, or with ``tta`` the log of the averaged softmax over
    the test-time views (within each output group of ``groups``, see :func:`grouped_softmax`). ``forward``: runs
    an image model instead of its own forward pass (e.g. ONNX Runtime)."""
    run = (lambda b: forward(b.x)) if forward is not None and model.input_kind == "image" else \
        (lambda b: forward_batch(model, b))
    if augment is None:
        return run(batch).float()
    if not tta:
        return run(dataclasses.replace(batch, x=augment.eval(batch.x))).float()
    views = augment.tta_views(batch.x)  # one forward pass over all views (much faster for small batches)
    logits = run(dataclasses.replace(batch, x=torch.cat(views))).float()
    probs = grouped_softmax(logits, groups).view(len(views), batch.x.shape[0], -1).mean(0)
    return torch.log(probs.clamp_min(1e-12))


def predict_logits(model: EmotionModel, arrays: list[np.ndarray], aux: np.ndarray | None,
                    batch_size: int, augment: ImageAugment | None = None, tta: bool = False,
                    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
                    groups: Sequence[int] = ()) -> torch.Tensor:
    was_training = model.training
    model.eval()
    order = np.argsort([a.shape[0] for a in arrays], kind="stable") if model.input_kind == "frames" \
        else np.arange(len(arrays))
    chunks = []
    try:
        with torch.no_grad():
            for start in range(0, len(arrays), batch_size):
                idx = order[start:start + batch_size]
                batch = collate([arrays[i] for i in idx], aux=None if aux is None else aux[idx])
                chunks.append(eval_logits(model, batch, augment, tta, forward, groups))
    finally:
        model.train(was_training)
    logits = torch.cat(chunks)
    result = torch.empty_like(logits)
    result[torch.from_numpy(order)] = logits
    return result


def predict_proba(model: EmotionModel, arrays: Sequence[np.ndarray],
                  aux: Sequence[np.ndarray] | np.ndarray | None = None, batch_size: int = 64,
                  augment: ImageAugment | None = None, tta: bool = False,
                  forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
                  groups: Sequence[int] = ()) -> np.ndarray:
    """Softmax probabilities ``(n, num_classes)`` (float32) in the order of ``arrays``; runs in eval mode.
    ``groups``: the widths of heads side by side in the output, each its own softmax (:func:`grouped_softmax`).
    Image models trained with ``augment`` see its centre crop, or with ``tta`` its averaged test-time views;
    ``forward`` (images -> logits) runs an image model in place of its own forward pass, e.g.
    :class:`~avemo.models.onnx_runtime.OnnxForward`.

    Raises:
        ParameterError: for examples or aux vectors of the wrong shape.
    """
    if batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    arrays_, _, aux_ = check_examples(model, arrays, None, aux, "predict_proba")
    logits = predict_logits(model, arrays_, aux_, batch_size, augment, tta, forward, groups)
    return grouped_softmax(logits, groups).numpy()


@torch.no_grad()
def fusion_logits(model: Any, data: Any, batch_size: int = 256) -> torch.Tensor:
    """Logits ``(N, C)`` of a fusion model on multimodal data (an object with ``inputs`` and ``present``
    mappings of tensors, such as :class:`~avemo.train.fusion_trainer.MultimodalArrays`), in eval mode; the
    model's mode is restored."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n = len(next(iter(data.inputs.values())))
    out = []
    try:
        for start in range(0, n, batch_size):
            sl = slice(start, start + batch_size)
            out.append(model({m: v[sl].to(device) for m, v in data.inputs.items()},
                             {m: p[sl].to(device) for m, p in data.present.items()}).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)
