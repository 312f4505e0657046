"""``OpenFaceRecognizer``: emotion from a recording's audio and the OpenFace 2.0 action units of its video.

A research path, beside the :class:`~avemo.inference.engine.InferenceEngine` rather than one of its modalities: it
needs OpenFace's ``FeatureExtraction`` CSV of each clip, made beforehand with the separate OpenFace 2.0 tool (avemo
does not run OpenFace), so it serves the RAVDESS audio-visual experiments and the CLI's ``--openface`` option. For
audio, images and videos as they come, use the engine (its face modality finds the faces itself).

>>> from avemo.inference.openface import OpenFaceRecognizer
>>> rec = OpenFaceRecognizer()                                   # the shipped av-ravdess-openface model
>>> result = rec.predict("clip.wav", "clip.csv")                 # clip.csv: OpenFace FeatureExtraction output
>>> result.emotion, result.modalities["speech"].emotion, result.modalities["action_units"].emotion

The CSV is either OpenFace's per-frame ``FeatureExtraction`` output (frames with ``success=0`` are dropped and
the 35 AUs averaged over the rest) or a clip-level table of one row holding the 35 AU clip means (e.g. a row of
the RAVDESS ``openface_au_mean.csv``). Each modality is scored by its own temperature-scaled logistic
regression and the two are fused by the model's weighted mean of log-probabilities
(:class:`avemo.systems.av_fusion.AVLateFusionSystem`). When one modality is unusable (no tracked face; audio
missing, silent or too short) the result is the other one and ``fusion["note"]`` says why.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from avemo.errors import AudioTooShortError, AvemoError, FeatureFileError, MediaDecodeError, NoFaceError, \
    ParameterError
from avemo.features.openface import AU_COLUMNS, au_clip_statistics, read_openface_frames
from avemo.inference.results import FusedResult, FusionInfo, Modality, ModalityResult, PREDICTED, Status, Timeline
from avemo.inference.speech import SILENCE_DB, SpeechOptions, analyse_speech
from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio
from avemo.systems.av_fusion import AU, FUSED, SPEECH, AVLateFusionSystem
from avemo.systems.inputs import AVInputs, vector_matrix
from avemo.systems.base import load_system, resolve_system_dir

#: Columns that only OpenFace's per-frame output has (a clip-level table has none of them).
FRAME_COLUMNS = ("frame", "timestamp", "success", "face_id", "confidence")


@dataclasses.dataclass
class ActionUnitInput:
    """The action units read from one OpenFace CSV.

    ``values`` is the ``(35,)`` clip mean in :data:`AU_COLUMNS` order, or None when OpenFace tracked no face
    (``message`` says so). ``frames`` holds the tracked frames of a per-frame CSV (None for a clip-level row).
    """

    path: str
    values: np.ndarray | None
    source: str
    frames: pd.DataFrame | None = None
    duration: float = 0.0
    message: str = ""


def _join(message: str, note: str) -> str:
    return f"{message}; {note}" if message else note


def read_action_units(path: str | os.PathLike, min_confidence: float = 0.0) -> ActionUnitInput:
    """Read an OpenFace per-frame CSV or a one-row clip-level AU table (detected from its columns).

    Raises:
        FeatureFileError: missing or empty file, missing AU columns, non-numeric or missing values, or a
            clip-level table with several rows.
    """
    name = str(path)
    try:
        frames = read_openface_frames(path, min_confidence=min_confidence)
    except NoFaceError as exc:  # a per-frame file in which OpenFace tracked no face
        return ActionUnitInput(name, None, "per-frame", message=" ".join(str(exc).split()))
    if not any(c in frames.columns for c in FRAME_COLUMNS):
        if len(frames) != 1:
            raise FeatureFileError(f"{name!r} has {len(frames)} rows but no per-frame columns "
                                   f"({', '.join(FRAME_COLUMNS)}): give OpenFace's per-frame CSV of one clip, or a "
                                   "clip-level table of one row")
        values = frames[list(AU_COLUMNS)].to_numpy(np.float32)[0]
        source = "clip-level row"
        frames_out, duration = None, 0.0
    else:
        note = ""
        if "face_id" in frames.columns and frames["face_id"].nunique() > 1:  # several faces: keep the main one
            main = frames["face_id"].value_counts().idxmax()
            frames = frames[frames["face_id"] == main]
            note = f", face_id {int(main)} (the face tracked in most frames)"
        values = au_clip_statistics(frames, ("mean",))
        source = f"mean of {len(frames)} tracked OpenFace frame(s){note}"
        frames_out = frames
        duration = float(np.ptp(frames["timestamp"].to_numpy())) if "timestamp" in frames.columns else 0.0
    if not np.all(np.isfinite(values)):
        bad = [c for c, v in zip(AU_COLUMNS, values) if not np.isfinite(v)]
        raise FeatureFileError(f"{name!r}: AU column(s) {', '.join(bad[:5])} hold missing values; re-run OpenFace "
                               "FeatureExtraction with -aus")
    return ActionUnitInput(name, values.astype(np.float32), source, frames_out, duration)


class OpenFaceRecognizer:
    """Audio + OpenFace action units, fused by a trained :class:`AVLateFusionSystem`; load once, predict many.
    A research path: each clip needs its OpenFace CSV (see the module docstring); everything else goes through the
    :class:`~avemo.inference.engine.InferenceEngine`.

    Args:
        model: shipped model name or a folder from ``avemo train av-late-fusion`` (default: the shipped
            ``av-ravdess-openface``).
        window, step: timeline window length and hop in seconds (audio longer than ``window`` gets a timeline).
        silence_db: audio whose loudest 25 ms frame is below this level (dBFS) counts as silent.
        min_confidence: OpenFace frames below this tracking confidence are dropped too.
        speech_backend: what runs the Whisper encoder (see :class:`~avemo.inference.engine.InferenceEngine`).

    Raises:
        AssetNotFoundError, CheckpointError: when the model cannot be loaded.
        ParameterError: for a bad window or step.
    """

    def __init__(self, model: str | os.PathLike | None = None, window: float = 4.0, step: float = 2.0,
                 silence_db: float = SILENCE_DB, min_confidence: float = 0.0,
                 speech_backend: str | None = None) -> None:
        from avemo.features.audio.whisper_onnx import with_backend

        self.options = SpeechOptions(window, step, silence_db)
        self.model_path = resolve_system_dir(model, kind="av-late-fusion")
        self.system: AVLateFusionSystem = load_system(self.model_path, kind="av-late-fusion")
        self.extractors = with_backend(self.system.feature_extractors(), speech_backend)
        self.min_confidence = min_confidence

    @property
    def classes(self) -> tuple[str, ...]:
        return self.system.classes

    def predict(self, audio_path: str | os.PathLike | None, openface_csv: str | os.PathLike | None) -> FusedResult:
        """The fused emotion of one recording; ``modalities`` holds each modality's calibrated result.

        Raises:
            ParameterError: when neither an audio file nor a CSV is given.
            FeatureFileError: for an unreadable CSV or one lacking AU columns.
            AvemoError: when neither modality is usable (e.g. silent audio and no tracked face).
        """
        return self._predict(audio_path, openface_csv)[0]

    def _predict(self, audio_path, openface_csv) -> tuple[FusedResult, np.ndarray | None, np.ndarray | None]:
        """:meth:`predict`'s result, with the whole clip's speech vector (``None`` when speech is unusable or the
        clip was only scored in windows) and the clip-mean AUs (``None``: no tracked face), for adaptation."""
        if audio_path is None and openface_csv is None:
            raise ParameterError("give an audio file, an OpenFace CSV, or both")
        au = read_action_units(openface_csv, self.min_confidence) if openface_csv is not None else None
        speech, vector = self._speech(audio_path)
        notes, parts = [], {}
        if speech.status in PREDICTED:
            parts[SPEECH] = np.array([[speech.probabilities[c] for c in self.classes]])
        else:
            notes.append(f"speech {speech.status} ({speech.message}); action units only")
        au_result = self._au_result(au)
        if au_result.status in PREDICTED:
            parts[AU] = np.array([[au_result.probabilities[c] for c in self.classes]])
        else:
            notes.append(f"action units {au_result.status} ({au_result.message}); speech only")
        if not parts:
            raise AvemoError(f"{audio_path or openface_csv}: neither modality is usable: speech {speech.status} "
                             f"({speech.message}); action units {au_result.status} ({au_result.message})")
        fused = self._as_dict(self.system.fuse(parts)[0])
        details: dict[str, Any] = {"model": self.model_path.name}
        if au is not None and au.values is not None:
            details["action_units"] = au.source
        fusion = FusionInfo("late fusion: weighted mean of log-probabilities of temperature-scaled logistic "
                            "regressions", self.system.label_set, dict(self.system.weights_),
                            {**self.system.temperatures_, "fused": self.system.fused_temperature_},
                            [m for m in (SPEECH, AU) if m in parts], "; ".join(notes), details)
        timeline = self._timeline(speech, au) if speech.status in PREDICTED else Timeline(self.classes)
        path = str(audio_path) if audio_path is not None else str(openface_csv)
        duration = speech.duration if speech.duration else au_result.duration
        result = FusedResult(path, fused, duration, timeline=timeline, modalities={SPEECH: speech, AU: au_result},
                             fusion=fusion)
        return result, (vector if speech.status in PREDICTED else None), (
            au.values if au is not None and au_result.status in PREDICTED else None)

    def predict_people(self, pairs: Sequence[tuple[str | os.PathLike | None, str | os.PathLike | None]],
                       people: Sequence[str]) -> list[FusedResult | AvemoError]:
        """Each ``(audio, OpenFace CSV)`` pair's fused emotion with per-person adaptation: the pairs of one person
        (``people``, one name per pair) are unlabelled clips whose statistics standardise that person's speech
        features and AUs before the model's adapted head (:meth:`AVLateFusionSystem.adapted_proba`). A person
        with fewer usable clips than the model's ``min_recordings`` gets the global result, and its message says
        so. Returns one result, or the error of a pair that failed, per pair in order (a batch goes on past a bad
        pair).

        Raises:
            ParameterError: when the model has no adapted head or ``people`` does not match ``pairs``.
        """
        from avemo.inference.adaptation import warn_about_groups

        if getattr(self.system, "adapted_", None) is None:
            raise ParameterError(f"{self.model_path.name} has no per-person adapted head; retrain it with "
                                 "`avemo train av-late-fusion` (or leave out --speaker-key)")
        if len(people) != len(pairs):
            raise ParameterError(f"got {len(people)} person names for {len(pairs)} pairs; give one per pair")
        warn_about_groups(list(people))  # the caller warns about names its key did not match
        results: list[FusedResult | AvemoError] = []
        rows: list[int] = []
        speech_rows, au_rows = [], []
        for audio, csv in pairs:
            try:
                result, vector, au_values = self._predict(audio, csv)
            except AvemoError as exc:
                results.append(exc)
                continue
            results.append(result)
            if result.modalities[SPEECH].status in PREDICTED:  # adapted rows need the clip's speech vector
                if vector is None:  # a long clip, scored in windows only: its whole-clip vector once more
                    vector = self._speech_vectors([load_audio(audio, TARGET_SAMPLING_RATE)])[0]
                speech_rows.append(vector)
                au_rows.append(au_values)
                rows.append(len(results) - 1)
        if not rows:
            return results
        au = np.array([v if v is not None else np.full(len(AU_COLUMNS), np.nan) for v in au_rows], np.float32)
        inputs = AVInputs.create(np.stack(speech_rows), np.nan_to_num(au), ~np.isnan(au).any(axis=1),
                                 [people[i] for i in rows])
        parts, adapted = self.system.adapted_proba(inputs)
        head = self.system.adapted_
        for k, i in enumerate(rows):
            result = results[i]
            count = int((inputs.person == inputs.person[k]).sum())
            if not adapted[k]:
                result.message = _join(result.message, f"global: person {inputs.person[k]} has {count} usable clip(s), "
                                       f"adaptation needs {head['min_recordings']}")
                continue
            result.probabilities = self._as_dict(parts[FUSED][k])
            result.modalities[SPEECH].probabilities = self._as_dict(parts[SPEECH][k])
            if inputs.au_present[k]:
                result.modalities[AU].probabilities = self._as_dict(parts[AU][k])
            result.message = _join(result.message, f"adapted to person {inputs.person[k]} ({count} clips)")
            result.fusion = dataclasses.replace(
                result.fusion, weights=dict(head["weights"]),
                temperatures={**head["temperatures"], FUSED: head["fused_temperature"]},
                details={**result.fusion.details, "adapted": {"person": str(inputs.person[k]), "clips": count}})
            result.timeline = Timeline(self.classes)  # the windows were scored by the global head
        return results

    # ---- modalities --------------------------------------------------------------------------------------

    def _speech(self, audio_path) -> tuple[ModalityResult, np.ndarray | None]:
        """The speech result (its status is ``unavailable``, ``too_short`` or ``silence`` when it is unusable) and
        the whole clip's speech vector when it was computed (clips up to the single-pass length)."""
        if audio_path is None:
            return ModalityResult(None, {}, 0.0, Status.UNAVAILABLE, "no audio given"), None
        if not Path(audio_path).exists():
            raise MediaDecodeError(f"{audio_path}: file not found; check the path (to use the action units "
                                   "alone, give only the OpenFace CSV)")
        path = str(audio_path)
        whole: list[np.ndarray] = []

        def probs(signals: list[np.ndarray]) -> np.ndarray:
            x = self._speech_vectors(signals)
            if len(signals) == 1 and len(signals[0]) == len(signal):  # the whole clip (windows come in a batch)
                whole[:] = [x[0]]
            return self.system.modality_proba(speech_features=x)[SPEECH]

        try:
            signal = load_audio(audio_path, TARGET_SAMPLING_RATE)
            result = analyse_speech(signal, TARGET_SAMPLING_RATE, probs, self.classes, self.options, path)
            return result, (whole[0] if whole else None)
        except AudioTooShortError as exc:
            duration = len(signal) / TARGET_SAMPLING_RATE
            return ModalityResult(path, {}, duration, Status.TOO_SHORT, str(exc).split(": ", 1)[-1]), None
        except AvemoError as exc:
            return ModalityResult(path, {}, 0.0, Status.UNAVAILABLE, " ".join(str(exc).split())), None

    def _speech_vectors(self, signals: list[np.ndarray]) -> np.ndarray:
        """The model's ``(n, D)`` speech vectors of 16 kHz signals."""
        features = {n: [e.process_signal(s, TARGET_SAMPLING_RATE) for s in signals]
                    for n, e in self.extractors.items()}
        return vector_matrix(self.system.speech_vectors, features)

    def _au_result(self, au: ActionUnitInput | None) -> ModalityResult:
        if au is None:
            return ModalityResult(None, {}, 0.0, Status.UNAVAILABLE, "no OpenFace CSV given",
                                  modality=Modality.ACTION_UNITS)
        if au.values is None:
            return ModalityResult(au.path, {}, au.duration, Status.NO_FACE, au.message,
                                  modality=Modality.ACTION_UNITS)
        p = self._as_dict(self.system.modality_proba(au=au.values)[AU][0])
        return ModalityResult(au.path, p, au.duration, message=au.source, modality=Modality.ACTION_UNITS)

    def _timeline(self, speech: ModalityResult, au: ActionUnitInput | None) -> Timeline:
        """Fused windows when the audio is longer than ``window`` and the CSV has timed frames: each window of the
        speech timeline fused with the mean AUs of the OpenFace frames inside it (speech alone where no frame is)."""
        if not speech.timeline or au is None or au.frames is None or "timestamp" not in au.frames.columns:
            return Timeline(self.classes)
        times = au.frames["timestamp"].to_numpy()
        values = au.frames[list(AU_COLUMNS)].to_numpy(np.float32)
        rows = []
        for segment in speech.timeline:
            parts = {SPEECH: np.array([[segment.probabilities[c] for c in self.classes]])}
            inside = (times >= segment.start) & (times < segment.end)
            if inside.any():
                parts[AU] = self.system.modality_proba(au=values[inside].mean(axis=0))[AU]
            rows.append(self.system.fuse(parts)[0])
        return Timeline(self.classes, speech.timeline.starts, speech.timeline.ends, np.array(rows))

    def _as_dict(self, probs: np.ndarray) -> dict[str, float]:
        return {c: float(p) for c, p in zip(self.classes, probs)}
