"""Speaker adaptation without labels: the statistics of one person's unlabelled recordings standardise that
person's features before the speaker-adapted head of a :class:`~avemo.systems.speech_probe.SpeechProbeSystem`.

>>> adaptation = engine.speaker_adaptation()
>>> for path in my_recordings:
...     adaptation.add_file(path)             # unlabelled audio of one speaker
>>> adaptation.predict_file("new.wav")        # the adapted head once 2+ recordings are in, else the global one

``adapt_for="varied"`` (``engine.speaker_adaptation(adapt_for="varied")``, ``avemo predict --speaker-key ...
--adapt-for varied``) uses the adapted head chosen for a speaker's recordings that span several emotions (an acted
corpus, a session with a range of emotions); the default ``any`` is safe with few recordings or one emotion.

Statistics are running (Welford) means and variances, so a live stream can feed each completed window with
:meth:`SpeakerAdaptation.add_features`. Safe to share between threads (a lock guards the statistics).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from avemo.errors import ParameterError
from avemo.inference.results import ModalityResult, PREDICTED
from avemo.inference.speech import analyse_speech, prepare_signal
from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio
from avemo.systems.person_stats import MIN_SPEAKER_RECORDINGS
from avemo.systems.probe_inputs import FEATURE

log = logging.getLogger("avemo.inference.adaptation")

if TYPE_CHECKING:
    from avemo.inference.engine import PredictOptions, SpeechPredictor
    from avemo.io.media import MediaInfo


class RecordingCount:
    """What a running per-person statistic says about how much it has seen: :attr:`count` recordings, and whether
    that is the ``min_recordings`` it needs (:attr:`ready`)."""

    _count: int
    min_recordings: int

    @property
    def count(self) -> int:
        """Recordings (pictures, clips or stream windows) added so far."""
        return self._count

    @property
    def ready(self) -> bool:
        """Whether enough recordings are in to adapt."""
        return self._count >= self.min_recordings


class SpeakerAdaptation(RecordingCount):
    """Running statistics of one speaker's features and predictions with them.

    Args:
        predictor: the engine's speech predictor (its system must have a speaker-adapted head).
        min_recordings: recordings needed before the adapted head is used (before that: the global head).
        adapt_for: which adapted head (:data:`~avemo.systems.speech_probe.ADAPTED_HEADS`): ``any`` (few, all or
            one-emotion recordings of the speaker) or ``varied`` (all of the speaker's recordings, spanning several
            emotions).

    Raises:
        ParameterError: when the speech system has no speaker-adapted head (for ``adapt_for``).
    """

    def __init__(self, predictor: "SpeechPredictor", min_recordings: int = MIN_SPEAKER_RECORDINGS,
                 adapt_for: str = "any") -> None:
        if not hasattr(predictor.system, "predict_proba_adapted"):
            raise ParameterError("this speech model has no speaker-adapted head; load a multi-corpus speech model "
                                 "(kind speech-probe, e.g. the shipped speech-multicorpus)")
        if min_recordings < 2:
            raise ParameterError(f"min_recordings must be >= 2 (a spread needs two recordings), got {min_recordings}")
        predictor.system.adapted_head(adapt_for)  # an unknown use, or a model saved without that head, says so now
        self.predictor = predictor
        self.min_recordings = min_recordings
        self.adapt_for = adapt_for
        self._lock = threading.Lock()
        self._count = 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def _features(self, signals: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
        """The speech system's features of 16 kHz ``signals``: ``{key: [array per signal]}``."""
        return self.predictor.features(signals)

    def add_features(self, features: np.ndarray | Mapping[str, Sequence[np.ndarray]]) -> None:
        """Add recordings of this speaker by their features (the speech system's own: a features dict as its
        extractors give, or ``(n, D)`` statistics vectors when the global head needs nothing else): their statistics
        are kept less each recording's expected emotion offset (:meth:`SpeechProbeSystem.speaker_residuals`), so
        that a speaker heard mostly in one emotion keeps it."""
        if not isinstance(features, Mapping):
            features = np.atleast_2d(np.asarray(features, np.float32))
        residuals = self.predictor.system.speaker_residuals(features, self.adapt_for)
        with self._lock:
            for v in np.asarray(residuals, np.float64):
                if self._mean is None:
                    self._mean, self._m2 = np.zeros_like(v), np.zeros_like(v)
                self._count += 1
                delta = v - self._mean
                self._mean += delta / self._count
                self._m2 += delta * (v - self._mean)

    def add_signal(self, signal: np.ndarray, sampling_rate: int) -> None:
        """Add one unlabelled recording of this speaker (any rate, mono or ``(samples, channels)``).

        Raises:
            ParameterError, MediaDecodeError, AudioTooShortError: for a bad signal.
        """
        self.add_features(self._features([prepare_signal(signal, sampling_rate, "signal")]))

    def add_file(self, path: str | os.PathLike) -> None:
        """Add one unlabelled audio file (or video's audio track) of this speaker.

        Raises:
            MediaDecodeError: when the file cannot be decoded.
        """
        self.add_signal(load_audio(path, TARGET_SAMPLING_RATE), TARGET_SAMPLING_RATE)

    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean and standard deviation ``(D,)`` of the speaker's features less their emotion offsets.

        Raises:
            ParameterError: before :attr:`min_recordings` recordings were added.
        """
        with self._lock:
            if self._count < self.min_recordings:
                raise ParameterError(f"speaker adaptation needs {self.min_recordings} recordings of the speaker, "
                                     f"got {self._count}; add more with add_file()")
            return (self._mean.astype(np.float32),
                    np.maximum(np.sqrt(self._m2 / self._count), 1e-3).astype(np.float32))

    def _proba(self, features: Mapping[str, Sequence[np.ndarray]]) -> np.ndarray:
        """Probabilities of recordings by their features dict: adapted once :attr:`ready`, else global."""
        if not self.ready:
            return self.predictor.system.predict_proba(features)
        mean, std = self.statistics()
        return self.predictor.system.predict_proba_adapted(np.stack(list(features[FEATURE])), mean, std, self._count,
                                                           self.adapt_for)

    def __call__(self, signals: list[np.ndarray]) -> np.ndarray:
        """Probabilities ``(n, classes)`` of 16 kHz signals: adapted once :attr:`ready`, else global."""
        return self._proba(self._features(signals))

    @property
    def classes(self) -> tuple[str, ...]:
        return self.predictor.classes

    @property
    def abstain_below(self) -> float | None:
        """The abstention level of the head that answers now: the adapted head's once :attr:`ready`."""
        return self.predictor.abstain_below(adapt=self.ready, adapt_for=self.adapt_for)

    def predict_signal(self, signal: np.ndarray, sampling_rate: int, options: "PredictOptions | None" = None,
                       path: str | None = None, learn: bool = False) -> ModalityResult:
        """Speech emotion of a signal with this speaker's adaptation (see :meth:`InferenceEngine.predict_signal`);
        ``learn``: then add the signal to the speaker's statistics when it held speech (its features are computed
        once, for both)."""
        from avemo.inference.engine import PredictOptions

        whole: list[np.ndarray] = []

        def predict(signals: list[np.ndarray]) -> np.ndarray:
            x = self._features(signals)
            if len(signals) == 1:  # the whole signal (windows come in a batch)
                whole[:] = [x]
            return self._proba(x)

        result = analyse_speech(signal, sampling_rate, predict, self.classes, (options or PredictOptions()).speech,
                                path, self.abstain_below)
        adapted = "speaker-adapted" + (" (varied)" if self.adapt_for == "varied" else "")
        head = adapted if self.ready else f"global (adaptation needs {self.min_recordings} recordings)"
        result.message = f"{result.message}; {head}" if result.message else head
        if learn and result.status in PREDICTED:
            if whole:
                self.add_features(whole[0])
            else:
                self.add_signal(signal, sampling_rate)
        return result

    def predict_file(self, path: str | os.PathLike, options: "PredictOptions | None" = None) -> ModalityResult:
        """Speech emotion of an audio file with this speaker's adaptation.

        Raises:
            MediaDecodeError, AudioTooShortError: for a bad or too short file.
        """
        return self.predict_signal(load_audio(path, TARGET_SAMPLING_RATE), TARGET_SAMPLING_RATE, options, str(path))


