"""Inference: the engine (loaded systems, shared by threads), stream sessions and typed results. Modules that pull
in the face front end load on first use.

:class:`~avemo.inference.engine.InferenceEngine` is the one entry point for audio, images and videos (one modality
or both). ``EmotionRecognizer``, ``FaceEmotionRecognizer`` and ``MultimodalRecognizer`` are deprecated thin
constructors over it (:mod:`avemo.inference.recognizer`); ``OpenFaceRecognizer`` is a research path that needs
OpenFace's CSV next to each clip (:mod:`avemo.inference.openface`). Running modes: :mod:`avemo.inference.modes`."""
from avemo.inference.modes import RunningMode
from avemo.inference.results import (FaceResult, FrameResult, FusedResult, FusionInfo, Modality, ModalityResult,
                                     PredictionResult, Segment, Status, Timeline)

_LAZY = {"InferenceEngine": "engine", "PredictOptions": "engine", "EmotionRecognizer": "recognizer",
         "FaceEmotionRecognizer": "recognizer", "MultimodalRecognizer": "recognizer", "OpenFaceRecognizer": "openface",
         "StreamOptions": "session", "StreamSession": "session", "WindowResult": "session"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"avemo.inference.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'avemo.inference' has no attribute {name!r}")


__all__ = ["FaceResult", "FrameResult", "FusedResult", "FusionInfo",
           "InferenceEngine", "Modality", "ModalityResult", "OpenFaceRecognizer",
           "PredictOptions", "PredictionResult", "RunningMode", "Segment", "Status", "StreamOptions", "StreamSession",
           "Timeline", "WindowResult"]
