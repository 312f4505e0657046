"""The inference engine: the trained systems loaded once, explicitly, and shared by every caller.

An :class:`InferenceEngine` holds stateless predictors (the speech system with its feature extractors, the face
classifier) and pools of face detectors; it is safe to call from several threads at once, which is what a
server, a batch runner or a web demo needs. Per-stream state (a video's face tracker, a live audio buffer) lives
in a session (:meth:`InferenceEngine.open_session`, :class:`avemo.inference.session.StreamSession`).

Running modes (:class:`~avemo.inference.modes.RunningMode`, in the manner of MediaPipe Tasks): an image
(``predict_image``), a video (``predict_frames``) or an audio clip (``predict_signal``) returns one typed result, and
:meth:`~InferenceEngine.predict_file` picks one of the three from the file; a stream (``open_session``) returns a
result each time a window completes, to its caller and to an optional callback.

Fusion of a video's two modalities: both are put on FER2013's 7 classes (the speech model's RAVDESS ``calm``
folds into ``neutral``, as FER2013 has no calm; :func:`avemo.labels.to_common_label_set`), each is
temperature-scaled with the temperature stored with its model (fitted on that model's validation data; 1 when
none is stored), and they are combined by a weighted mean of log-probabilities
(:func:`avemo.models.fusion.late.weighted_late_fusion`). The weights default to equal, as no labelled
audio-visual corpus with real frames was available to fit them on. When one modality is missing (no face in any
frame, no audio track, silence, audio too short) the other one is the result and ``fusion.note`` says so.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from avemo.errors import AvemoError, MediaDecodeError, ParameterError
from avemo.inference.detectors import DetectorPool
from avemo.inference.predictor import SystemPredictor
from avemo.inference.face import DEFAULT_VIDEO_FPS, FaceClassifier, analyse_frames, analyse_image
from avemo.inference.modes import RunningMode
from avemo.inference.results import (FaceResult, FusedResult, FusionInfo, Modality, ModalityResult,
                                     PREDICTED, PredictionResult, Status, Timeline)
from avemo.inference.speech import SILENCE_DB, SpeechOptions, analyse_speech
from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio
from avemo.io.image import load_image
from avemo.io.media import MediaFile, MediaInfo, guess_kind, open_media, probe_media
from avemo.io.video import read_video
from avemo.labels import to_common_label_set
from avemo.models.fusion.late import weighted_late_fusion
from avemo.systems.base import SPEECH_KINDS, load_system
from avemo.systems.speech import SpeechSystem

#: The label set audio-visual results are given in.
FUSED_LABEL_SET = "fer7"
MODALITY_CHOICES = ("auto", "speech", "face")


@dataclasses.dataclass(frozen=True)
class PredictOptions:
    """Per-call settings: ``modality`` (``auto``: by file type, videos use both; ``speech``; ``face``), video
    frames analysed per second ``fps`` (default 5), the speech timeline ``window`` and hop ``step`` in seconds,
    and the silence level in dBFS.

    Raises:
        ParameterError: for an unknown modality, a non-positive fps, or a bad window or step.
    """

    modality: str = "auto"
    fps: float | None = None
    window: float = 4.0
    step: float = 2.0
    silence_db: float = SILENCE_DB

    def __post_init__(self) -> None:
        if self.modality not in MODALITY_CHOICES:
            raise ParameterError(f"modality must be one of {list(MODALITY_CHOICES)}, got {self.modality!r}")
        if self.fps is not None and not self.fps > 0:
            raise ParameterError(f"fps must be > 0, got {self.fps}")
        SpeechOptions(self.window, self.step, self.silence_db)  # validates window and step

    @property
    def speech(self) -> SpeechOptions:
        return SpeechOptions(self.window, self.step, self.silence_db)

    @property
    def video_fps(self) -> float:
        return self.fps or DEFAULT_VIDEO_FPS


class SpeechPredictor(SystemPredictor):
    """A speech system with its feature extractors: ``predictor(signals at 16 kHz) -> (n, classes)``. Stateless."""

    def __init__(self, system: SpeechSystem, backend: str | None = None) -> None:
        from avemo.features.audio.whisper_onnx import with_backend

        super().__init__(system)
        self.extractors = with_backend(system.feature_extractors(), backend)

    def features(self, signals: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
        """``{key: [array per signal]}``: every extractor's features of 16 kHz ``signals``, one signal at a time (so
        extractors of one encoder share its pass: :func:`~avemo.features.audio.whisper_layers.hidden_states`)."""
        from avemo.features.audio.whisper_layers import one_encoder_pass

        out: dict[str, list[np.ndarray]] = {key: [] for key in self.extractors}
        for s in signals:
            with one_encoder_pass():
                for key, e in self.extractors.items():
                    out[key].append(e.process_signal(s, TARGET_SAMPLING_RATE))
        return out

    def __call__(self, signals: list[np.ndarray]) -> np.ndarray:
        return self.system.predict_proba(self.features(signals))


def predict_each(predict_file, paths: Iterable[str | os.PathLike]
                 ) -> Iterator[tuple[str, PredictionResult | AvemoError]]:
    """``(path, result or error)`` for every path: a bad file yields its error instead of stopping the batch."""
    for path in paths:
        try:
            yield str(path), predict_file(path)
        except AvemoError as exc:
            yield str(path), exc


def needed_modalities(paths: Sequence[str | os.PathLike], modality: str = "auto") -> tuple[str, ...]:
    """The modalities an engine must load to predict ``paths`` (audio files need only speech, images only faces)."""
    if modality != "auto":
        return (modality,)
    kinds = {guess_kind(p) for p in paths}  # by name: nothing is opened before the models are loaded
    speech = any(k != "image" for k in kinds)
    face = any(k != "audio" for k in kinds)
    return tuple(m for m, used in (("speech", speech), ("face", face)) if used) or ("speech",)


class InferenceEngine:
    """The loaded speech and face systems behind one ``predict_file`` for audio, images and videos.

    Args:
        speech_model, face_model: shipped model names or folders from ``avemo train`` (default: the shipped ones).
        modalities: which systems to load (``("speech", "face")``; a server loads both, a speech-only batch
            only ``("speech",)``).
        options: default per-call settings (see :class:`PredictOptions`).
        weights: fusion weight per modality (default equal).
        detector, max_faces: the face detector (``auto``: MediaPipe, else OpenCV Haar) and most faces per image.
        face_tta, video_tta: test-time augmentation of images and of video frames (see
            :class:`avemo.inference.face.FaceClassifier`).
        speech_backend: what runs the speech model's Whisper encoder (``torch``, ``onnx-f32``, ``onnx-int8``;
            ``None``: :func:`avemo.features.audio.whisper_onnx.default_backend`).

    Raises:
        AssetNotFoundError, CheckpointError: when a model or the face detector cannot be loaded.
        ParameterError: for a bad option.
    """

    def __init__(self, speech_model: str | os.PathLike | None = None, face_model: str | os.PathLike | None = None,
                 modalities: Sequence[str] = ("speech", "face"), options: PredictOptions = PredictOptions(),
                 weights: Mapping[str, float] | None = None, detector: str = "auto", max_faces: int = 4,
                 face_tta: bool | str | None = None, video_tta: bool | str | None = "none",
                 speech_backend: str | None = None) -> None:
        unknown = sorted(set(modalities) - {"speech", "face"})
        if unknown or not modalities:
            raise ParameterError(f"modalities must be a non-empty subset of ['speech', 'face'], got {list(modalities)}")
        if not isinstance(options, PredictOptions):
            raise ParameterError(f"options must be PredictOptions, got {type(options).__name__}")
        if max_faces < 1:
            raise ParameterError(f"max_faces must be >= 1, got {max_faces}")
        self.options = options
        self.weights = dict(weights or {"speech": 0.5, "face": 0.5})
        self.speech: SpeechPredictor | None = None
        self.face: FaceClassifier | None = None
        if "speech" in modalities:
            self.speech = SpeechPredictor(load_system(speech_model, kind=SPEECH_KINDS), speech_backend)
        if "face" in modalities:
            system = load_system(face_model, kind="face")
            system.prepare()
            self.face = FaceClassifier(system, face_tta, video_tta)
            self.image_detectors = DetectorPool(detector, max_faces, "image")
            self.video_detectors = DetectorPool(detector, max_faces, "video")
            self.image_detectors.warm_up()

    # ---- what is loaded ----------------------------------------------------------------------------------

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m, p in (("speech", self.speech), ("face", self.face)) if p is not None)

    def describe(self) -> dict[str, Any]:
        """What the engine holds: each loaded system's description (classes, versions, figures)."""
        out: dict[str, Any] = {"modalities": list(self.modalities), "fusion": {"label_set": FUSED_LABEL_SET,
                                                                                "weights": dict(self.weights)}}
        if self.speech is not None:
            out["speech"] = self.speech.system.describe()
        if self.face is not None:
            out["face"] = self.face.system.describe()
        return out

    def _need(self, modality: str):
        """The predictor of ``modality``; raises ParameterError (one line) when it is not loaded."""
        predictor = self.speech if modality == "speech" else self.face
        if predictor is None:
            raise ParameterError(f"this engine has no {modality} model loaded; create it with "
                                 f"modalities including {modality!r}")
        return predictor

    def close(self) -> None:
        """Free the face detectors (the engine can still predict afterwards; it makes new ones)."""
        if self.face is not None:
            self.image_detectors.close()
            self.video_detectors.close()

    def __enter__(self) -> "InferenceEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- files and in-memory inputs ---------------------------------------------------------------------

    def predict_files(self, paths: Iterable[str | os.PathLike], options: PredictOptions | None = None
                      ) -> Iterator[tuple[str, PredictionResult | AvemoError]]:
        """Predict many files; a bad file yields its error instead of stopping the batch."""
        return predict_each(lambda path: self.predict_file(path, options), paths)

    def predict_file(self, path: str | os.PathLike, options: PredictOptions | None = None,
                     name: str | None = None, info: MediaInfo | None = None) -> PredictionResult:
        """Emotion of an audio file, an image or a video (videos: both modalities, fused), in the running mode
        :meth:`running_mode` picks from the file; ``name`` is what the result calls the input (default: the path);
        ``info``: the file's :func:`~avemo.io.media.probe_media`, when the caller has it (the header is then not
        read again).

        What the file is comes from :func:`~avemo.io.media.probe_media`; a video is opened once, its frames and
        audio track decoded in one pass (:func:`~avemo.io.video.read_video`).

        Raises:
            MediaDecodeError: for a missing, empty, corrupt or unsupported file.
            AudioTooShortError: for audio shorter than the speech model's minimum.
            ParameterError: when the file's modality does not fit ``options.modality`` or the loaded models.
        """
        options = options or self.options
        name = str(path) if name is None else name
        with open_media(path, info) as media:
            mode = self._media_mode(media.path, media.info, options)
            if mode == RunningMode.IMAGE:
                return self.predict_image(load_image(path), path=name)
            if mode == RunningMode.AUDIO_CLIP and media.info.kind == "audio":
                return self._speech_file(path, options, name)
            if mode == RunningMode.AUDIO_CLIP:  # a video's audio track alone
                signal = read_video(media, audio=True).audio(TARGET_SAMPLING_RATE)
                return self.predict_signal(signal, TARGET_SAMPLING_RATE, options, path=name)
            return self._predict_video(media, options, name)

    def _predict_video(self, media: MediaFile, options: PredictOptions, name: str) -> PredictionResult:
        """The faces of an opened video, fused with its audio track's speech when both models are wanted."""
        path, info = media.path, media.info
        classifier = self._need("face")
        with_speech = options.modality != "face" and self.speech is not None
        reading = read_video(media, options.video_fps, audio=with_speech and info.has_audio)
        face = analyse_frames(((f.time, f.image) for f in reading), self.video_detectors, classifier, name,
                              info.duration or None)
        if not with_speech:
            return face
        speech: ModalityResult | AvemoError
        if not info.has_audio:
            speech = MediaDecodeError(f"{path}: has no audio stream")
        else:
            try:
                speech = self.predict_signal(reading.audio(TARGET_SAMPLING_RATE), TARGET_SAMPLING_RATE, options,
                                             path=name)
            except AvemoError as exc:
                speech = exc
        return self.fuse(name, speech, face)

    def running_mode(self, path: str | os.PathLike, options: PredictOptions | None = None) -> RunningMode:
        """The running mode :meth:`predict_file` reads ``path`` in: ``IMAGE`` for an image file, ``VIDEO`` for a
        file with a video stream (unless ``options.modality`` is ``speech`` or no face model is loaded),
        ``AUDIO_CLIP`` otherwise.

        Raises:
            MediaDecodeError, ParameterError: as :meth:`predict_file` does for the same file and options.
        """
        return self._media_mode(path, probe_media(path), options or self.options)

    def _media_mode(self, path: str | os.PathLike, info: MediaInfo, options: PredictOptions) -> RunningMode:
        """The running mode of a probed file under ``options`` (see :meth:`running_mode`)."""
        if info.kind == "image":
            if options.modality == "speech":
                raise ParameterError(f"{path}: an image has no audio; drop --modality speech")
            return RunningMode.IMAGE
        if info.kind == "audio":
            if options.modality == "face":
                raise MediaDecodeError(f"{path}: has no video stream, so there is no face to analyse; drop "
                                       "--modality face to use the speech model")
            return RunningMode.AUDIO_CLIP
        if options.modality == "speech" or (self.face is None and options.modality == "auto"):
            return RunningMode.AUDIO_CLIP
        return RunningMode.VIDEO

    def _speech_file(self, path: str | os.PathLike, options: PredictOptions, name: str) -> ModalityResult:
        signal = load_audio(path, TARGET_SAMPLING_RATE)
        return self.predict_signal(signal, TARGET_SAMPLING_RATE, options, path=name)

    def predict_signal(self, signal: np.ndarray, sampling_rate: int, options: PredictOptions | None = None,
                       path: str | None = None) -> ModalityResult:
        """Speech emotion of an in-memory signal ``(samples,)`` or ``(samples, channels)`` at ``sampling_rate`` Hz
        (running mode ``AUDIO_CLIP``).

        Raises:
            ParameterError, MediaDecodeError: for a bad signal (NaN/inf, wrong shape).
            AudioTooShortError: when it is shorter than the speech model's minimum.
        """
        speech = self._need("speech")
        return analyse_speech(signal, sampling_rate, speech, speech.classes, (options or self.options).speech, path,
                              speech.abstain_below())

    def predict_image(self, image: np.ndarray, path: str | None = None) -> ModalityResult:
        """Facial expression of every face in an in-memory RGB image ``(height, width, 3)`` (running mode
        ``IMAGE``)."""
        face = self._need("face")
        return analyse_image(image, self.image_detectors, face, path)

    def predict_frames(self, frames: Iterable[tuple[float, np.ndarray]], signal: np.ndarray | None = None,
                       sampling_rate: int | None = None, options: PredictOptions | None = None,
                       path: str | None = None) -> PredictionResult:
        """In-memory video (running mode ``VIDEO``): ``(time in seconds, RGB image)`` frames and, optionally, the
        audio ``signal`` at ``sampling_rate`` Hz; both present gives the fused audio-visual result."""
        if signal is not None and sampling_rate is None:
            raise ParameterError("predict_frames: give sampling_rate with the audio signal")
        classifier = self._need("face")
        face = analyse_frames(frames, self.video_detectors, classifier, path)
        if signal is None:
            return face
        try:
            speech: ModalityResult | AvemoError = self.predict_signal(signal, sampling_rate, options, path)
        except AvemoError as exc:
            speech = exc
        return self.fuse(path, speech, face)

    def predict_image_and_audio(self, image: np.ndarray, signal: np.ndarray, sampling_rate: int,
                                options: PredictOptions | None = None, path: str | None = None) -> FusedResult:
        """A photo and a voice recording of the same person, fused (either may fail; the other is the result)."""
        face = self.predict_image(image, path)
        try:
            speech: ModalityResult | AvemoError = self.predict_signal(signal, sampling_rate, options, path)
        except AvemoError as exc:
            speech = exc
        return self.fuse(path, speech, face)

    def predict_image_and_audio_files(self, image: str | os.PathLike, audio: str | os.PathLike,
                                      options: PredictOptions | None = None, name: str | None = None) -> FusedResult:
        """An image file and an audio file of the same person (a photo and a voice note), fused; ``name`` names
        the result (default ``"IMAGE + AUDIO"``).

        Raises:
            ParameterError: when ``options.modality`` is not ``auto`` (a pair is always fused).
            MediaDecodeError: when the image or the audio cannot be decoded (a silent or too short recording is
                no error: the result is then the face's, with the speech status saying why).
        """
        options = options or self.options
        if options.modality != "auto":
            raise ParameterError("an image + audio pair is fused; leave modality at auto")
        rgb = load_image(image)
        signal = load_audio(audio, TARGET_SAMPLING_RATE)
        return self.predict_image_and_audio(rgb, signal, TARGET_SAMPLING_RATE, options,
                                            name or f"{image} + {audio}")

    def speaker_adaptation(self, min_recordings: int = 2, adapt_for: str = "any"):
        """A :class:`~avemo.inference.adaptation.SpeakerAdaptation` for one speaker: feed it that person's
        unlabelled recordings, then predict theirs with the speaker-adapted head (``adapt_for="varied"``: the one
        chosen for recordings that span several emotions).

        Raises:
            ParameterError: when the speech model has no speaker-adapted head (for ``adapt_for``).
        """
        from avemo.inference.adaptation import SpeakerAdaptation

        return SpeakerAdaptation(self._need("speech"), min_recordings, adapt_for)

    def face_adaptation(self, min_recordings: int = 2, tau: float | None = None):
        """A :class:`~avemo.inference.face_adaptation.FaceAdaptation` for one person: feed it that person's face
        results (images, videos), then adapt theirs with it.

        Raises:
            ParameterError: when the engine has no face model, or the face model has no adaptation reference.
        """
        from avemo.inference.face_adaptation import DEFAULT_TAU, FaceAdaptation, FaceReference

        classifier = self._need("face")
        reference = FaceReference.from_info(classifier.system.info, classifier.classes)
        if reference is None:
            raise ParameterError("this face model has no adaptation reference; compute one with `avemo train "
                                 "face-reference --data FER2013_DIR --out MODEL_DIR` (the shipped face model has one)")
        return FaceAdaptation(classifier.classes, reference, min_recordings, DEFAULT_TAU if tau is None else tau)

    def open_session(self, sampling_rate: int = TARGET_SAMPLING_RATE, options: PredictOptions | None = None,
                     on_result=None, name: str = "stream", adapt_to_speaker: bool = False, stream_options=None):
        """A :class:`~avemo.inference.session.StreamSession` (running mode ``STREAM``) for one live stream of audio
        chunks and frames; ``stream_options``: a :class:`~avemo.inference.session.StreamOptions` (voice-activity
        gate, smoothing; default: neither); ``adapt_to_speaker``: keep running statistics of the stream's person
        (one speaker, one face) and use them once two windows are in: the speaker-adapted speech head, and the face
        adaptation (when the face model has an adaptation reference).

        Raises:
            ParameterError: with ``adapt_to_speaker``, when the speech model has no speaker-adapted head; for
                stream options that do not fit the window.
        """
        from avemo.inference.session import StreamSession

        adaptation = self.speaker_adaptation() if adapt_to_speaker and self.speech is not None else None
        face_adaptation = None
        if adapt_to_speaker and self.face is not None:
            try:
                face_adaptation = self.face_adaptation()
            except ParameterError:  # a face model without a reference: its faces stay global
                face_adaptation = None
        return StreamSession(self, sampling_rate, options or self.options, on_result, name, adaptation,
                             face_adaptation, stream_options)

    # ---- fusion -------------------------------------------------------------------------------------------

    def speech_on_fused_classes(self, probabilities: Mapping[str, float]) -> dict[str, float]:
        """Speech probabilities put on the fused label set (calm folded into neutral)."""
        classes = tuple(self._need("speech").classes)
        p = to_common_label_set(np.array([probabilities[c] for c in classes]), classes, FUSED_LABEL_SET)
        return {c: float(v) for c, v in zip(self._need("face").classes, p)}

    @property
    def temperatures(self) -> dict[str, float]:
        return {"speech": self._need("speech").temperature, "face": self._need("face").temperature}

    def fuse_distributions(self, parts: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
        """One distribution from the modalities present in ``parts`` (see :func:`fuse_distributions`)."""
        return fuse_distributions(parts, self.weights, self.temperatures, tuple(self._need("face").classes))

    def fuse(self, path: str | None, speech: ModalityResult | AvemoError, face: ModalityResult) -> FusedResult:
        """The audio-visual result of one input from its speech and face results (either may have failed)."""
        notes, parts = [], {}
        if isinstance(speech, AvemoError):
            message = " ".join(str(speech).split())
            notes.append(f"speech unavailable ({message}); face only")
            speech = ModalityResult(path, {}, face.duration, Status.UNAVAILABLE, message)
        elif speech.status in PREDICTED:
            parts["speech"] = self.speech_on_fused_classes(speech.probabilities)
        else:
            notes.append(f"speech: {speech.status} ({speech.message}); face only")
        if face.status in PREDICTED:
            parts["face"] = dict(face.probabilities)
        else:
            notes.append(f"face: {face.message or face.status}; speech only")
        fusion = FusionInfo("calibrated decision-level (weighted geometric mean)", FUSED_LABEL_SET, dict(self.weights),
                            self.temperatures, sorted(parts), "; ".join(notes),
                            {"calm": "the speech model's calm is folded into neutral"})
        modalities = {"speech": speech, "face": face}
        duration = max(face.duration, speech.duration)
        if not parts:
            return FusedResult(path, {}, duration, Status.NO_SIGNAL, fusion.note, modalities=modalities, fusion=fusion)
        # the answer is as sure as the modalities behind it: uncertain when every one used is
        used = [m for name, m in modalities.items() if name in parts]
        status, message = Status.OK, ""
        if all(m.status == Status.UNCERTAIN for m in used):
            status, message = Status.UNCERTAIN, "; ".join(m.message for m in used if m.message)
        return FusedResult(path, self.fuse_distributions(parts), duration, status, message,
                           timeline=self._fused_timeline(speech, face), modalities=modalities, fusion=fusion,
                           faces=face.faces, box=face.box)

    def _fused_timeline(self, speech: ModalityResult, face: ModalityResult) -> Timeline:
        """Fused windows: the speech timeline's windows, each fusing the speech window with the mean of the main
        face over the frames inside it; for clips shorter than a speech window, 1-second windows of the face
        frames, each fused with the whole clip's speech result."""
        labels = tuple(self._need("face").classes)
        main = face.faces[0].track_id if face.faces else None
        if speech.timeline:
            windows = [(s.start, s.end, self.speech_on_fused_classes(s.probabilities)) for s in speech.timeline]
        else:
            whole = self.speech_on_fused_classes(speech.probabilities) if speech.status in PREDICTED else None
            end = max([f.time for f in face.frames] + [speech.duration, 0.0])
            windows = [(t, min(t + 1.0, end), whole) for t in np.arange(0.0, end, 1.0)] if face.frames else []
        starts, ends, rows = [], [], []
        for start, stop, speech_p in windows:
            seen = [f for frame in face.frames if start <= frame.time < stop or (stop == start == frame.time)
                    for f in frame.faces if f.track_id == main]
            parts = {}
            if speech_p is not None:
                parts["speech"] = speech_p
            if seen:
                parts["face"] = mean_face(seen, labels)
            if parts:
                fused = self.fuse_distributions(parts)
                starts.append(float(start))
                ends.append(float(stop))
                rows.append([fused[c] for c in labels])
        return Timeline(labels, starts, ends, np.array(rows).reshape(len(rows), len(labels)))


def fuse_distributions(parts: Mapping[str, Mapping[str, float]], weights: Mapping[str, float],
                       temperatures: Mapping[str, float], labels: Sequence[str]) -> dict[str, float]:
    """Fuse the distributions of the modalities in ``parts`` (each over ``labels``; an empty one is absent): each
    temperature-scaled, then the weighted mean of log-probabilities (weights renormalised over those present).

    Raises:
        ParameterError: when no modality has a distribution.
    """
    present = {name: probabilities for name, probabilities in parts.items() if probabilities}
    if not present:
        raise ParameterError("nothing to fuse: no modality produced probabilities")
    scaled = {}
    for name, probabilities in present.items():
        logp = np.log(np.clip([probabilities.get(c, 0.0) for c in labels], 1e-8, 1.0))
        logp /= max(temperatures.get(name, 1.0), 1e-3)
        p = np.exp(logp - logp.max())
        scaled[name] = (p / p.sum())[None, :]
    fused = weighted_late_fusion(scaled, {name: weights.get(name, 1.0) for name in scaled}, method="log")[0]
    return {c: float(v) for c, v in zip(labels, fused)}


def mean_face(faces: Sequence[FaceResult], labels: Sequence[str]) -> dict[str, float]:
    """The mean distribution of several face results."""
    return {c: float(np.mean([f.probabilities[c] for f in faces])) for c in labels}


#: The modality names of results (re-exported for callers that build their own).
__all__ = ["FUSED_LABEL_SET", "InferenceEngine", "Modality", "PredictOptions", "SpeechPredictor", "fuse_distributions",
           "needed_modalities", "predict_each"]
