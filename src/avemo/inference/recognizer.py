"""``EmotionRecognizer``: the Python API for emotion prediction from a file or an in-memory signal.

>>> from avemo import EmotionRecognizer
>>> rec = EmotionRecognizer()                      # the shipped speech model
>>> result = rec.predict_file("clip.wav")          # or rec.predict_signal(samples, 16000)
>>> result.emotion, result.probabilities["happy"], result.timeline
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from avemo.errors import AssetNotFoundError, AudioTooShortError, AvemoError
from avemo.inference.results import PredictionResult, Segment
from avemo.inference.sliding import window_bounds
from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio, resample, validate_signal
from avemo.systems.speech import SpeechSystem

#: Where the shipped models live (inside the installed package).
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
DEFAULT_SPEECH_MODEL = "speech-ravdess"
#: Shortest audio the speech model accepts, in seconds.
MIN_DURATION = 0.5
#: Longest input analysed in one pass; longer inputs are the mean of their windows.
MAX_SINGLE_PASS = 30.0


def resolve_model(name_or_path: str | os.PathLike | None) -> Path:
    """A shipped model name (``speech-ravdess``) or a folder written by ``avemo train``.

    Raises:
        AssetNotFoundError: when neither exists.
    """
    candidate = Path(name_or_path or DEFAULT_SPEECH_MODEL)
    for path in (candidate, PRETRAINED_DIR / candidate):
        if (path / "system.json").is_file():
            return path
    shipped = sorted(p.name for p in PRETRAINED_DIR.glob("*") if (p / "system.json").is_file())
    raise AssetNotFoundError(f"model {str(candidate)!r} not found; give a folder written by `avemo train` "
                             f"or a shipped model: {shipped}")


def predict_each(predict_file: Callable[[str | os.PathLike], PredictionResult], paths: Iterable[str | os.PathLike]
                 ) -> Iterator[tuple[str, PredictionResult | AvemoError]]:
    """``(path, result or error)`` for every path: a bad file yields its error instead of stopping the batch."""
    for path in paths:
        try:
            yield str(path), predict_file(path)
        except AvemoError as exc:
            yield str(path), exc


class EmotionRecognizer:
    """Speech emotion recognition with a trained system; load once, predict many times.

    Args:
        speech_model: shipped model name or a folder from ``avemo train`` (default: the shipped RAVDESS model).
        window, step: timeline window length and hop in seconds (inputs longer than ``window`` get a timeline).
        silence_db: inputs whose loudest 25 ms frame is below this level (dBFS) are reported as silence.

    Raises:
        AssetNotFoundError, CheckpointError: when the model cannot be loaded.
    """

    def __init__(self, speech_model: str | os.PathLike | None = None, window: float = 4.0, step: float = 2.0,
                 silence_db: float = -50.0) -> None:
        window_bounds(window, window, step)  # validates window and step at once
        self.model_path = resolve_model(speech_model)
        self.system = SpeechSystem.load(self.model_path)
        self.extractors = self.system.spec.feature_extractors()
        self.window, self.step, self.silence_db = window, step, silence_db

    @property
    def classes(self) -> tuple[str, ...]:
        return self.system.classes

    def predict_file(self, path: str | os.PathLike) -> PredictionResult:
        """Emotion of an audio file or a video's audio track.

        Raises:
            MediaDecodeError: when the file is missing, empty, not media or has no audio.
            AudioTooShortError: when it is shorter than ``MIN_DURATION``.
        """
        signal = load_audio(path, TARGET_SAMPLING_RATE)
        return self.predict_signal(signal, TARGET_SAMPLING_RATE, path=str(path))

    def predict_signal(self, signal: np.ndarray, sampling_rate: int, path: str | None = None) -> PredictionResult:
        """Emotion of an in-memory signal ``(samples,)`` or ``(samples, channels)`` at ``sampling_rate`` Hz.

        Raises:
            ParameterError, MediaDecodeError: for a bad signal (NaN/inf, wrong shape).
            AudioTooShortError: when it is shorter than ``MIN_DURATION``.
        """
        name = path or "signal"
        signal = validate_signal(signal, sampling_rate, name=name)
        if sampling_rate != TARGET_SAMPLING_RATE:
            signal = resample(signal, sampling_rate, TARGET_SAMPLING_RATE)
        duration = len(signal) / TARGET_SAMPLING_RATE
        if duration < MIN_DURATION:
            raise AudioTooShortError(f"{name}: audio is {duration:.2f} s long; the speech model needs at least "
                                     f"{MIN_DURATION} s")
        if self._is_silent(signal):
            return PredictionResult(path, None, {}, duration, status="silence",
                                    message=f"no audible speech (every frame below {self.silence_db:.0f} dBFS)")
        timeline = []
        if duration > self.window:
            for start, end in window_bounds(duration, self.window, self.step):
                piece = signal[int(start * TARGET_SAMPLING_RATE):int(end * TARGET_SAMPLING_RATE)]
                if len(piece) / TARGET_SAMPLING_RATE >= MIN_DURATION and not self._is_silent(piece):
                    timeline.append(Segment(start, end, self._as_dict(self._probabilities([piece])[0])))
        if duration <= MAX_SINGLE_PASS or not timeline:
            probs = self._as_dict(self._probabilities([signal])[0])
        else:
            probs = self._as_dict(np.mean([[s.probabilities[c] for c in self.classes] for s in timeline], axis=0))
        return PredictionResult(path, max(probs, key=probs.get), probs, duration, timeline)

    def predict_files(self, paths: Iterable[str | os.PathLike]) -> Iterator[tuple[str, PredictionResult | AvemoError]]:
        """Predict many files; a bad file yields its error instead of stopping the batch."""
        return predict_each(self.predict_file, paths)

    def _probabilities(self, signals: list[np.ndarray]) -> np.ndarray:
        features = {n: [e.process_signal(s, TARGET_SAMPLING_RATE) for s in signals] for n, e in self.extractors.items()}
        return self.system.predict_proba(features)

    def _as_dict(self, probs: np.ndarray) -> dict[str, float]:
        return {c: float(p) for c, p in zip(self.classes, probs)}

    def _is_silent(self, signal: np.ndarray) -> bool:
        frame = int(0.025 * TARGET_SAMPLING_RATE)
        n = len(signal) // frame
        if n == 0:
            return float(np.sqrt(np.mean(signal ** 2))) < 10 ** (self.silence_db / 20)
        rms = np.sqrt(np.mean(signal[: n * frame].reshape(n, frame) ** 2, axis=1))
        return float(rms.max()) < 10 ** (self.silence_db / 20)
