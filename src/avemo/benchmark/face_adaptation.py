"""``avemo benchmark face-adaptation``: what per-person face adaptation does on the talking-face clips at hand.

Input: a folder of CREMA-D video clips (``{actor}_{sentence}_{EMO}_{level}.mp4``, e.g. ``../shared/data/cremad_sample``:
three clips of one actor) and the shipped face model. Each clip is scored three ways, face only:

- ``global``: the face model alone (each clip's main face, its frames pooled);
- ``per-file``: as ``avemo predict CLIPS --speaker-key ...`` does: each clip's pooled result is one picture of the
  actor, and the actor's clips adapt each of them (:class:`~avemo.inference.face_adaptation.FaceAdaptation`);
- ``stream``: as a live session with ``adapt_to_speaker`` does: the clip's frames in 1-second windows, each window
  adapted by the windows before it (the first window of a stream is global).

Scores: clip accuracy (the clip's pooled answer against its acted emotion) and window accuracy (stream). Writes
``summary.json`` and ``results.md``. With a handful of clips of one person this is a check of what adaptation
does, not an accuracy estimate; the README says so.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from avemo.data.recipes import get_corpus
from avemo.errors import ParameterError

CLIP_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


def crema_clips(data_dir: str | Path) -> list[tuple[Path, str, str]]:
    """``(clip, actor, emotion)`` of every CREMA-D-named mp4 in ``data_dir``.

    Raises:
        ParameterError: when the folder holds none.
    """
    labels = get_corpus("cremad").labels
    out = []
    for path in sorted(Path(data_dir).glob("*.mp4")):
        m = CLIP_NAME.match(path.stem)
        if m and m.group(3) in labels:
            out.append((path, m.group(1), labels[m.group(3)]))
    if not out:
        raise ParameterError(f"{data_dir}: no CREMA-D clips ({{actor}}_{{sentence}}_{{EMO}}_{{level}}.mp4); give "
                             "a folder such as ../shared/data/cremad_sample")
    return out


def run_face_adaptation_benchmark(data_dir: str | Path, out_dir: str | Path = "reports/face-adaptation",
                                  fps: float = 10.0, window: float = 1.0) -> dict[str, Any]:
    """Score the clips of ``data_dir`` global, per-file adapted and stream-adapted; write the report; return it."""
    from avemo.inference.engine import InferenceEngine, PredictOptions

    clips = crema_clips(data_dir)
    start = time.perf_counter()
    engine = InferenceEngine(modalities=("face",), options=PredictOptions(modality="face", fps=fps))
    classes = engine.face.classes
    rows: list[dict[str, Any]] = []
    results = {path: engine.predict_file(path) for path, _, _ in clips}
    by_actor: dict[str, Any] = {}
    for actor in sorted({a for _, a, _ in clips}):
        adaptation = engine.face_adaptation()
        for path, a, _ in clips:
            if a == actor:
                adaptation.add_result(results[path])
        by_actor[actor] = adaptation
    for path, actor, emotion in clips:
        result = results[path]
        adapted = by_actor[actor].adapt_result(result, actor)
        stream = _stream_windows(engine, result, window)
        rows.append({"clip": path.name, "actor": actor, "emotion": emotion,
                     "global": result.emotion, "per_file": adapted.emotion,
                     "per_file_message": adapted.message, "frames": len(result.frames),
                     "stream_windows": [{"end": round(e, 2), "global": g, "adapted": ad} for e, g, ad in stream]})
    summary = {"benchmark": "face-adaptation", "data": str(data_dir), "fps": fps, "window_seconds": window,
               "classes": list(classes), "n_clips": len(rows), "n_people": len(by_actor), "clips": rows,
               "accuracy": _accuracies(rows), "seconds": round(time.perf_counter() - start, 1),
               "note": "a handful of clips of one person: what adaptation does, not an accuracy estimate"}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "results.md").write_text(results_table(summary))
    return summary


def _stream_windows(engine, result, window: float) -> list[tuple[float, str, str]]:
    """``(window end, global answer, adapted answer)`` of the clip's frames in ``window``-second windows, each
    adapted by the windows before it (as a stream session with ``adapt_to_speaker`` does)."""
    from avemo.inference.face import pool_frames

    adaptation = engine.face_adaptation()
    classes = engine.face.classes
    out = []
    end = window
    last = result.frames[-1].time if result.frames else 0.0
    while end - window <= last:
        frames = [f for f in result.frames if end - window <= f.time < end]
        pooled = pool_frames(frames, classes, None, window)
        if pooled.probabilities:
            out.append((end, pooled.emotion, adaptation.adapt_and_learn(pooled).emotion))
        end += window
    return out


def _accuracies(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    def share(pairs):
        pairs = list(pairs)
        return float(np.mean([a == b for a, b in pairs])) if pairs else None

    windows = [(w, r["emotion"]) for r in rows for w in r["stream_windows"]]
    return {"clip_global": share((r["global"], r["emotion"]) for r in rows),
            "clip_per_file_adapted": share((r["per_file"], r["emotion"]) for r in rows),
            "window_global": share((w["global"], e) for w, e in windows),
            "window_stream_adapted": share((w["adapted"], e) for w, e in windows),
            "n_windows": len(windows)}


def results_table(summary: dict[str, Any]) -> str:
    """Markdown: each clip's acted emotion and the three answers, then the accuracies."""
    acc = summary["accuracy"]

    def pct(v):
        return "-" if v is None else f"{100 * v:.0f}%"

    lines = [f"{summary['n_clips']} clips of {summary['n_people']} person(s) from `{summary['data']}`, face only, "
             f"{summary['fps']:g} frames/s; {summary['note']}.", "",
             "| clip | acted | global | adapted per file (`--speaker-key`) | stream windows global / adapted |",
             "|---|---|---|---|---|"]
    for r in summary["clips"]:
        windows = " ".join(f"{w['global']}/{w['adapted']}" for w in r["stream_windows"])
        lines.append(f"| {r['clip']} | {r['emotion']} | {r['global']} | {r['per_file']} | {windows} |")
    lines += ["", f"Clip accuracy: global {pct(acc['clip_global'])}, adapted per file "
              f"{pct(acc['clip_per_file_adapted'])}. Window accuracy ({acc['n_windows']} windows of "
              f"{summary['window_seconds']:g} s): global {pct(acc['window_global'])}, stream-adapted "
              f"{pct(acc['window_stream_adapted'])}."]
    return "\n".join(lines) + "\n"
