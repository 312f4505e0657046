"""Face adaptation without labels: one person's facial-expression distributions corrected by that person's own
running statistics, as the voice is by :mod:`avemo.inference.adaptation`.

Every face has a resting expression of its own (raised brows, a down-turned mouth) that the face network reads as
an emotion in every picture of that person. The representation adapted is the network's output: each face's
log-probabilities ``(classes,)``. A person's running mean of them, shrunk towards the face model's reference mean
(:class:`FaceReference`: the mean over its validation images, one picture per person) as if the reference counted
``tau`` more pictures, is moved onto the reference mean:

    adapted log p = log p - person mean + reference mean, then renormalised.

A person seen in fewer than ``min_recordings`` pictures (or clips, or stream windows) keeps the global result, so
a single image is never changed.

>>> adaptation = engine.face_adaptation()
>>> for result in results_of_one_person:        # image or video results of the engine
...     adaptation.add_result(result)
>>> adapted = [adaptation.adapt_result(r) for r in results_of_one_person]
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Sequence

import numpy as np

from avemo.errors import ParameterError
from avemo.inference.adaptation import RecordingCount
from avemo.inference.results import PREDICTED, ModalityResult
from avemo.systems.face_reference import LOG_FLOOR, FaceReference

#: Pictures (or clips, stream windows) of a person needed before their faces are adapted.
MIN_FACE_RECORDINGS = 2
#: How many pictures the reference mean counts as when a person's mean is shrunk towards it.
DEFAULT_TAU = 4.0
class FaceAdaptation(RecordingCount):
    """Running statistics of one person's face log-probabilities and adaptation with them (module docstring).
    Safe to share between threads.

    Args:
        classes: the face model's classes.
        reference: the face model's :class:`FaceReference`.
        min_recordings: pictures (clips, windows) of the person needed before adapting.
        tau: pictures the reference mean counts as.

    Raises:
        ParameterError: for a reference of the wrong size or bad settings.
    """

    def __init__(self, classes: Sequence[str], reference: FaceReference, min_recordings: int = MIN_FACE_RECORDINGS,
                 tau: float = DEFAULT_TAU) -> None:
        if len(reference.mean) != len(classes):
            raise ParameterError(f"the reference has {len(reference.mean)} classes, the face model {len(classes)}")
        if min_recordings < 2:
            raise ParameterError(f"min_recordings must be >= 2 (one picture is never adapted), got {min_recordings}")
        if tau < 0:
            raise ParameterError(f"tau must be >= 0, got {tau}")
        self.classes, self.reference = tuple(classes), reference
        self.min_recordings, self.tau = int(min_recordings), float(tau)
        self._lock = threading.Lock()
        self._count, self._sum = 0, np.zeros(len(classes))

    def add(self, probs: np.ndarray) -> None:
        """Add the main face's probabilities ``(classes,)`` or ``(n, classes)`` of one or more pictures."""
        logs = np.log(np.maximum(np.atleast_2d(np.asarray(probs, np.float64)), LOG_FLOOR))
        if logs.shape[1] != len(self.classes):
            raise ParameterError(f"face probabilities must have {len(self.classes)} classes, got {logs.shape[1]}")
        with self._lock:
            self._count += len(logs)
            self._sum += logs.sum(0)

    def shift(self) -> np.ndarray:
        """What is added to a face's log-probabilities ``(classes,)``: 0 until :attr:`ready`."""
        with self._lock:
            if self._count < self.min_recordings:
                return np.zeros(len(self.classes))
            ref = self.reference.mean.astype(np.float64)
            person = (self._sum + self.tau * ref) / (self._count + self.tau)
            return ref - person

    def adapt(self, probs: np.ndarray) -> np.ndarray:
        """Adapted probabilities of ``(classes,)`` or ``(n, classes)`` (unchanged until :attr:`ready`)."""
        p = np.asarray(probs, np.float64)
        z = np.log(np.maximum(p, LOG_FLOOR)) + self.shift()
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)

    def add_result(self, result: ModalityResult) -> bool:
        """Add a face result's main face (an image's, or a video's pooled over its frames); False when it has
        none."""
        if result.status not in PREDICTED or not result.probabilities:
            return False
        self.add(np.array([result.probabilities[c] for c in self.classes]))
        return True

    def adapt_result(self, result: ModalityResult, person: str | None = None) -> ModalityResult:
        """A copy of a face result with its main face (and ``faces[0]``) adapted once :attr:`ready`, its message
        saying which head answered."""
        if result.status not in PREDICTED or not result.probabilities:
            return result
        note = (f"face adapted to {'person ' + person if person else 'this person'} ({self.count} pictures)"
                if self.ready else f"face global (adaptation needs {self.min_recordings} pictures of the person)")
        message = f"{result.message}; {note}" if result.message else note
        if not self.ready:
            return dataclasses.replace(result, message=message)
        adapted = self.adapt(np.array([result.probabilities[c] for c in self.classes]))
        probabilities = {c: float(v) for c, v in zip(self.classes, adapted)}
        faces = list(result.faces)
        if faces:
            faces[0] = dataclasses.replace(faces[0], probabilities=dict(probabilities))
        return dataclasses.replace(result, probabilities=probabilities, faces=faces, message=message)

    def adapt_and_learn(self, result: ModalityResult, person: str | None = None) -> ModalityResult:
        """A stream's step: ``result`` adapted with what came before it (:meth:`adapt_result`), then added to the
        statistics (:meth:`add_result`)."""
        adapted = self.adapt_result(result, person)
        self.add_result(result)
        return adapted
