"""Inference: the EmotionRecognizer API, results and sliding windows."""
from avemo.inference.recognizer import EmotionRecognizer
from avemo.inference.results import PredictionResult, Segment

__all__ = ["EmotionRecognizer", "PredictionResult", "Segment"]
