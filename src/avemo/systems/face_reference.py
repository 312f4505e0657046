"""A face model's adaptation reference: its mean log-probability per class over its validation images (many
people, one picture each), against which :mod:`avemo.inference.face_adaptation` moves one person's faces. Stored in
the face system's ``info`` (:data:`REFERENCE_KEY`) by ``avemo train`` and ``avemo train face-reference``."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping, Sequence

import numpy as np

from avemo.errors import ParameterError

#: Where a face system keeps its reference statistics (``system.info``).
REFERENCE_KEY = "adaptation_reference"
LOG_FLOOR = 1e-6


@dataclasses.dataclass(frozen=True)
class FaceReference:
    """The face model's mean log-probability per class ``(classes,)`` over reference images (its validation split:
    many people, one picture each), and where they came from."""

    mean: np.ndarray
    source: str = ""

    @classmethod
    def from_probabilities(cls, probs: np.ndarray, source: str = "") -> "FaceReference":
        """The reference of the model's probabilities ``(n, classes)`` on reference images.

        Raises:
            ParameterError: for an empty or non-2-D array.
        """
        probs = np.asarray(probs, np.float64)
        if probs.ndim != 2 or not len(probs):
            raise ParameterError(f"reference probabilities must be a non-empty (n, classes) array, got {probs.shape}")
        return cls(np.log(np.maximum(probs, LOG_FLOOR)).mean(0).astype(np.float32), source)

    @classmethod
    def from_info(cls, info: Mapping[str, Any], classes: Sequence[str]) -> "FaceReference | None":
        """The reference a face system stores in its ``info`` (None when it has none)."""
        doc = info.get(REFERENCE_KEY)
        if not doc:
            return None
        if list(doc.get("classes", [])) != list(classes):
            raise ParameterError(f"the face model's adaptation reference is over {doc.get('classes')}, not its "
                                 f"classes {list(classes)}; recompute it (`avemo train face-reference`)")
        return cls(np.asarray(doc["mean"], np.float32), str(doc.get("source", "")))

    def to_info(self, classes: Sequence[str], n_images: int) -> dict[str, Any]:
        return {"classes": list(classes), "mean": [round(float(v), 6) for v in self.mean], "source": self.source,
                "n_images": int(n_images)}


def add_face_reference(model_dir: str | os.PathLike, data_dir: str | os.PathLike, corpus: str = "fer2013",
                       split: str = "PublicTest") -> FaceReference:
    """Compute a saved face system's reference on the ``split`` images of ``corpus`` (its validation split) and
    write it into the system's description file (the weights are not touched); returns it.

    Raises:
        CheckpointError: when ``model_dir`` is not a saved face system.
        CorpusError, ParameterError: when the corpus has no images of ``split``.
    """
    import json

    from avemo.data.face_images import load_face_images
    from avemo.data.recipes import prepare
    from avemo.systems.base import description_file
    from avemo.systems.face import FaceSystem

    system = FaceSystem.load(model_dir)
    recordings = [r for r in prepare(corpus, data_dir) if r.attributes.get("split") == split]
    if not recordings:
        raise ParameterError(f"{data_dir}: no {split} images in the {corpus} corpus to compute the reference on")
    images, kept = load_face_images(recordings, system.spec.side)
    reference = FaceReference.from_probabilities(system.served_proba(images), f"{corpus} {split}")
    path = description_file(model_dir)
    doc = json.loads(path.read_text())
    doc.setdefault("info", {})[REFERENCE_KEY] = reference.to_info(system.served_classes, len(kept))
    path.write_text(json.dumps(doc, indent=1))
    return reference
