"""Speech emotion of one signal: the silence check, sliding windows and the whole-input distribution, for any
predictor that maps signals to class probabilities (the speech system, or the speech half of an audio-visual
system). Stateless: safe to call from several threads with one predictor."""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

from avemo.errors import AudioTooShortError, ParameterError
from avemo.inference.results import Modality, ModalityResult, Status, Timeline
from avemo.inference.sliding import window_bounds
from avemo.io.audio import TARGET_SAMPLING_RATE, resample, validate_signal

#: Shortest audio the speech model accepts, in seconds.
MIN_DURATION = 0.5
#: Longest input analysed in one pass; longer inputs are the mean of their windows.
MAX_SINGLE_PASS = 30.0
#: Inputs whose loudest 25 ms frame is below this level (dBFS) hold no audible speech. Quiet real speech peaks
#: lower than one might think: ten RAVDESS clips (actors 9 and 20, calm and sad) peak at -50 to -55 dBFS.
SILENCE_DB = -60.0

#: ``signals at 16 kHz -> (n, classes) probabilities``
ProbabilityFunction = Callable[[list[np.ndarray]], np.ndarray]


@dataclasses.dataclass(frozen=True)
class SpeechOptions:
    """How a signal is analysed: timeline ``window`` and hop ``step`` in seconds, and the silence level in dBFS.

    Raises:
        ParameterError: for a non-positive window or step, or a step longer than the window.
    """

    window: float = 4.0
    step: float = 2.0
    silence_db: float = SILENCE_DB

    def __post_init__(self) -> None:
        window_bounds(self.window, self.window, self.step)  # validates window and step


def is_silent(signal: np.ndarray, silence_db: float = SILENCE_DB, sampling_rate: int = TARGET_SAMPLING_RATE) -> bool:
    """True when the loudest 25 ms frame of ``signal`` is below ``silence_db`` dBFS."""
    frame = int(0.025 * sampling_rate)
    n = len(signal) // frame
    if n == 0:
        return float(np.sqrt(np.mean(signal ** 2))) < 10 ** (silence_db / 20)
    rms = np.sqrt(np.mean(signal[: n * frame].reshape(n, frame) ** 2, axis=1))
    return float(rms.max()) < 10 ** (silence_db / 20)


def prepare_signal(signal: np.ndarray, sampling_rate: int, name: str) -> np.ndarray:
    """A validated mono float32 signal at 16 kHz.

    Raises:
        ParameterError, MediaDecodeError: for a bad signal (NaN/inf, wrong shape, bad rate).
        AudioTooShortError: when it is shorter than :data:`MIN_DURATION`.
    """
    signal = validate_signal(signal, sampling_rate, name=name)
    if sampling_rate != TARGET_SAMPLING_RATE:
        signal = resample(signal, sampling_rate, TARGET_SAMPLING_RATE)
    duration = len(signal) / TARGET_SAMPLING_RATE
    if duration < MIN_DURATION:
        raise AudioTooShortError(f"{name}: audio is {duration:.2f} s long; the speech model needs at least "
                                 f"{MIN_DURATION} s")
    return signal


def analyse_speech(signal: np.ndarray, sampling_rate: int, predict: ProbabilityFunction, classes: Sequence[str],
                   options: SpeechOptions = SpeechOptions(), path: str | None = None,
                   abstain_below: float | None = None) -> ModalityResult:
    """Speech emotion of one signal ``(samples,)`` or ``(samples, channels)`` at ``sampling_rate`` Hz.

    Inputs longer than ``options.window`` get a timeline of windows (silent windows skipped); the whole-input
    distribution is one pass over the input up to :data:`MAX_SINGLE_PASS` seconds, the mean of the windows
    beyond. Silence gives status ``silence``; a whole-input distribution whose top probability is below
    ``abstain_below`` (the model's abstention level, chosen on validation data) gives status ``uncertain``, with the
    distribution and a message that says so.

    Raises:
        ParameterError, MediaDecodeError: for a bad signal.
        AudioTooShortError: when it is shorter than :data:`MIN_DURATION`.
    """
    if not isinstance(options, SpeechOptions):
        raise ParameterError(f"options must be SpeechOptions, got {type(options).__name__}")
    signal = prepare_signal(signal, sampling_rate, path or "signal")
    rate = TARGET_SAMPLING_RATE
    duration = len(signal) / rate
    if is_silent(signal, options.silence_db):
        return ModalityResult(path, {}, duration, Status.SILENCE,
                              f"no audible speech (every frame below {options.silence_db:.0f} dBFS)")
    windows = []
    if duration > options.window:
        for start, end in window_bounds(duration, options.window, options.step):
            piece = signal[int(start * rate):int(end * rate)]
            if len(piece) / rate >= MIN_DURATION and not is_silent(piece, options.silence_db):
                windows.append((start, end, piece))
    timeline = Timeline(classes, [w[0] for w in windows], [w[1] for w in windows],
                        predict([w[2] for w in windows]) if windows else np.zeros((0, len(classes))))
    if duration <= MAX_SINGLE_PASS or not windows:
        probabilities = {c: float(p) for c, p in zip(classes, predict([signal])[0])}
    else:
        probabilities = timeline.mean()
    top = max(probabilities.values())
    if abstain_below is not None and top < abstain_below:
        return ModalityResult(path, probabilities, duration, Status.UNCERTAIN, uncertain_message(top, abstain_below),
                              timeline=timeline, modality=Modality.SPEECH)
    return ModalityResult(path, probabilities, duration, timeline=timeline, modality=Modality.SPEECH)


def uncertain_message(top: float, level: float) -> str:
    """Why a result is ``uncertain``: its top probability against the model's abstention level."""
    return (f"not sure: the top probability {top:.2f} is below {level:.2f}, the level under which the speech model "
            "abstains (chosen on validation corpora); the best guess and every probability are still given")
