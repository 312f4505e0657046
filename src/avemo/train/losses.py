"""Losses for training across corpora whose label sets differ.

:func:`masked_cross_entropy` scores each example only among the classes its corpus has (see
:func:`avemo.data.recipes.corpus_class_mask`): the logits of absent classes are set to -inf before the softmax, so they
get no probability mass and exactly zero gradient — a corpus with no "calm" does not teach that nothing is calm.
:func:`soft_target_cross_entropy` is cross-entropy against a target distribution (label smoothing, crowd votes).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from avemo.errors import ParameterError


def masked_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, class_mask: torch.Tensor,
                         weight: torch.Tensor | None = None, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy over the classes present in each example's corpus.

    Args:
        logits: ``(B, C)``.
        labels: ``(B,)`` class indices.
        class_mask: ``(B, C)`` bool, True where the example's corpus has the class.
        weight: optional ``(C,)`` per-class weights; as in :func:`torch.nn.functional.cross_entropy`, the mean is
            weighted by the weight of each example's label.
        sample_weight: optional ``(B,)`` non-negative weight of each example (e.g. balancing corpora and classes);
            the mean is weighted by it (after ``weight``).

    Returns:
        A scalar tensor; equal to ``F.cross_entropy(logits, labels, weight)`` when the mask is all True.

    Raises:
        ParameterError: for mismatched shapes, an example with no class allowed, or a label outside its mask.
    """
    if logits.dim() != 2:
        raise ParameterError(f"masked_cross_entropy: logits must be (batch, classes), got {tuple(logits.shape)}")
    b, c = logits.shape
    if tuple(labels.shape) != (b,):
        raise ParameterError(f"masked_cross_entropy: labels must be ({b},), got {tuple(labels.shape)}")
    if tuple(class_mask.shape) != (b, c):
        raise ParameterError(f"masked_cross_entropy: class_mask must be ({b}, {c}), got {tuple(class_mask.shape)}")
    if weight is not None and tuple(weight.shape) != (c,):
        raise ParameterError(f"masked_cross_entropy: weight must be ({c},), got {tuple(weight.shape)}")
    mask = class_mask.to(device=logits.device, dtype=torch.bool)
    labels = labels.to(logits.device).long()
    if b and (labels.min() < 0 or labels.max() >= c):
        raise ParameterError(f"masked_cross_entropy: labels must be in 0..{c - 1}, got {labels.tolist()}")
    if not bool(mask.any(dim=1).all()):
        raise ParameterError("masked_cross_entropy: every example needs at least one allowed class; an all-False "
                             "row of class_mask means its corpus has no class of the model's label set")
    outside = ~mask.gather(1, labels[:, None])[:, 0]
    if bool(outside.any()):
        bad = int(outside.nonzero()[0, 0])
        raise ParameterError(f"masked_cross_entropy: example {bad} has label {int(labels[bad])}, which its class_mask "
                             f"excludes (allowed: {mask[bad].nonzero()[:, 0].tolist()}); the corpus's class list "
                             "and its labels disagree")
    masked = logits.masked_fill(~mask, float("-inf"))
    class_weight = None if weight is None else weight.to(logits)
    if sample_weight is None:
        return F.cross_entropy(masked, labels, weight=class_weight)
    if tuple(sample_weight.shape) != (b,) or bool((sample_weight < 0).any()):
        raise ParameterError(f"masked_cross_entropy: sample_weight must be ({b},) non-negative weights")
    w = sample_weight.to(logits) * (1.0 if class_weight is None else class_weight[labels])
    return (F.cross_entropy(masked, labels, reduction="none") * w).sum() / w.sum().clamp_min(1e-12)


