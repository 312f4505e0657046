"""Distil an ensemble of trained face systems into one face system (see :mod:`avemo.train.distill`).

The teachers score the student's training images once (each with its own test-time augmentation); their
probabilities are re-expressed over the student's classes (:func:`avemo.labels.to_common_label_set`: a fer7
teacher gives a ferplus8 student no contempt mass), tempered, averaged and mixed with the vote distributions,
and the student is trained on that by its own spec (augmentation, schedule, weight averaging, selection on the
validation labels).
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from avemo.errors import ParameterError
from avemo.labels import to_common_label_set
from avemo.systems.face import FaceSystem, FaceSystemSpec
from avemo.train.distill import DistillConfig, distillation_targets, ensemble_soft_targets


class TeacherEnsemble:
    """Several face systems as one: each member's probabilities re-expressed over ``classes``
    (:func:`~avemo.labels.to_common_label_set`: a fer7 member gives no contempt mass), and their mean."""

    def __init__(self, members: Sequence[FaceSystem], classes: Sequence[str]) -> None:
        self.members, self.classes = list(members), tuple(classes)

    def member_proba(self, images: np.ndarray) -> list[np.ndarray]:
        """One ``(n, len(classes))`` array per member, for gray crops ``images`` ``(n, side, side)``."""
        out = []
        for member in self.members:
            probs = member.predict_proba(images)
            out.append(probs if tuple(member.classes) == self.classes
                       else to_common_label_set(probs, member.classes, self.classes))
        return out

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """The members' mean probabilities ``(n, len(classes))``."""
        return ensemble_soft_targets(self.member_proba(images))


def distill_face_system(student: FaceSystemSpec, teachers: Sequence[FaceSystem], images: np.ndarray,
                        labels: np.ndarray, split: tuple[Sequence[int], Sequence[int]],
                        votes: np.ndarray | None = None, config: DistillConfig | None = None,
                        checkpoint_dir: str | os.PathLike | None = None,
                        init_state=None) -> FaceSystem:
    """Train a :class:`FaceSystem` of spec ``student`` on the rows ``split[0]`` of ``images`` with the teachers'
    soft targets (mixed with ``votes``, ``(n, classes)``, when given), selected on the rows ``split[1]``;
    ``config`` defaults to :class:`DistillConfig` ``()`` (temperature 2, teacher weight 0.7).

    Raises:
        ParameterError: without teachers, or for ``votes`` of the wrong shape.
    """
    if not teachers:
        raise ParameterError("distill_face_system: give at least one teacher system")
    config = config or DistillConfig()
    system = FaceSystem(student)
    train = np.asarray(list(split[0]), np.int64)
    members = TeacherEnsemble(list(teachers), system.classes).member_proba(images[train])
    if votes is not None and np.shape(votes) != (len(labels), len(system.classes)):
        raise ParameterError(f"votes must be ({len(labels)}, {len(system.classes)}), got {np.shape(votes)}")
    targets = np.eye(len(system.classes), dtype=np.float32)[np.asarray(labels)]
    targets[train] = distillation_targets(members, None if votes is None else np.asarray(votes)[train], config)
    system.fit(images, labels, split, checkpoint_dir=checkpoint_dir, init_state=init_state, targets=targets)
    system.info["distilled_from"] = {"teachers": [t.spec.name for t in teachers],
                                     "temperature": config.temperature, "teacher_weight": config.teacher_weight}
    return system
