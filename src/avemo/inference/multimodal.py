"""``MultimodalRecognizer``: the :class:`~avemo.inference.engine.InferenceEngine` with the settings of one use
(window, step, fps, modality) given at construction, as the command line uses it.

>>> from avemo import MultimodalRecognizer
>>> av = MultimodalRecognizer()                     # the shipped speech and face models
>>> result = av.predict_file("talk.mp4")            # speech + faces, fused
>>> result.emotion, result.modalities["speech"].emotion, result.modalities["face"].emotion
"""

from __future__ import annotations

import os
from typing import Mapping

from avemo.inference.engine import InferenceEngine, PredictOptions


class MultimodalRecognizer(InferenceEngine):
    """Audio, images and videos behind one ``predict_file`` (see :class:`InferenceEngine`).

    Args:
        speech_model, face_model: shipped model names or folders from ``avemo train``.
        window, step: speech timeline window and hop in seconds.
        fps: video frames analysed per second (default 5).
        modality: ``"auto"`` (by file type; videos use both; both models are loaded), ``"speech"`` or ``"face"``
            (only that model is loaded).
        weights: fusion weight per modality (default equal).
    """

    def __init__(self, speech_model: str | os.PathLike | None = None, face_model: str | os.PathLike | None = None,
                 window: float = 4.0, step: float = 2.0, fps: float | None = None, modality: str = "auto",
                 weights: Mapping[str, float] | None = None, modalities: tuple[str, ...] | None = None) -> None:
        options = PredictOptions(modality, fps, window, step)
        if modalities is None:
            modalities = ("speech", "face") if modality == "auto" else (modality,)
        super().__init__(speech_model, face_model, modalities=modalities, options=options, weights=weights)
