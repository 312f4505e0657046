"""Inference: the EmotionRecognizer (speech), FaceEmotionRecognizer (faces) and MultimodalRecognizer (audio,
images and videos, fused) APIs, results and sliding windows. The face and multimodal parts load on first use."""
from avemo.inference.recognizer import EmotionRecognizer
from avemo.inference.results import FaceResult, FrameResult, PredictionResult, Segment


def __getattr__(name: str):
    if name == "FaceEmotionRecognizer":
        from avemo.inference.face import FaceEmotionRecognizer

        return FaceEmotionRecognizer
    if name == "MultimodalRecognizer":
        from avemo.inference.multimodal import MultimodalRecognizer

        return MultimodalRecognizer
    raise AttributeError(f"module 'avemo.inference' has no attribute {name!r}")


__all__ = ["EmotionRecognizer", "FaceEmotionRecognizer", "FaceResult", "FrameResult", "MultimodalRecognizer",
           "PredictionResult", "Segment"]
