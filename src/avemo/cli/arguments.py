"""Arguments several ``avemo`` commands share: the corpus recipes, the data folder, the model options."""

from __future__ import annotations

import argparse

DATA_HELP = "corpus folder in its published layout (e.g. RAVDESS's Actor_XX folders)"

def add_model_arguments(parser: argparse.ArgumentParser, speech: bool = True) -> None:
    """``--model`` and ``--speech-backend`` (speech, unless ``speech=False``) and ``--face-model``: a shipped
    model's name or a folder from ``avemo train``."""
    if speech:
        parser.add_argument("--model", default=None, help="speech model: shipped name or folder from `avemo train`")
        parser.add_argument("--speech-backend", choices=["torch", "onnx-f32", "onnx-int8"], default=None,
                            help="what runs the Whisper speech encoder (default: $AVEMO_SPEECH_BACKEND, else "
                            "onnx-f32, the fastest within 0.5 UA points of torch, the reference; onnx-int8 is about "
                            "1.6x faster and 0.5 points less accurate on unseen corpora)")
    parser.add_argument("--face-model", default=None, help="face model: shipped name or folder from `avemo train`")