def soft_target_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                              class_mask: torch.Tensor | None = None, weight: torch.Tensor | None = None,
                              label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy against a target distribution: ``sum_i -sum_c w_c t'_ic log softmax(logits_i)_c`` divided by
    ``sum_i sum_c w_c t_ic``, with ``t' = (1 - label_smoothing) t + label_smoothing / C``.

    Without ``weight`` (all ``w_c = 1``) this is the batch mean of ``-sum_c t'_c log p_c``. A one-hot target
    gives exactly ``F.cross_entropy(logits, labels, weight=weight, label_smoothing=label_smoothing)``, so training
    on FER+ vote distributions and training on their majority labels are the same loss where the votes agree;
    with ``weight`` a soft target's example counts by the weight of its classes, mixed by the target.

    Args:
        logits: ``(B, C)``.
        target: ``(B, C)`` non-negative, rows summing to 1 (e.g. FER+ vote fractions, a teacher's probabilities).
        class_mask: optional ``(B, C)`` bool; masked classes get -inf logits (their target mass must be 0; not with
            ``label_smoothing``).
        weight: optional ``(C,)`` non-negative class weights (e.g. :func:`avemo.train.trainer.class_weights`).
        label_smoothing: in [0, 1).

    Raises:
        ParameterError: for mismatched shapes, negative targets, rows not summing to 1, target mass on a masked
            class, or a smoothing outside [0, 1).
    """
    if logits.dim() != 2 or tuple(target.shape) != tuple(logits.shape):
        raise ParameterError(f"soft_target_cross_entropy: logits and target must both be (batch, classes), got "
                             f"{tuple(logits.shape)} and {tuple(target.shape)}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ParameterError(f"soft_target_cross_entropy: label_smoothing must be in [0, 1), got {label_smoothing}")
    target = target.to(logits)
    if bool((target < 0).any()) or not torch.allclose(target.sum(1), torch.ones_like(target[:, 0]), atol=1e-4):
        raise ParameterError("soft_target_cross_entropy: target rows must be non-negative and sum to 1")
    if weight is not None and (tuple(weight.shape) != (logits.shape[1],) or bool((weight < 0).any())):
        raise ParameterError(f"soft_target_cross_entropy: weight must be ({logits.shape[1]},) non-negative")
    if class_mask is not None:
        mask = class_mask.to(device=logits.device, dtype=torch.bool)
        if tuple(mask.shape) != tuple(logits.shape):
            raise ParameterError(f"soft_target_cross_entropy: class_mask must be {tuple(logits.shape)}")
        if bool((target[~mask] > 0).any()):
            raise ParameterError("soft_target_cross_entropy: target puts mass on a class its class_mask excludes")
        if label_smoothing:
            raise ParameterError("soft_target_cross_entropy: label_smoothing would put mass on masked classes")
        logits = logits.masked_fill(~mask, float("-inf"))
    smoothed = target if not label_smoothing else (1.0 - label_smoothing) * target + label_smoothing / target.shape[1]
    log_p = F.log_softmax(logits, dim=1)
    if weight is not None:
        w = weight.to(logits)
        # 0 * -inf is nan: masked classes (target 0) contribute nothing.
        per_example = -torch.where(smoothed > 0, smoothed * w * log_p, torch.zeros_like(log_p)).sum(1)
        return per_example.sum() / (target * w).sum().clamp_min(1e-12)
    return -(torch.where(smoothed > 0, smoothed * log_p, torch.zeros_like(log_p))).sum(1).mean()


def group_slices(widths: Sequence[int]) -> list[slice]:
    """The column slice of each output group (heads of ``widths`` side by side), in order."""
    ends = np.cumsum([0, *widths])
    return [slice(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:])]


def grouped_soft_target_cross_entropy(logits: torch.Tensor, target: torch.Tensor, groups: Sequence[int],
                                      weight: torch.Tensor | Sequence[torch.Tensor | None] | None = None,
                                      label_smoothing: float = 0.0) -> torch.Tensor:
    """The sum over output groups of :func:`soft_target_cross_entropy`, each group its own softmax: a network with
    several heads side by side in one output (e.g. FER+'s eight classes, then FER2013's seven).

    Args:
        logits, target: ``(B, sum(groups))``; each group's slice of every target row is a distribution.
        groups: the width of each group, the first being the primary head.
        weight: optional class weights: a tensor weights the first group (``(groups[0],)``) and leaves the others
            unweighted; a sequence gives each group its own (``None`` = unweighted).
        label_smoothing: applied within each group.

    Raises:
        ParameterError: when the widths do not add up to the logits' width, or as
            :func:`soft_target_cross_entropy` for any group.
    """
    if not groups or any(g < 1 for g in groups) or sum(groups) != logits.shape[-1]:
        raise ParameterError(f"grouped_soft_target_cross_entropy: groups {list(groups)} must be positive widths "
                             f"adding up to the {logits.shape[-1]} outputs")
    weights = list(weight) if isinstance(weight, (list, tuple)) else [weight]
    if len(weights) > len(groups):
        raise ParameterError(f"grouped_soft_target_cross_entropy: {len(weights)} class weights for {len(groups)} "
                             "groups")
    weights += [None] * (len(groups) - len(weights))
    total = logits.new_zeros(())
    for part, group_weight in zip(group_slices(groups), weights):
        total = total + soft_target_cross_entropy(logits[:, part], target[:, part], weight=group_weight,
                                                  label_smoothing=label_smoothing)
    return total
