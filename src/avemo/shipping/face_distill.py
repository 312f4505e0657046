"""Distil an ensemble of trained face systems into one face system (see :mod:`avemo.train.distill`).

The teachers score the student's training images once (each with its own test-time augmentation, one pass for all
of a teacher's heads). Each of the student's heads is taught by the teachers that have a head of exactly its
classes (a two-headed FER+ network teaches a student's FER+ head with its FER+ head and its FER2013 head with its
FER2013 head; a seven-class network teaches only the FER2013 head). A head that no teacher has is taught by every
teacher's main head, re-expressed over its classes (:func:`avemo.labels.to_common_label_set`: a fer7 teacher gives
a ferplus8 student no contempt mass). The teaching probabilities are tempered, averaged and mixed with the head's
own label distribution (the vote fractions, else one-hot labels), and the student is trained on that by its own
spec (augmentation, schedule, weight averaging, selection on the main head's validation labels).
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np

from avemo.errors import ParameterError
from avemo.labels import to_common_label_set
from avemo.systems.face import FaceSystem, FaceSystemSpec
from avemo.train.distill import DistillConfig, distillation_targets, ensemble_soft_targets

#: what :func:`exact_head` gives for a teacher without a head of the asked classes
NO_HEAD = object()


def exact_head(member: FaceSystem, classes: Sequence[str]) -> str | None | object:
    """The name of ``member``'s first head (``None`` = its main head) whose classes are exactly ``classes``, else
    :data:`NO_HEAD`."""
    return next((name for name, c in member.heads.items() if tuple(c) == tuple(classes)), NO_HEAD)


def teaching_probs(members: Sequence[FaceSystem], member_heads: Sequence[Mapping[str | None, np.ndarray]],
                   classes: Sequence[str]) -> list[np.ndarray]:
    """The ``(n, len(classes))`` probabilities of the members that teach a head of ``classes``: those with a head
    of exactly these classes; when none has one, every member's main head re-expressed over ``classes``.

    Args:
        members: the teachers.
        member_heads: each member's :meth:`FaceSystem.predict_heads` of the same images.
    """
    exact = [heads[h] for m, heads in zip(members, member_heads) if (h := exact_head(m, classes)) is not NO_HEAD]
    return exact or [to_common_label_set(heads[None], m.classes, tuple(classes)).astype(np.float32)
                     for m, heads in zip(members, member_heads)]


class TeacherEnsemble:
    """Several face systems as one, with the heads ``heads`` (name -> classes; ``None`` = the main head, or a
    class sequence for a main head only): each head is the mean of its teaching members' probabilities
    (:func:`teaching_probs`)."""

    def __init__(self, members: Sequence[FaceSystem], heads: Mapping[str | None, Sequence[str]] | Sequence[str]):
        self.members = list(members)
        heads = heads if isinstance(heads, Mapping) else {None: heads}
        self.heads = {name: tuple(c) for name, c in heads.items()}
        self.classes = self.heads[None]

    def member_proba(self, images: np.ndarray, head: str | None = None) -> list[np.ndarray]:
        """One ``(n, len(heads[head]))`` array per teaching member, for gray crops ``images`` ``(n, side, side)``."""
        return teaching_probs(self.members, [m.predict_heads(images) for m in self.members], self.heads[head])

    def predict_proba(self, images: np.ndarray, head: str | None = None) -> np.ndarray:
        """The teaching members' mean probabilities of head ``head`` ``(n, len(heads[head]))``.

        Raises:
            ParameterError: for a head the ensemble does not have.
        """
        if head not in self.heads:
            raise ParameterError(f"the teacher ensemble has no head {head!r}: {list(self.heads)}")
        return ensemble_soft_targets(self.member_proba(images, head))


def distill_face_system(student: FaceSystemSpec, teachers: Sequence[FaceSystem], images: np.ndarray,
                        labels: np.ndarray, split: tuple[Sequence[int], Sequence[int]],
                        votes: np.ndarray | None = None, config: DistillConfig | None = None,
                        checkpoint_dir: str | os.PathLike | None = None, init_state=None,
                        head_labels: dict[str, np.ndarray] | None = None) -> FaceSystem:
    """Train a :class:`FaceSystem` of spec ``student`` on the rows ``split[0]`` of ``images`` with the teachers'
    soft targets, each head's mixed with its own label distribution (``votes`` ``(n, classes)`` for the main head
    when given, else one-hot ``labels``; one-hot ``head_labels[head]`` for an extra head), selected on the rows
    ``split[1]``; ``config`` defaults to :class:`DistillConfig` ``()`` (temperature 2, teacher weight 0.7).

    Raises:
        ParameterError: without teachers, for ``votes`` of the wrong shape, or extra heads without their labels.
    """
    if not teachers:
        raise ParameterError("distill_face_system: give at least one teacher system")
    config = config or DistillConfig()
    system = FaceSystem(student)
    labels = np.asarray(labels)
    if votes is not None and np.shape(votes) != (len(labels), len(system.classes)):
        raise ParameterError(f"votes must be ({len(labels)}, {len(system.classes)}), got {np.shape(votes)}")
    own = system.joint_targets(labels, votes, head_labels)
    targets = np.array(np.eye(len(system.classes), dtype=np.float32)[labels] if own is None else own, np.float32)
    train = np.asarray(list(split[0]), np.int64)
    member_heads = [t.predict_heads(images[train]) for t in teachers]
    for head, block in system.head_slices.items():
        targets[train, block] = distillation_targets(teaching_probs(teachers, member_heads, system.heads[head]),
                                                     targets[train, block], config)
    system.fit(images, labels, split, checkpoint_dir=checkpoint_dir, init_state=init_state, targets=targets)
    system.info["distilled_from"] = {"teachers": [t.spec.name for t in teachers],
                                     "temperature": config.temperature, "teacher_weight": config.teacher_weight}
    return system