def speaker_of(path: str | os.PathLike, key: str) -> str:
    """The speaker of a file by ``key``: ``folder`` (its folder's name), ``folder2`` (the folder above), ... or a
    regular expression searched in the file name (its first group, else the whole match).

    Raises:
        ParameterError: for a bad regular expression or a name it does not match.
    """
    import re
    from pathlib import Path

    p = Path(path)
    if re.fullmatch(r"folder\d*", key):
        level = int(key[6:] or 1)
        parents = p.resolve().parents
        if level > len(parents) - 1:
            raise ParameterError(f"{path}: has no folder {level} levels up for --speaker-key {key}")
        return parents[level - 1].name
    try:
        match = re.search(key, p.name)
    except re.error as exc:
        raise ParameterError(f"--speaker-key {key!r} is not 'folder' or a regular expression ({exc})") from None
    if match is None:
        raise ParameterError(f"{path}: the file name does not match --speaker-key {key!r}")
    return match.group(1) if match.groups() else match.group(0)


def warn_about_groups(people: Sequence[str], unmatched: int = 0) -> None:
    """Log a one-line warning when a speaker key groups files uselessly: it matched no file name (``unmatched``
    files failed it and none matched), put every file in one group, or put every file in a group of its own."""
    n, groups = len(people), len(set(people))
    if unmatched and not n:
        log.warning("--speaker-key matched none of the %d file names; check the key (a regular expression searched "
                    "in the file name, or 'folder')", unmatched)
    elif n > 1 and groups == 1:
        log.warning("--speaker-key put all %d files in one group (%s): they are adapted as one person; check the key "
                    "if they are of several people", n, people[0])
    elif n > 1 and groups == n:
        log.warning("--speaker-key put each of the %d files in a group of its own: nothing is adapted (each file gets "
                    "the global model); check the key", n)


