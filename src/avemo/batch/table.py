"""Rows of the results table and the files they go to.

One row per input: ``path``, ``status``, ``error`` / ``error_type`` (empty when it worked), ``emotion``,
``confidence``, ``speaker`` (runs grouped by a speaker key), one ``p_<class>`` column per class, ``valence``,
``arousal``, ``duration``, ``modality`` and the ``timeline`` (a list of ``{start, end, emotion, confidence}``: a
nested column in Parquet, JSON text in CSV); the schema is :class:`avemo.inference.schema.BatchRow`.

While a run goes on, rows are written in parts (``<output>.parts/part-NNNNNN.jsonl``, each written whole then
renamed into place); the final table is assembled from them in input order and the parts are removed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from avemo.errors import AvemoError, ParameterError
from avemo.inference.results import PROBABILITY_PREFIX

FORMATS = {".parquet", ".jsonl", ".csv"}


def result_row(path: str, result: Any) -> dict[str, Any]:
    """The table row of one prediction (a result with ``to_dict()``) or of the error it raised."""
    if isinstance(result, AvemoError):
        return {"path": path, "status": "error", "error": " ".join(str(result).split()),
                "error_type": type(result).__name__}
    doc = result.to_dict()
    row = {"path": path, "status": str(doc.get("status")), "error": "", "error_type": "",
           "emotion": doc.get("emotion"), "confidence": doc.get("confidence"), "valence": doc.get("valence"),
           "arousal": doc.get("arousal"), "duration": doc.get("duration"), "modality": doc.get("modality"),
           "timeline": [{"start": float(w["start"]), "end": float(w["end"]), "emotion": w.get("emotion"),
                         "confidence": float(max((w.get("probabilities") or {"": 0.0}).values()))}
                        for w in doc.get("timeline") or []]}
    row.update({f"{PROBABILITY_PREFIX}{k}": float(v) for k, v in (doc.get("probabilities") or {}).items()})
    return row


def check_output(output: str | os.PathLike) -> Path:
    """The output path, checked.

    Raises:
        ParameterError: for an unsupported format or a folder that cannot be written.
    """
    path = Path(output)
    if path.suffix.lower() not in FORMATS:
        raise ParameterError(f"--output {str(path)!r}: choose a .parquet, .jsonl or .csv file")
    if path.is_dir():
        raise ParameterError(f"--output {str(path)!r} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"--output {str(path)!r}: cannot create its folder ({exc})") from None
    return path


def parts_dir(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


def write_part(output: Path, index: int, rows: Sequence[dict[str, Any]]) -> Path:
    """Write one part of rows whole (temporary file, then rename: a killed run leaves no half part)."""
    folder = parts_dir(output)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"part-{index:06d}.jsonl"
    tmp = final.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, final)
    return final


def read_done(output: Path) -> dict[str, dict[str, Any]]:
    """Rows already written, by path: those of the parts of an interrupted run, and of a finished table."""
    done: dict[str, dict[str, Any]] = {}
    if output.is_file():
        for row in read_table(output):
            done[row["path"]] = row
    folder = parts_dir(output)
    if folder.is_dir():
        for part in sorted(folder.glob("part-*.jsonl")):
            for line in part.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    done[row["path"]] = row
    return done


def next_part_index(output: Path) -> int:
    folder = parts_dir(output)
    indices = [int(p.stem.split("-")[1]) for p in folder.glob("part-*.jsonl")] if folder.is_dir() else []
    return max(indices, default=-1) + 1


def read_table(path: Path) -> list[dict[str, Any]]:
    """The rows of a results table written by :func:`write_table`."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    frame = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path, keep_default_na=False)
    rows = frame.to_dict("records")
    for row in rows:
        timeline = row.get("timeline")
        if isinstance(timeline, str):
            row["timeline"] = json.loads(timeline) if timeline else []
        elif timeline is not None:
            row["timeline"] = [dict(w) for w in timeline]
    return rows


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    fixed = ["path", "status", "error", "error_type", "emotion", "confidence"]
    probs = sorted({k for r in rows for k in r if k.startswith(PROBABILITY_PREFIX)})
    speaker = ["speaker"] if any("speaker" in r for r in rows) else []
    return fixed + speaker + probs + ["valence", "arousal", "duration", "modality", "timeline"]


def write_table(output: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write the final table (whole, then renamed into place) and remove the parts."""
    import pandas as pd

    columns = _columns(rows)
    tmp = output.with_name(output.name + ".tmp")
    suffix = output.suffix.lower()
    if suffix == ".jsonl":
        tmp.write_text("".join(json.dumps({c: r.get(c) for c in columns if c in r}) + "\n" for r in rows),
                       encoding="utf-8")
    else:
        frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
        frame["timeline"] = [r.get("timeline") or [] for r in rows]
        if suffix == ".csv":
            frame["timeline"] = [json.dumps(t) for t in frame["timeline"]]
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    os.replace(tmp, output)
    folder = parts_dir(output)
    if folder.is_dir():
        for part in folder.glob("part-*"):
            part.unlink()
        folder.rmdir()
