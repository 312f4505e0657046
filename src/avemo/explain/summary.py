"""A short text summary of an explanation (what ``avemo explain`` prints)."""

from __future__ import annotations

from typing import Any, Mapping


def summary(doc: Mapping[str, Any], out_dir: str | None = None, top: int = 3) -> str:
    """A few lines: the prediction, each modality's share, the ``top`` speech spans and feature groups, the faces
    and the files written (in ``out_dir`` when given)."""
    p = doc["prediction"]
    lines = [f"{doc['file']}: {p['emotion']} ({p['confidence']:.2f}, {p['modality']})"]
    if doc["status"] not in ("ok", "uncertain"):
        lines[0] = f"{doc['file']}: {doc['status']} ({doc.get('message', '')})"
    if doc["contributions"]:
        parts = []
        for c in doc["contributions"]:
            text = f"{c['modality']} {c['share']:.0%}"
            if c.get("drop_when_removed") is not None:
                text += f" (without it: {c['probability_without']:.2f})"
            if c.get("status"):
                text += f" ({c['status']})"
            parts.append(text)
        lines.append("  contributions: " + ", ".join(parts))
    spans = sorted((s for s in doc["speech_spans"] if not s.get("silent")), key=lambda s: -s["importance"])[:top]
    if spans:
        lines.append("  speech spans that mattered most: " + ", ".join(
            f"{s['start']:.2f}-{s['end']:.2f} s ({s['importance']:+.2f})" for s in spans))
    if doc["feature_groups"]:
        target = doc["methods"]["feature_groups"]["target"]
        lines.append(f"  feature groups for '{target}' (SHAP, logit): " + ", ".join(
            f"{g['group']} {g['shap']:+.2f}" for g in doc["feature_groups"][:top]))
    for k, face in enumerate(doc["faces"], start=1):
        where = f" at {face['frame_time']:.2f} s" if "frame_time" in face else ""
        lines.append(f"  face {k}{where}: {face['target']} -> {face['saliency_png'] or face.get('note', '')}")
    folder = f"{out_dir.rstrip('/')}/" if out_dir else ""
    files = ["explanation.json", *doc["pictures"]]
    lines.append(f"  wrote {folder}{{{', '.join(files)}}}" if len(files) > 1 else f"  wrote {folder}{files[0]}")
    return "\n".join(lines)