def predict_files_by_speaker(engine, paths, key: str, options: "PredictOptions | None" = None,
                             min_recordings: int = MIN_SPEAKER_RECORDINGS, adapt_for: str = "any"):
    """``(path, result or error)`` for every path, in input order: the files are grouped by :func:`speaker_of`,
    each group's files (unlabelled) adapt the models to that person, then each file is predicted with them:

    - audio: the speech model's speaker-adapted head (``adapt_for``, see :class:`SpeakerAdaptation`);
    - images and videos: the face adaptation (:mod:`avemo.inference.face_adaptation`; each file's main face is one
      picture of the person), and for videos with sound the speech adaptation of their audio, fused again.

    A person with fewer than ``min_recordings`` usable files gets the global prediction; a bad file yields its
    error and the batch goes on.

    Raises:
        ParameterError: when a model the files need has no adapted head (speech: for ``adapt_for``; face: no
            adaptation reference).
    """
    from avemo.errors import AvemoError

    paths = [str(p) for p in paths]
    infos = {p: _probe(p) for p in paths}
    kinds = {p: _media_kind(engine, info) for p, info in infos.items()}
    if engine.speech is not None and any(k in ("audio", "video") for k in kinds.values()):
        engine.speaker_adaptation(min_recordings, adapt_for)  # fail early for a model without that adapted head
    if engine.face is not None and any(k in ("image", "video") for k in kinds.values()):
        engine.face_adaptation(min_recordings)
    groups: dict[str, list[str]] = {}
    results: dict[str, object] = {}
    for path in paths:
        try:
            groups.setdefault(speaker_of(path, key), []).append(path)
        except AvemoError as exc:
            results[path] = exc
    warn_about_groups([s for s, members in groups.items() for _ in members], len(results))
    for person, members in groups.items():
        results.update(_predict_person(engine, person, members, kinds, infos, options, min_recordings, adapt_for))
    return [(p, results[p]) for p in paths]


def _probe(path: str) -> "MediaInfo | None":
    """The file's :func:`~avemo.io.media.probe_media`, or ``None`` when it cannot be read (its prediction then says
    what is wrong)."""
    from avemo.errors import AvemoError
    from avemo.io.media import probe_media

    try:
        return probe_media(path)
    except AvemoError:
        return None


def _media_kind(engine, info: "MediaInfo | None") -> str:
    """``image``, ``video`` (with a face model loaded; without one a video is its audio) or ``audio`` (also a file
    that could not be probed)."""
    if info is None or (info.kind == "video" and engine.face is None):
        return "audio"
    return info.kind


def _predict_person(engine, person: str, members: Sequence[str], kinds: dict[str, str],
                    infos: dict[str, "MediaInfo | None"], options: "PredictOptions | None", min_recordings: int,
                    adapt_for: str) -> dict[str, object]:
    """The results of one person's files (see :func:`predict_files_by_speaker`; ``infos``: their probes, passed on
    to the engine so that it does not read a header again)."""
    from avemo.errors import AvemoError
    from avemo.inference.results import FusedResult

    options = options or engine.options
    results: dict[str, object] = {}
    faces: dict[str, object] = {}  # the global result of each image and video
    speech = engine.speaker_adaptation(min_recordings, adapt_for) if engine.speech is not None else None
    face = engine.face_adaptation(min_recordings) if engine.face is not None else None
    for path in members:
        if kinds[path] == "audio" and speech is None:
            results[path] = _safe(engine.predict_file, path, options, infos[path])
            continue
        if kinds[path] != "audio":
            faces[path] = _safe(engine.predict_file, path,
                                dataclasses.replace(options, modality="face") if kinds[path] == "video" else options,
                                infos[path])
            if isinstance(faces[path], AvemoError):
                continue
            face.add_result(faces[path])
        if kinds[path] in ("audio", "video") and speech is not None:
            try:
                speech.add_file(path)
            except AvemoError as exc:
                if kinds[path] == "audio":
                    results[path] = exc
    n_faces = face.count if face is not None else 0
    for path in members:
        if path in results:
            continue
        if kinds[path] == "audio":
            try:
                result = speech.predict_file(path, options)
                result.message = f"{result.message}; speaker {person}, {speech.count} recordings"
                results[path] = result
            except AvemoError as exc:
                results[path] = exc
            continue
        if isinstance(faces[path], AvemoError):
            results[path] = faces[path]
            continue
        adapted_face = face.adapt_result(faces[path], person)
        if kinds[path] == "image" or engine.speech is None or options.modality == "face":
            results[path] = adapted_face
            continue
        try:  # a video with sound: its speech adapted too, then fused again
            voice = speech.predict_file(path, options) if speech is not None else engine.predict_file(
                path, dataclasses.replace(options, modality="speech"), info=infos[path])
        except AvemoError as exc:
            voice = exc
        fused: FusedResult = engine.fuse(path, voice, adapted_face)
        fused.message = "; ".join(m for m in (fused.message, f"person {person}: {n_faces} pictures") if m)
        results[path] = fused
    return results


def _safe(predict, path: str, options, info) -> object:
    from avemo.errors import AvemoError

    try:
        return predict(path, options, info=info)
    except AvemoError as exc:
        return exc
