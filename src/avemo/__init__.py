"""avemo: emotion recognition from speech, faces and both, with honest speaker-independent evaluation.

The Python entry point is :class:`avemo.InferenceEngine` (audio, images and videos; one modality or both).
``EmotionRecognizer``, ``FaceEmotionRecognizer`` and ``MultimodalRecognizer`` still import from here but are
deprecated thin constructors over it."""

__version__ = "0.1.0"

#: Importable from here, not listed in ``__all__``: deprecated constructors over the engine.
_DEPRECATED = ("EmotionRecognizer", "FaceEmotionRecognizer", "MultimodalRecognizer")


def __getattr__(name: str):
    # Lazy, so `import avemo` stays fast and `avemo --help` does not load torch.
    if (name in __all__ and name != "__version__") or name in _DEPRECATED:
        import avemo.inference as inference

        return getattr(inference, name)
    raise AttributeError(f"module 'avemo' has no attribute {name!r}")


__all__ = ["FaceResult", "FusedResult", "InferenceEngine", "ModalityResult", "PredictOptions", "PredictionResult",
           "Segment", "Timeline", "__version__"]
