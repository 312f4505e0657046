"""Inference: the engine (loaded systems, shared by threads), its running modes, stream sessions, typed results,
and the single-modality Python APIs. Modules that pull in the face front end load on first use."""
from avemo.inference.modes import RunningMode
from avemo.inference.results import (FaceResult, FrameResult, FusedResult, FusionInfo, Modality, ModalityResult,
                                     PredictionResult, Segment, Status, Timeline)

_LAZY = {"InferenceEngine": "engine", "PredictOptions": "engine", "EmotionRecognizer": "recognizer",
         "FaceEmotionRecognizer": "face", "MultimodalRecognizer": "multimodal", "OpenFaceRecognizer": "openface",
         "StreamOptions": "session", "StreamSession": "session", "WindowResult": "session"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"avemo.inference.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'avemo.inference' has no attribute {name!r}")


__all__ = ["EmotionRecognizer", "FaceEmotionRecognizer", "FaceResult", "FrameResult", "FusedResult", "FusionInfo",
           "InferenceEngine", "Modality", "ModalityResult", "MultimodalRecognizer", "OpenFaceRecognizer",
           "PredictOptions", "PredictionResult", "RunningMode", "Segment", "Status", "StreamOptions", "StreamSession",
           "Timeline", "WindowResult"]
