"""avemo: emotion recognition from speech, faces and both, with honest speaker-independent evaluation."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so `import avemo` stays fast and `avemo --help` does not load torch.
    if name in ("EmotionRecognizer", "FaceEmotionRecognizer", "MultimodalRecognizer", "PredictionResult", "Segment",
                "FaceResult"):
        import avemo.inference as inference

        return getattr(inference, name)
    raise AttributeError(f"module 'avemo' has no attribute {name!r}")


__all__ = ["EmotionRecognizer", "FaceEmotionRecognizer", "FaceResult", "MultimodalRecognizer", "PredictionResult",
           "Segment", "__version__"]
