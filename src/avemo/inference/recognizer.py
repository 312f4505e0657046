"""``EmotionRecognizer``: speech emotion from a file or an in-memory signal (the speech-only Python API; the
:class:`~avemo.inference.engine.InferenceEngine` does the same for audio, images and videos together).

>>> from avemo import EmotionRecognizer
>>> rec = EmotionRecognizer()                      # the shipped speech model
>>> result = rec.predict_file("clip.wav")          # or rec.predict_signal(samples, 16000)
>>> result.emotion, result.probabilities["happy"], result.timeline
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator

import numpy as np

from avemo.errors import AvemoError
from avemo.inference.engine import SpeechPredictor, predict_each
from avemo.inference.results import ModalityResult
from avemo.inference.speech import SILENCE_DB, SpeechOptions, analyse_speech
from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio
from avemo.systems.base import SPEECH_KINDS, load_system, resolve_system_dir


class EmotionRecognizer:
    """Speech emotion recognition with a trained system; load once, predict many times (thread-safe).

    Args:
        speech_model: shipped model name or a folder from ``avemo train`` (default: the shipped speech model).
        window, step: timeline window length and hop in seconds (inputs longer than ``window`` get a timeline).
        silence_db: inputs whose loudest 25 ms frame is below this level (dBFS) are reported as silence.
        speech_backend: what runs the Whisper encoder (see :class:`~avemo.inference.engine.InferenceEngine`).

    Raises:
        AssetNotFoundError, CheckpointError: when the model cannot be loaded.
        ParameterError: for a bad window or step.
    """

    def __init__(self, speech_model: str | os.PathLike | None = None, window: float = 4.0, step: float = 2.0,
                 silence_db: float = SILENCE_DB, speech_backend: str | None = None) -> None:
        self.options = SpeechOptions(window, step, silence_db)
        self.model_path = resolve_system_dir(speech_model, kind=SPEECH_KINDS)
        self.predictor = SpeechPredictor(load_system(self.model_path, kind=SPEECH_KINDS), speech_backend)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.predictor.classes

    @property
    def system(self):
        return self.predictor.system

    def predict_file(self, path: str | os.PathLike) -> ModalityResult:
        """Emotion of an audio file or a video's audio track.

        Raises:
            MediaDecodeError: when the file is missing, empty, not media or has no audio.
            AudioTooShortError: when it is shorter than the speech model's minimum.
        """
        signal = load_audio(path, TARGET_SAMPLING_RATE)
        return self.predict_signal(signal, TARGET_SAMPLING_RATE, path=str(path))

    def predict_signal(self, signal: np.ndarray, sampling_rate: int, path: str | None = None) -> ModalityResult:
        """Emotion of an in-memory signal ``(samples,)`` or ``(samples, channels)`` at ``sampling_rate`` Hz.

        Raises:
            ParameterError, MediaDecodeError: for a bad signal (NaN/inf, wrong shape).
            AudioTooShortError: when it is shorter than the speech model's minimum.
        """
        return analyse_speech(signal, sampling_rate, self.predictor, self.classes, self.options, path,
                              self.predictor.abstain_below())

    def predict_files(self, paths: Iterable[str | os.PathLike]) -> Iterator[tuple[str, ModalityResult | AvemoError]]:
        """Predict many files; a bad file yields its error instead of stopping the batch."""
        return predict_each(self.predict_file, paths)
