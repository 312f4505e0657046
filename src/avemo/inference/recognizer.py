"""The first API's recognizers, now thin constructors over :class:`~avemo.inference.engine.InferenceEngine`
(deprecated: build the engine directly). Each is the engine, set up for one use:

- ``EmotionRecognizer(speech_model, window, step)``: ``InferenceEngine(speech_model, modalities=("speech",),
  options=PredictOptions("speech", window=window, step=step))``;
- ``FaceEmotionRecognizer(face_model)``: ``InferenceEngine(face_model=face_model, modalities=("face",),
  options=PredictOptions("face"))``;
- ``MultimodalRecognizer(speech_model, face_model, window, step, fps, modality)``:
  ``InferenceEngine(speech_model, face_model, options=PredictOptions(modality, fps, window, step))``.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Mapping

from avemo.inference.engine import InferenceEngine, PredictOptions
from avemo.inference.results import ModalityResult
from avemo.inference.speech import SILENCE_DB


def _deprecated(name: str, instead: str) -> None:
    warnings.warn(f"{name} is deprecated; use {instead}", DeprecationWarning, stacklevel=3)


class EmotionRecognizer(InferenceEngine):
    """Speech only (deprecated): ``InferenceEngine(speech_model, modalities=("speech",), options=PredictOptions(
    "speech", window=window, step=step, silence_db=silence_db), speech_backend=speech_backend)``."""

    def __init__(self, speech_model: str | os.PathLike | None = None, window: float = 4.0, step: float = 2.0,
                 silence_db: float = SILENCE_DB, speech_backend: str | None = None) -> None:
        _deprecated("EmotionRecognizer", 'InferenceEngine(speech_model, modalities=("speech",))')
        super().__init__(speech_model, modalities=("speech",), options=PredictOptions("speech", None, window, step,
                                                                                      silence_db),
                         speech_backend=speech_backend)


class FaceEmotionRecognizer(InferenceEngine):
    """Faces only (deprecated): ``InferenceEngine(face_model=face_model, modalities=("face",),
    options=PredictOptions("face"), detector=detector, max_faces=max_faces, face_tta=tta, video_tta=video_tta)``."""

    def __init__(self, face_model: str | os.PathLike | None = None, detector: str = "auto", max_faces: int = 4,
                 tta: bool | str | None = None, video_tta: bool | str | None = "none") -> None:
        _deprecated("FaceEmotionRecognizer", 'InferenceEngine(face_model=face_model, modalities=("face",))')
        super().__init__(face_model=face_model, modalities=("face",), options=PredictOptions("face"),
                         detector=detector, max_faces=max_faces, face_tta=tta, video_tta=video_tta)

    def predict_video(self, path: str | os.PathLike, fps: float | None = None) -> ModalityResult:
        """The faces of a video, ``fps`` frames a second (default 5): ``predict_file`` with those options."""
        return self.predict_file(path, dataclasses.replace(self.options, fps=fps))


class MultimodalRecognizer(InferenceEngine):
    """Audio, images and videos (deprecated): ``InferenceEngine(speech_model, face_model, modalities,
    options=PredictOptions(modality, fps, window, step), weights=weights)``; ``modalities`` defaults to both models
    for ``modality="auto"``, else that one."""

    def __init__(self, speech_model: str | os.PathLike | None = None, face_model: str | os.PathLike | None = None,
                 window: float = 4.0, step: float = 2.0, fps: float | None = None, modality: str = "auto",
                 weights: Mapping[str, float] | None = None, modalities: tuple[str, ...] | None = None) -> None:
        _deprecated("MultimodalRecognizer", "InferenceEngine(speech_model, face_model, options=PredictOptions(...))")
        options = PredictOptions(modality, fps, window, step)
        if modalities is None:
            modalities = ("speech", "face") if modality == "auto" else (modality,)
        super().__init__(speech_model, face_model, modalities=modalities, options=options, weights=weights)
