"""The state of a live stream: the faces of the latest frame, the voice of the latest speech window, each
smoothed over time, and their fusion.

Faces: every frame goes through the engine's face stream (detector in video mode, tracker, face model).
Speech: audio is cut into windows of ``window`` seconds every ``step`` seconds (the first when one window has
arrived, and a last, shorter one at the end of the stream); each window is gated by voice activity (Silero
VAD, run on the audio as it arrives: :mod:`avemo.live.vad`): one with less than ``min_speech`` seconds of speech
gives no label ("silence") and the speech model is not run on it. Fusion: the engine's calibrated late fusion of
the smoothed voice and the smoothed main face (the largest), on the face model's classes; with one modality,
that modality's distribution.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from avemo.errors import AvemoError, ParameterError
from avemo.inference.engine import InferenceEngine, PredictOptions
from avemo.inference.face import FaceStream
from avemo.inference.results import PREDICTED
from avemo.inference.speech import MIN_DURATION
from avemo.inference.stream_windows import SpeechWindows
from avemo.io.audio import TARGET_SAMPLING_RATE, resample
from avemo.live.smoothing import ExponentialSmoother
from avemo.live.sources import AudioChunk, Frame
from avemo.live.vad import StreamingVad

#: What ``speech`` is after a window without (enough) speech.
SILENCE = "silence"


@dataclasses.dataclass(frozen=True)
class LiveConfig:
    """Settings of the live analysis: speech ``window`` and hop ``step`` (s), smoothing ``time constant`` (s, 0 =
    none), the least voiced seconds ``min_speech`` a window needs for a speech label, and the VAD probability
    ``vad_threshold`` a 32 ms chunk needs to count as voiced.

    Raises:
        ParameterError: for a window shorter than the speech model's minimum, a step outside (0, window], or
            other values out of range.
    """

    window: float = 2.0
    step: float = 1.0
    smoothing: float = 0.5
    min_speech: float = 0.25
    vad_threshold: float = 0.5

    def __post_init__(self) -> None:
        if not self.window >= MIN_DURATION:
            raise ParameterError(f"--window must be at least {MIN_DURATION} s (the speech model's minimum), got "
                                 f"{self.window}")
        if not 0 < self.step <= self.window:
            raise ParameterError(f"--step must be > 0 and at most --window ({self.window} s), got {self.step}")
        if not 0 <= self.min_speech <= self.window:
            raise ParameterError(f"min_speech must lie in [0, window], got {self.min_speech}")
        if not 0 < self.vad_threshold < 1:
            raise ParameterError(f"vad_threshold must lie in (0, 1), got {self.vad_threshold}")
        ExponentialSmoother(self.smoothing)  # validates the time constant


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A distribution over classes and its top class."""

    probabilities: dict[str, float]

    @property
    def label(self) -> str | None:
        return max(self.probabilities, key=self.probabilities.get) if self.probabilities else None

    @property
    def confidence(self) -> float:
        return max(self.probabilities.values()) if self.probabilities else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "probabilities": {c: round(float(p), 4) for c, p in self.probabilities.items()}}


@dataclasses.dataclass(frozen=True)
class FaceEstimate(Estimate):
    """One face of the latest frame: ``box`` ``(x0, y0, x1, y1)`` in pixels and the tracker's ``track_id``."""

    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    track_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"box": [round(float(v), 1) for v in self.box], **super().to_dict(), "track_id": self.track_id}


@dataclasses.dataclass(frozen=True)
class SpeechEstimate(Estimate):
    """The voice over the window ``start`` to ``end`` (s of stream time), of which ``voiced`` seconds were speech."""

    start: float = 0.0
    end: float = 0.0
    voiced: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "start": round(self.start, 3), "end": round(self.end, 3),
                "voiced": round(self.voiced, 2)}


@dataclasses.dataclass(frozen=True)
class SpeechWindow:
    """One analysed speech window: its times (s), voiced seconds, the estimate (``None`` for silence), the stage
    times in milliseconds and the ``time.perf_counter()`` at which its label was ready."""

    start: float
    end: float
    voiced: float
    estimate: SpeechEstimate | None
    latency_ms: dict[str, float]
    done: float


