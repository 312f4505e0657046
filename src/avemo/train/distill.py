"""Knowledge distillation: train one (fast) student network on the soft targets of a teacher ensemble.

The teacher's target for an example is the mean over the members of their temperature-scaled probabilities,
``mean_m softmax(log p_m / T)`` (``log p`` are logits up to a per-row constant, so this equals
``softmax(z_m / T)`` of the member's logits ``z_m``), mixed with the example's own label distribution (FER+ vote
fractions, or one-hot labels): ``target = teacher_weight * teacher + (1 - teacher_weight) * votes``. The student
is then trained by the ordinary :class:`~avemo.train.trainer.Trainer` on these targets
(:func:`~avemo.train.losses.soft_target_cross_entropy`), with its augmentation, schedule, weight averaging and
selection on validation labels. The teacher is scored once on the un-augmented training images (offline
distillation), so the members need not be loaded while the student trains.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np

from avemo.errors import ParameterError
from avemo.models.registry import EmotionModel
from avemo.train.augment import ImageAugment
from avemo.train.trainer import TrainConfig, Trainer, TrainHistory


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """``temperature`` (> 0) softens the members' probabilities (1 = as they are; Hinton et al. 2015 use 2-20);
    ``teacher_weight`` in [0, 1] is the teacher's share of the target (0 = votes only, 1 = teacher only)."""

    temperature: float = 2.0
    teacher_weight: float = 0.7

    def __post_init__(self) -> None:
        if not self.temperature > 0 or not 0.0 <= self.teacher_weight <= 1.0:
            raise ParameterError(f"DistillConfig needs temperature > 0 and teacher_weight in [0, 1], got "
                                 f"{self.temperature} and {self.teacher_weight}")


def ensemble_soft_targets(member_probs: Sequence[np.ndarray], temperature: float = 1.0) -> np.ndarray:
    """The mean over members of ``softmax(log p / temperature)``: ``(n, C)`` float32 rows summing to 1.

    Args:
        member_probs: one ``(n, C)`` probability array per ensemble member (same rows, same class order).

    Raises:
        ParameterError: for no members, members of different shapes, or a non-positive temperature.
    """
    if not member_probs:
        raise ParameterError("ensemble_soft_targets: give at least one member's probabilities")
    if not temperature > 0:
        raise ParameterError(f"ensemble_soft_targets: temperature must be > 0, got {temperature}")
    shape = np.shape(member_probs[0])
    if len(shape) != 2 or any(np.shape(p) != shape for p in member_probs):
        raise ParameterError(f"ensemble_soft_targets: every member needs the same (n, classes) probabilities, got "
                             f"{[np.shape(p) for p in member_probs]}")
    total = np.zeros(shape, np.float64)
    for probs in member_probs:
        z = np.log(np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)) / temperature
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        total += e / e.sum(axis=1, keepdims=True)
    return (total / len(member_probs)).astype(np.float32)


def mix_targets(teacher: np.ndarray, votes: np.ndarray | None, teacher_weight: float) -> np.ndarray:
    """``teacher_weight * teacher + (1 - teacher_weight) * votes`` (the teacher alone without ``votes``),
    renormalised to rows summing to 1.

    Raises:
        ParameterError: when the shapes differ.
    """
    teacher = np.asarray(teacher, np.float64)
    if votes is None:
        mixed = teacher
    else:
        votes = np.asarray(votes, np.float64)
        if votes.shape != teacher.shape:
            raise ParameterError(f"mix_targets: teacher {teacher.shape} and votes {votes.shape} differ in shape")
        mixed = teacher_weight * teacher + (1.0 - teacher_weight) * votes
    return (mixed / mixed.sum(axis=1, keepdims=True)).astype(np.float32)


def distillation_targets(member_probs: Sequence[np.ndarray], votes: np.ndarray | None = None,
                         config: DistillConfig = DistillConfig()) -> np.ndarray:
    """The student's targets ``(n, C)``: the ensemble's tempered mean mixed with ``votes`` (see the module)."""
    return mix_targets(ensemble_soft_targets(member_probs, config.temperature), votes, config.teacher_weight)


def distill(student: EmotionModel, train_x: Sequence[np.ndarray], train_y: np.ndarray,
            member_probs: Sequence[np.ndarray], votes: np.ndarray | None = None,
            val_x: Sequence[np.ndarray] | None = None, val_y: np.ndarray | None = None, *,
            config: TrainConfig | None = None, distill_config: DistillConfig = DistillConfig(),
            augment: ImageAugment | None = None, checkpoint_dir: str | Path | None = None) -> TrainHistory:
    """Train ``student`` in place on the distillation targets of the training examples; returns its history.

    Args:
        student: an untrained (or warm-started) model with ``C`` outputs.
        train_x, train_y: training examples and their labels (the labels weight the classes, see
            :class:`~avemo.train.trainer.TrainConfig`).
        member_probs: each teacher member's ``(len(train_x), C)`` probabilities of the training examples.
        votes: optional ``(len(train_x), C)`` label distributions mixed into the targets.
        val_x, val_y: the validation set that selects the epoch (scored on labels, as any training).

    Raises:
        ParameterError: for inconsistent shapes.
    """
    targets = distillation_targets(member_probs, votes, distill_config)
    if len(targets) != len(train_x):
        raise ParameterError(f"distill: {len(targets)} teacher rows for {len(train_x)} training examples")
    trainer = Trainer(config, checkpoint_dir, augment=augment)
    return trainer.fit(student, train_x, train_y, val_x, val_y, train_targets=targets)
