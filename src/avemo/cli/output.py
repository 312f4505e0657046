"""What the ``avemo`` command prints: errors on one line, prediction results as text."""

from __future__ import annotations


def one_line(exc: Exception) -> str:
    """The message of ``exc`` on one line (runs of whitespace, newlines included, become one space)."""
    return " ".join(str(exc).split())


def result_text(result, indent: str = "", label: str | None = None) -> str:
    """A prediction result as text: the top emotion and every probability, then (indented) the modalities of a
    fused result, the faces of an image or video and the timeline windows (start-end seconds)."""
    from avemo.inference.results import FusedResult, Modality

    head = f"{indent}{label or result.path}:"
    if result.status == "uncertain":
        lines = [f"{head} uncertain (best guess {result.emotion} {result.confidence:.0%}; {result.message})  "
                 f"[{_probabilities(result.probabilities)}]"]
    elif result.status != "ok":
        lines = [f"{head} {result.status} ({result.message})"]
    else:
        lines = [f"{head} {result.emotion} ({result.confidence:.0%})  [{_probabilities(result.probabilities)}]"]
    if isinstance(result, FusedResult):
        if result.fusion is not None and result.fusion.note:
            lines.append(f"{indent}  note: {result.fusion.note}")
        for name, part in result.modalities.items():
            lines.append(result_text(part, indent + "  ", name))
    elif result.modality == Modality.FACE:
        video = bool(result.faces) and result.faces[0].track_id is not None
        if len(result.faces) > 1 or video:
            for k, face in enumerate(result.faces):
                box = ", ".join(f"{v:.0f}" for v in face.box)
                who = f"face {face.track_id if face.track_id is not None else k}"
                seen = f", {face.frames} frames" if face.track_id is not None else ""
                lines.append(f"{indent}  {who} [{box}]{seen}: {face.emotion} "
                             f"({max(face.probabilities.values()):.0%})")
        elif result.box is not None:
            lines.append(f"{indent}  face box [{', '.join(f'{v:.0f}' for v in result.box)}]")
    for seg in result.timeline:
        lines.append(f"{indent}  {seg.start:6.2f}-{seg.end:6.2f} s  {seg.emotion:<9} "
                     f"{seg.probabilities[seg.emotion]:.2f}")
    return "\n".join(lines)


def _probabilities(probabilities: dict) -> str:
    """``"happy 0.80  sad 0.10  …"``, most probable first."""
    return "  ".join(f"{k} {v:.2f}" for k, v in sorted(probabilities.items(), key=lambda kv: -kv[1]))