@dataclasses.dataclass(frozen=True)
class LiveUpdate:
    """What the live loop shows at stream time ``time`` (s): the voice (an estimate, ``"silence"``, or ``None``
    before the first window), the faces of the latest frame, their fusion, and the stage times in milliseconds
    of what this update computed."""

    time: float
    speech: SpeechEstimate | str | None
    faces: list[FaceEstimate]
    fused: Estimate | None
    latency_ms: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        speech = self.speech.to_dict() if isinstance(self.speech, SpeechEstimate) else self.speech
        return {"t": round(self.time, 3), "speech": speech, "faces": [f.to_dict() for f in self.faces],
                "fused": self.fused.to_dict() if self.fused is not None else None,
                "latency_ms": {k: round(float(v), 1) for k, v in self.latency_ms.items()}}


class LiveAnalyser:
    """The per-stream state over a shared :class:`~avemo.inference.engine.InferenceEngine` (see the module
    docstring). Not thread-safe: one loop feeds it."""

    #: Smoothing state of a face not seen for this many seconds is dropped.
    FORGET_FACE = 2.0

    def __init__(self, engine: InferenceEngine, config: LiveConfig = LiveConfig()) -> None:
        self.engine, self.config = engine, config
        self.options = PredictOptions(window=config.window, step=config.step)
        self._windows = SpeechWindows(config.window, config.step)
        self._face_stream: FaceStream | None = None
        self._face_smoothers: dict[int, ExponentialSmoother] = {}
        self._speech_smoother = ExponentialSmoother(config.smoothing)
        self._vad = StreamingVad(history=config.window + 1.0) if engine.speech is not None else None
        self._last_frame: float | None = None
        self.speech: SpeechEstimate | str | None = None
        self.faces: list[FaceEstimate] = []

    def warm_up(self) -> None:
        """Run each model once on dummy input (the first call of a model is several times slower: sessions,
        caches), so the first frame and the first window of the stream are on time."""
        if self.engine.face is not None:
            with FaceStream(self.engine.video_detectors, self.engine.face, "warm-up") as stream:
                stream.add_frame(0.0, np.full((240, 320, 3), 128, np.uint8))
            side = self.engine.face.system.spec.side
            self.engine.face.system.predict_proba(np.full((1, side, side), 128, np.uint8),
                                                  tta=self.engine.face.video_tta)
        if self.engine.speech is not None:
            noise = np.random.default_rng(0).normal(0, 0.05, int(self.config.window * TARGET_SAMPLING_RATE))
            self._vad.add(noise[:TARGET_SAMPLING_RATE // 4])
            self._vad.reset()
            self.engine.predict_signal(noise.astype(np.float32), TARGET_SAMPLING_RATE, self.options)

    # ---- faces ----------------------------------------------------------------------------------------------

    def add_frame(self, frame: Frame) -> dict[str, float] | None:
        """Analyse one frame; returns the stage times (ms), or ``None`` for a frame skipped because its time is not
        at least 1 ms after the previous one's.

        Raises:
            ParameterError: when the engine has no face model, or for a bad image.
        """
        if self.engine.face is None:
            raise ParameterError("this engine has no face model loaded; frames cannot be analysed")
        if self._last_frame is not None and frame.time < self._last_frame + 1e-3:
            return None
        if self._face_stream is None:
            self._face_stream = FaceStream(self.engine.video_detectors, self.engine.face, "live")
        start = time.perf_counter()
        result = self._face_stream.add_frame(frame.time, frame.image)
        self._face_stream.frames.clear()  # a clip keeps its frames for the pooled result; a live stream does not
        self._last_frame = frame.time
        faces = []
        for face in result.faces:
            key = face.track_id if face.track_id is not None else -1
            smoother = self._face_smoothers.setdefault(key, ExponentialSmoother(self.config.smoothing))
            faces.append(FaceEstimate(smoother.update(frame.time, face.probabilities), face.box, face.track_id))
        self._face_smoothers = {k: s for k, s in self._face_smoothers.items()
                                if s.time is not None and frame.time - s.time <= self.FORGET_FACE}
        self.faces = faces
        return {"decode": frame.decode_ms, "face": 1000 * (time.perf_counter() - start)}

    # ---- speech ---------------------------------------------------------------------------------------------

    def add_audio(self, chunk: AudioChunk) -> list[SpeechWindow]:
        """Append one audio chunk (the VAD runs on it at once); returns the speech windows it completed, analysed."""
        if self.engine.speech is None:
            return []
        start = time.perf_counter()
        self._vad.add(_at_16k(chunk.samples, chunk.sampling_rate))
        vad_ms = 1000 * (time.perf_counter() - start)
        return [self._analyse(*w, vad_ms) for w in self._windows.add(chunk.samples, chunk.sampling_rate)]

    def finish(self) -> list[SpeechWindow]:
        """At the end of the stream: the last, shorter speech window (if enough new audio is left)."""
        if self.engine.speech is None:
            return []
        start = time.perf_counter()
        self._vad.flush()
        last = self._windows.flush()
        return [self._analyse(*last, 1000 * (time.perf_counter() - start))] if last is not None else []

    def _analyse(self, start: float, end: float, samples: np.ndarray, vad_ms: float) -> SpeechWindow:
        """Gate a window by its voiced seconds (``vad_ms``: the VAD time of the chunk that completed it), then run
        the speech model on it and smooth."""
        t0 = time.perf_counter()
        voiced = self._vad.voiced(start, end, self.config.vad_threshold)
        signal = _at_16k(samples, self._windows.sampling_rate)
        t1 = time.perf_counter()
        latency = {"vad": vad_ms + 1000 * (t1 - t0)}
        estimate = None
        if voiced >= self.config.min_speech and voiced > 0:
            try:
                result = self.engine.predict_signal(signal, TARGET_SAMPLING_RATE, self.options)
            except AvemoError:  # e.g. too short: no label for this window
                result = None
            latency["speech"] = 1000 * (time.perf_counter() - t1)
            if result is not None and result.status in PREDICTED:
                smoothed = self._speech_smoother.update(end, result.probabilities)
                estimate = SpeechEstimate(smoothed, start, end, voiced)
        if estimate is None:
            self._speech_smoother.reset()  # the next utterance starts afresh
        self.speech = estimate if estimate is not None else SILENCE
        return SpeechWindow(start, end, voiced, estimate, latency, time.perf_counter())

    # ---- fusion ---------------------------------------------------------------------------------------------

    def fused(self) -> Estimate | None:
        """The fusion of the current voice and main face (``None`` when neither has a distribution)."""
        speech = self.speech.probabilities if isinstance(self.speech, SpeechEstimate) else None
        face = self.faces[0].probabilities if self.faces else None
        if self.engine.speech is None or self.engine.face is None:
            present = speech or face
            return Estimate(dict(present)) if present else None
        parts = {}
        if speech:
            parts["speech"] = self.engine.speech_on_fused_classes(speech)
        if face:
            parts["face"] = face
        return Estimate(self.engine.fuse_distributions(parts)) if parts else None

    def update(self, stream_time: float, latency_ms: dict[str, float] | None = None) -> LiveUpdate:
        """The current state as a :class:`LiveUpdate` at ``stream_time`` s (fusion timed and added to the stage
        times)."""
        start = time.perf_counter()
        fused = self.fused()
        latency = dict(latency_ms or {}, fusion=1000 * (time.perf_counter() - start))
        return LiveUpdate(stream_time, self.speech, list(self.faces), fused, latency)

    def close(self) -> None:
        """Give the face detector back to the engine's pool (idempotent)."""
        if self._face_stream is not None:
            self._face_stream.close()
            self._face_stream = None


def _at_16k(samples: np.ndarray, sampling_rate: int) -> np.ndarray:
    samples = np.asarray(samples, np.float32)
    return samples if sampling_rate == TARGET_SAMPLING_RATE else resample(samples, sampling_rate, TARGET_SAMPLING_RATE)
