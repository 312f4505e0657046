"""``MultimodalRecognizer``: one entry point for audio files, images and videos.

Audio goes to the speech model, images to the face model, and videos to both: the face model on the frames
and the speech model on the audio track, fused by calibrated decision-level fusion.

Fusion of real videos: both modalities' probabilities are first put on one label set, FER2013's 7 classes
(the speech model's RAVDESS ``calm`` folds into ``neutral``, as FER2013 has no calm; see
:func:`avemo.labels.to_common_label_set`), each is temperature-scaled with the temperature stored with its
model (fitted on that model's validation data; 1 when none is stored), and the fused distribution is the
normalised weighted geometric mean (a weighted average of log-probabilities). The weights default to equal,
as no labelled audio-visual corpus with real frames was available to fit them on. When one modality is
missing (no face in any frame, no audio track, silence, audio too short) the other one is the result and
``fusion["note"]`` says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from avemo.errors import AvemoError, MediaDecodeError, ParameterError
from avemo.inference.face import FaceEmotionRecognizer, is_image_path
from avemo.inference.recognizer import EmotionRecognizer, predict_each
from avemo.inference.results import PredictionResult, Segment
from avemo.io.video import probe_video
from avemo.labels import to_common_label_set

FUSED_LABEL_SET = "fer7"
MODALITIES = ("auto", "speech", "face")


def fuse_probabilities(parts: dict[str, dict[str, float]], weights: dict[str, float],
                       temperatures: dict[str, float], labels: tuple[str, ...]) -> dict[str, float]:
    """Weighted geometric mean of temperature-scaled distributions that share ``labels``; weights of the
    modalities present are renormalised to sum to 1."""
    names = [n for n in parts if parts[n]]
    if not names:
        raise ParameterError("nothing to fuse: no modality produced probabilities")
    total = sum(weights.get(n, 1.0) for n in names)
    log_p = np.zeros(len(labels))
    for n in names:
        p = np.clip([parts[n].get(c, 0.0) for c in labels], 1e-8, 1.0)
        log_p += weights.get(n, 1.0) / total * np.log(p) / max(temperatures.get(n, 1.0), 1e-3)
    fused = np.exp(log_p - log_p.max())
    fused /= fused.sum()
    return {c: float(v) for c, v in zip(labels, fused)}


class MultimodalRecognizer:
    """Speech, face and audio-visual prediction behind one ``predict_file``; models load on first use.

    Args:
        speech_model, face_model: shipped model names or folders from ``avemo train``.
        window, step: speech timeline window and hop in seconds.
        fps: video frames analysed per second (default 5).
        modality: ``"auto"`` (by file type; videos use both), ``"speech"`` or ``"face"``.
        weights: fusion weight per modality (default equal).
    """

    def __init__(self, speech_model: str | os.PathLike | None = None, face_model: str | os.PathLike | None = None,
                 window: float = 4.0, step: float = 2.0, fps: float | None = None, modality: str = "auto",
                 weights: dict[str, float] | None = None) -> None:
        if modality not in MODALITIES:
            raise ParameterError(f"modality must be one of {list(MODALITIES)}, got {modality!r}")
        if fps is not None and not fps > 0:
            raise ParameterError(f"fps must be > 0, got {fps}")
        self.speech_model, self.face_model = speech_model, face_model
        self.window, self.step, self.fps, self.modality = window, step, fps, modality
        self.weights = dict(weights or {"speech": 0.5, "face": 0.5})
        self._speech: EmotionRecognizer | None = None
        self._face: FaceEmotionRecognizer | None = None
        if modality != "face":
            self.speech  # load now so a bad model name fails at once

    @property
    def speech(self) -> EmotionRecognizer:
        if self._speech is None:
            self._speech = EmotionRecognizer(self.speech_model, window=self.window, step=self.step)
        return self._speech

    @property
    def face(self) -> FaceEmotionRecognizer:
        if self._face is None:
            self._face = FaceEmotionRecognizer(self.face_model)
        return self._face

    def predict_files(self, paths: Iterable[str | os.PathLike]) -> Iterator[tuple[str, PredictionResult | AvemoError]]:
        """Predict many files; a bad file yields its error instead of stopping the batch."""
        return predict_each(self.predict_file, paths)

    def predict_signal(self, signal: np.ndarray, sampling_rate: int) -> PredictionResult:
        """Speech emotion of an in-memory signal ``(samples,)`` or ``(samples, channels)``."""
        return self.speech.predict_signal(signal, sampling_rate)

    def predict_image(self, image: np.ndarray) -> PredictionResult:
        """Facial expression of every face in an in-memory RGB image ``(height, width, 3)``."""
        return self.face.predict_image(image)

    def predict_frames(self, frames: Iterable[tuple[float, np.ndarray]], signal: np.ndarray | None = None,
                       sampling_rate: int | None = None) -> PredictionResult:
        """In-memory video: ``(time in seconds, RGB image)`` frames and, optionally, the audio ``signal`` at
        ``sampling_rate`` Hz; both present gives the fused audio-visual result."""
        face = self.face.predict_frames(frames)
        if signal is None:
            return face
        if sampling_rate is None:
            raise ParameterError("predict_frames: give sampling_rate with the audio signal")
        try:
            speech: PredictionResult | AvemoError = self.speech.predict_signal(signal, sampling_rate)
        except AvemoError as exc:
            speech = exc
        return self.fuse(None, speech, face)

    def predict_file(self, path: str | os.PathLike) -> PredictionResult:
        """Emotion of an audio file, an image or a video (see the module docstring).

        Raises:
            MediaDecodeError: for a missing, empty, corrupt or unsupported file.
        """
        if is_image_path(path):
            if self.modality == "speech":
                raise ParameterError(f"{path}: an image has no audio; drop --modality speech")
            return self.face.predict_file(path)
        if self.modality == "speech":
            return self.speech.predict_file(path)
        info = _probe(path)
        if info is None or not info.has_video:
            if self.modality == "face":
                raise MediaDecodeError(f"{path}: has no video stream, so there is no face to analyse; drop "
                                       "--modality face to use the speech model")
            return self.speech.predict_file(path)
        face = self.face.predict_video(path, fps=self.fps, info=info)
        if self.modality == "face":
            return face
        speech: PredictionResult | AvemoError
        if not info.has_audio:
            speech = MediaDecodeError(f"{path}: has no audio stream")
        else:
            try:
                speech = self.speech.predict_file(path)
            except AvemoError as exc:
                speech = exc
        return self.fuse(str(path), speech, face)

    def fuse(self, path: str | None, speech: PredictionResult | AvemoError, face: PredictionResult) -> PredictionResult:
        """The audio-visual result of one video from its speech and face results (either may have failed)."""
        labels = tuple(self.face.classes)
        temperatures = {"speech": float(self.speech.system.info.get("temperature", 1.0)),
                        "face": float(self.face.system.info.get("temperature", 1.0))}
        parts: dict[str, dict[str, float]] = {}
        modalities: dict[str, PredictionResult] = {"face": face}
        notes = []
        if isinstance(speech, AvemoError):
            notes.append(f"speech unavailable ({' '.join(str(speech).split())}); face only")
            speech_result = PredictionResult(path, None, {}, face.duration, status="unavailable",
                                             message=" ".join(str(speech).split()))
        else:
            speech_result = speech
            if speech.status == "ok":
                parts["speech"] = self._speech_common(speech.probabilities)
            else:
                notes.append(f"speech: {speech.status} ({speech.message}); face only")
        modalities = {"speech": speech_result, "face": face}
        if face.status == "ok":
            parts["face"] = dict(face.probabilities)
        else:
            notes.append(f"face: {face.message or face.status}; speech only")
        duration = max(face.duration, speech_result.duration)
        fusion: dict[str, Any] = {"method": "calibrated decision-level (weighted geometric mean)",
                                  "label_set": FUSED_LABEL_SET, "weights": self.weights,
                                  "temperatures": temperatures, "used": sorted(parts),
                                  "calm": "the speech model's calm is folded into neutral"}
        if notes:
            fusion["note"] = "; ".join(notes)
        if not parts:
            return PredictionResult(path, None, {}, duration, status="no_signal", message=fusion.get("note", ""),
                                    modality="audio-visual", modalities=modalities, fusion=fusion)
        fused = fuse_probabilities(parts, self.weights, temperatures, labels)
        timeline = self._timeline(speech_result, face, labels, temperatures)
        return PredictionResult(path, max(fused, key=fused.get), fused, duration, timeline=timeline,
                                modality="audio-visual", faces=face.faces, box=face.box, modalities=modalities,
                                fusion=fusion)

    def _speech_common(self, probabilities: dict[str, float]) -> dict[str, float]:
        classes = tuple(self.speech.classes)
        p = to_common_label_set(np.array([probabilities[c] for c in classes]), classes, FUSED_LABEL_SET)
        return {c: float(v) for c, v in zip(self.face.classes, p)}

    def _timeline(self, speech: PredictionResult, face: PredictionResult, labels, temperatures) -> list[Segment]:
        """Fused windows: the speech timeline's windows, each fusing the speech window with the mean of the main
        face over the frames inside it; for clips shorter than a speech window, 1-second windows of the face
        frames, each fused with the whole clip's speech result."""
        main = face.faces[0].track_id if face.faces else None
        if speech.timeline:
            windows = [(s.start, s.end, self._speech_common(s.probabilities)) for s in speech.timeline]
        else:  # a clip shorter than one speech window: its whole-clip speech result joins every face window
            whole = self._speech_common(speech.probabilities) if speech.status == "ok" else None
            end = max([f.time for f in face.frames] + [speech.duration, 0.0])
            windows = [(t, min(t + 1.0, end), whole) for t in np.arange(0.0, end, 1.0)] if face.frames else []
        out = []
        for start, stop, speech_p in windows:
            seen = [f for fr in face.frames if start <= fr.time < stop or (stop == start == fr.time)
                    for f in fr.faces if f.track_id == main]
            parts = {}
            if speech_p is not None:
                parts["speech"] = speech_p
            if seen:
                parts["face"] = {c: float(np.mean([f.probabilities[c] for f in seen])) for c in labels}
            if parts:
                out.append(Segment(float(start), float(stop),
                                   fuse_probabilities(parts, self.weights, temperatures, labels)))
        return out


def _probe(path: str | os.PathLike):
    if not Path(path).exists():
        raise MediaDecodeError(f"{path}: file not found; check the path")
    try:
        return probe_video(path)
    except MediaDecodeError:
        return None
