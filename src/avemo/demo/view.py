"""What the web demo shows, as plain data: the Label values, the Markdown summary and error boxes, the checks
of an upload. No Gradio here, so all of it is testable without a browser."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from avemo.errors import MediaDecodeError
from avemo.inference.results import FusedResult, ModalityResult, PredictionResult, PREDICTED, Status
from avemo.io.files import INPUT_EXTENSIONS

SUPPORTED_HINT = "upload audio (wav, mp3, flac, ogg), a video (mp4, webm) or a photo (jpg, png)"

#: Why an input gave no distribution, in words (by :class:`~avemo.inference.results.Status`).
STATUS_WORDS = {Status.SILENCE: "no audible speech", Status.NO_FACE: "no face found",
                Status.TOO_SHORT: "the audio is too short", Status.UNAVAILABLE: "not available",
                Status.NO_SIGNAL: "neither the voice nor a face could be used",
                Status.UNCERTAIN: "not sure"}


def one_line(text: object) -> str:
    """``text`` on one line (runs of whitespace, newlines included, become one space)."""
    return " ".join(str(text).split())


def check_upload(path: str | os.PathLike | None, name: str | None = None) -> Path:
    """The uploaded file's path, after the checks that need no decoding.

    Raises:
        MediaDecodeError: when no file was given, it is missing or empty, or its type is not supported.
    """
    if path is None or str(path) == "":
        raise MediaDecodeError(f"no file yet; {SUPPORTED_HINT}")
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise MediaDecodeError(f"{name}: the upload did not arrive; upload it again")
    suffix = path.suffix.lower()
    if suffix not in INPUT_EXTENSIONS:  # what the engine decodes
        kind = f"{suffix} files are" if suffix else "files without an extension are"
        raise MediaDecodeError(f"{name}: {kind} not supported; {SUPPORTED_HINT}")
    if path.stat().st_size == 0:
        raise MediaDecodeError(f"{name}: the file is empty (0 bytes); re-export or re-download it")
    return path


def label_value(probabilities: Mapping[str, float]) -> dict[str, float] | None:
    """A ``gr.Label`` value: class -> probability (floats), or None (clears the label) when there are none."""
    return {str(c): float(p) for c, p in probabilities.items()} if probabilities else None


def modality_parts(result: PredictionResult) -> dict[str, ModalityResult | None]:
    """The speech and the face result of one prediction (None where the input has no such modality)."""
    if isinstance(result, FusedResult):
        return {"speech": result.modalities.get("speech"), "face": result.modalities.get("face")}
    return {"speech": result if result.modality == "speech" else None,
            "face": result if result.modality == "face" else None}


def modality_line(name: str, part: ModalityResult | None) -> str:
    """One Markdown line about one modality: its top class, or why it has none."""
    if part is None:
        return f"**{name}**: not in this input"
    if part.status == Status.UNCERTAIN:
        return f"**{name}**: not sure (best guess {part.emotion}, {part.confidence:.0%})"
    if part.status not in PREDICTED:
        why = STATUS_WORDS.get(part.status, str(part.status))
        detail = f" ({one_line(part.message)})" if part.message and part.message != why else ""
        return f"**{name}**: {why}{detail}"
    faces = f", {len(part.faces)} face{'s' if len(part.faces) != 1 else ''}" if part.faces else ""
    return f"**{name}**: {part.emotion} ({part.confidence:.0%}){faces}"


def summary_markdown(result: PredictionResult, name: str) -> str:
    """The Markdown box above the outputs: the emotion, what it came from, valence / arousal, notes."""
    parts = modality_parts(result)
    kind = {"audio-visual": "voice + face", "speech": "voice", "face": "face"}.get(str(result.modality),
                                                                                 str(result.modality))
    lines = []
    if result.status in PREDICTED:
        valence, arousal = result.valence_arousal
        lines.append(f"### {result.emotion} — {result.confidence:.0%}" if result.status == Status.OK else
                     f"### Not sure — best guess {result.emotion} ({result.confidence:.0%})")
        length = f" · {result.duration:.1f} s" if result.duration > 0 else ""
        lines.append(f"`{name}` · {kind}{length} · valence {valence:+.2f}, arousal {arousal:+.2f}")
    else:
        why = STATUS_WORDS.get(result.status, str(result.status))
        lines.append(f"### No emotion: {why}")
        hint = {Status.NO_FACE: "use a photo with a clearly visible, frontal face",
                Status.SILENCE: "record again closer to the microphone",
                Status.TOO_SHORT: "use a longer recording"}.get(result.status)
        lines.append(f"`{name}`: {one_line(result.message) or why}" + (f"; {hint}" if hint else ""))
    lines.append(" · ".join(modality_line(label, parts[key]) for key, label in (("speech", "Speech"),
                                                                                ("face", "Face"))))
    fusion = getattr(result, "fusion", None)
    if fusion is not None and fusion.note:
        lines.append(f"*Note: {one_line(fusion.note)}*")
    return "\n\n".join(lines)


def error_markdown(message: str, name: str | None = None) -> str:
    """The Markdown error box: what went wrong, on one line, never a traceback."""
    where = f" `{name}`" if name else ""
    return f"### Could not analyse{where}\n\n{one_line(message)}"


def live_faces_markdown(faces) -> str:
    """One line about the faces of a live frame (``FaceResult`` list): each one's id and top class."""
    if not faces:
        return "No face in view: face the camera, with light on your face."
    shown = [f"face {f.track_id if f.track_id is not None else i}: {f.emotion} ({max(f.probabilities.values()):.0%})"
             for i, f in enumerate(faces)]
    return f"{len(faces)} face{'s' if len(faces) != 1 else ''} — " + " · ".join(shown)
