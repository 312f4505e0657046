"""avemo: emotion recognition from speech, faces and both, with honest speaker-independent evaluation."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so `import avemo` stays fast and `avemo --help` does not load torch.
    if name in __all__ and name != "__version__":
        import avemo.inference as inference

        return getattr(inference, name)
    raise AttributeError(f"module 'avemo' has no attribute {name!r}")


__all__ = ["EmotionRecognizer", "FaceEmotionRecognizer", "FaceResult", "FusedResult", "InferenceEngine",
           "ModalityResult", "MultimodalRecognizer", "PredictOptions", "PredictionResult", "Segment", "Timeline",
           "__version__"]
