"""Readers for OpenFace 2.0 ``FeatureExtraction`` output: action units (AUs) per frame and per clip.

OpenFace writes one CSV per video with a row per frame (``frame, face_id, timestamp, confidence, success,
gaze…, pose…, landmarks…, AU01_r … AU45_r, AU01_c … AU45_c``), column names padded with a leading space
(``" AU01_r"``). AU columns are only written when OpenFace runs with ``-aus`` (or with no output flag).

Clip-level tables (one row per clip, e.g. the RAVDESS ``openface_au_mean.csv`` released by Luna-Jiménez
et al. 2021) hold statistics of the same 35 AU columns plus a clip ``name`` column.

The canonical order of the 35 AU columns (:data:`AU_COLUMNS`) is the order OpenFace writes them:
17 intensities ``AU*_r`` (0-5), then 18 presence flags ``AU*_c`` (0/1; the same AUs plus AU28).
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from avemo.errors import FeatureFileError, NoFaceError, ParameterError

#: AUs whose intensity (``_r``, 0-5) OpenFace 2.0 estimates.
AU_INTENSITY_CODES: tuple[str, ...] = ("01", "02", "04", "05", "06", "07", "09", "10", "12", "14", "15", "17",
                                       "20", "23", "25", "26", "45")
#: AUs whose presence (``_c``, 0/1) OpenFace 2.0 estimates: the intensity AUs plus AU28 (lip suck).
AU_PRESENCE_CODES: tuple[str, ...] = ("01", "02", "04", "05", "06", "07", "09", "10", "12", "14", "15", "17",
                                      "20", "23", "25", "26", "28", "45")
#: Intensity columns, in OpenFace's order.
AU_INTENSITY_COLUMNS: tuple[str, ...] = tuple(f"AU{c}_r" for c in AU_INTENSITY_CODES)
#: Presence columns, in OpenFace's order.
AU_PRESENCE_COLUMNS: tuple[str, ...] = tuple(f"AU{c}_c" for c in AU_PRESENCE_CODES)
#: The 35 AU columns in canonical order (17 ``_r`` then 18 ``_c``).
AU_COLUMNS: tuple[str, ...] = AU_INTENSITY_COLUMNS + AU_PRESENCE_COLUMNS

#: Statistics :func:`au_clip_statistics` knows, besides quantiles written ``"q<percent>"`` (``"q90"``).
BASIC_STATISTICS: tuple[str, ...] = ("mean", "std", "min", "max", "median")

_SEPARATORS = (",", ";", "\t")
_QUANTILE = re.compile(r"^q(\d{1,2}(?:\.\d+)?)$")


def _check_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FeatureFileError(f"OpenFace file {str(p)!r} does not exist or is not a file")
    if p.stat().st_size == 0:
        raise FeatureFileError(f"OpenFace file {str(p)!r} is empty; re-run OpenFace FeatureExtraction on the video")
    return p


def _header_line(p: Path) -> str:
    with open(p, encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            if line.strip():
                return line
    raise FeatureFileError(f"OpenFace file {str(p)!r} has no header line (only blank lines)")


def detect_separator(path: str | os.PathLike) -> str:
    """The field separator of a CSV file (``","``, ``";"`` or tab), chosen as the one splitting its header most.

    Raises:
        FeatureFileError: if the file is missing or empty.
    """
    header = _header_line(_check_file(path))
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


def _read_table(path: str | os.PathLike, sep: str | None) -> tuple[pd.DataFrame, str]:
    p = _check_file(path)
    detected = detect_separator(p)
    use = detected if sep is None else sep
    try:
        df = pd.read_csv(p, sep=use, skipinitialspace=True, quoting=csv.QUOTE_MINIMAL)
    except pd.errors.EmptyDataError:
        raise FeatureFileError(f"OpenFace file {str(p)!r} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FeatureFileError(f"cannot parse {str(p)!r} as a {use!r}-separated table: {first}") from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.shape[1] <= 1 and detected != use:
        raise FeatureFileError(f"{str(p)!r} has a single column when split on {use!r}; it looks "
                               f"{detected!r}-separated: pass sep={detected!r} or sep=None to detect it")
    return df, use


def _require_au_columns(df: pd.DataFrame, p: str | os.PathLike, what: str) -> None:
    missing = [c for c in AU_COLUMNS if c not in df.columns]
    if missing:
        shown = ", ".join(missing[:8]) + (f" … ({len(missing)} in all)" if len(missing) > 8 else "")
        raise FeatureFileError(f"{what} {str(p)!r} lacks AU column(s) {shown}; run OpenFace FeatureExtraction "
                               f"with -aus (OpenFace 2.0 writes all 35: 17 AU*_r and 18 AU*_c)")


def _numeric_columns(df: pd.DataFrame, columns: Sequence[str], p: str | os.PathLike) -> pd.DataFrame:
    out = df.copy()
    for c in columns:
        values = pd.to_numeric(out[c], errors="coerce")
        bad = values.isna() & out[c].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise FeatureFileError(f"{str(p)!r}: column {c} has a non-numeric value {out[c].iloc[row]!r} "
                                   f"(data row {row + 1})")
        out[c] = values.astype(np.float64)
    return out


def read_openface_frames(path: str | os.PathLike, *, drop_failed: bool = True, min_confidence: float = 0.0,
                         sep: str | None = None) -> pd.DataFrame:
    """Read one OpenFace 2.0 per-frame CSV and validate it.

    Column names are stripped of OpenFace's leading spaces. The 35 AU columns become float64.

    Args:
        path: the CSV FeatureExtraction wrote for one video (or image sequence).
        drop_failed: drop rows where ``success == 0`` (OpenFace failed to track the face), and rows below
            ``min_confidence``; the remaining rows keep their original index.
        min_confidence: minimal ``confidence`` (0-1) of a kept row; only used with ``drop_failed``.
        sep: field separator; ``None`` detects ``","``, ``";"`` or tab from the header.

    Raises:
        FeatureFileError: missing or empty file, wrong separator, missing AU columns, non-numeric values.
        NoFaceError: if ``drop_failed`` and no row has a tracked face.
    """
    df, _ = _read_table(path, sep)
    _require_au_columns(df, path, "OpenFace file")
    if df.empty:
        raise FeatureFileError(f"OpenFace file {str(path)!r} has a header but no frames")
    numeric = list(AU_COLUMNS) + [c for c in ("frame", "face_id", "timestamp", "confidence", "success")
                                  if c in df.columns]
    df = _numeric_columns(df, numeric, path)
    if drop_failed:
        keep = np.ones(len(df), dtype=bool)
        if "success" in df.columns:
            keep &= df["success"].to_numpy() == 1
        if min_confidence > 0 and "confidence" in df.columns:
            keep &= df["confidence"].to_numpy() >= min_confidence
        if not keep.any():
            raise NoFaceError(f"OpenFace tracked no face in {str(path)!r}: all {len(df)} frame(s) have success=0"
                              + (f" or confidence < {min_confidence}" if min_confidence > 0 else ""))
        df = df[keep]
    return df


def _parse_stat(stat: str) -> tuple[str, float | None]:
    s = stat.strip().lower()
    if s in BASIC_STATISTICS:
        return s, None
    m = _QUANTILE.match(s)
    if m and 0 <= float(m.group(1)) <= 100:
        return s, float(m.group(1)) / 100.0
    raise ParameterError(f"unknown AU statistic {stat!r}; use one of {list(BASIC_STATISTICS)} or a quantile "
                         f"'q<percent>' such as 'q10' or 'q90'")


def au_statistic_names(stats: Sequence[str] = ("mean",)) -> list[str]:
    """Names of the values :func:`au_clip_statistics` returns: ``"AU01_r_mean"``, …, ``"AU45_c_q90"``.

    The order is statistic-major: all 35 AUs for the first statistic, then for the next.

    Raises:
        ParameterError: for an unknown statistic.
    """
    if isinstance(stats, str):
        stats = (stats,)
    return [f"{col}_{_parse_stat(s)[0]}" for s in stats for col in AU_COLUMNS]


def au_clip_statistics(frames: pd.DataFrame, stats: Sequence[str] = ("mean",), *,
                       only_successful: bool = True) -> np.ndarray:
    """Clip-level statistics of the 35 AU columns over the frames of one clip.

    With ``stats=("mean",)`` this gives the 35 values of a row of a clip-mean table such as the shared
    RAVDESS ``openface_au_mean.csv`` (same columns, same order: :data:`AU_COLUMNS`).

    Args:
        frames: per-frame table, e.g. from :func:`read_openface_frames`.
        stats: any of ``"mean"``, ``"std"`` (population, ddof=0), ``"min"``, ``"max"``, ``"median"`` and
            quantiles ``"q<percent>"``; names of the output values come from :func:`au_statistic_names`.
        only_successful: use only rows with ``success == 1`` when a ``success`` column is present.

    Returns:
        float32 vector of ``35 * len(stats)`` values, statistic-major.

    Raises:
        FeatureFileError: if AU columns are missing.
        NoFaceError: if no usable frame is left.
        ParameterError: for an unknown statistic or an empty ``stats``.
    """
    if isinstance(stats, str):
        stats = (stats,)
    if len(stats) == 0:
        raise ParameterError("au_clip_statistics: stats is empty; pass e.g. ('mean',) or ('mean', 'std')")
    parsed = [_parse_stat(s) for s in stats]
    if not isinstance(frames, pd.DataFrame):
        raise ParameterError(f"au_clip_statistics expects a pandas DataFrame, got {type(frames).__name__}")
    frames = frames.rename(columns=lambda c: str(c).strip())
    _require_au_columns(frames, "<frames>", "per-frame table")
    if only_successful and "success" in frames.columns:
        frames = frames[pd.to_numeric(frames["success"], errors="coerce").to_numpy() == 1]
    if len(frames) == 0:
        raise NoFaceError("no frame with a tracked face (success=1) to compute AU statistics from")
    values = frames[list(AU_COLUMNS)].to_numpy(dtype=np.float64)
    out = []
    for name, q in parsed:
        if q is not None:
            out.append(np.quantile(values, q, axis=0))
        elif name == "mean":
            out.append(values.mean(axis=0))
        elif name == "std":
            out.append(values.std(axis=0))
        elif name == "min":
            out.append(values.min(axis=0))
        elif name == "max":
            out.append(values.max(axis=0))
        else:  # median
            out.append(np.median(values, axis=0))
    return np.concatenate(out).astype(np.float32)


def read_au_clip_table(path: str | os.PathLike, *, name_column: str = "name",
                       sep: str | None = None) -> pd.DataFrame:
    """Read a clip-level AU table (one row per clip) indexed by clip name.

    The 35 AU columns come first, in canonical order, as float64; any other columns (``speech``, ``path``,
    ``index`` in the RAVDESS release) follow unchanged. Select ``df[list(AU_COLUMNS)]`` for features.

    Args:
        path: the table, e.g. ``ravdess/openface_au_mean.csv`` (``;``-separated).
        name_column: the column holding the clip name (becomes the index).
        sep: field separator; ``None`` detects ``","``, ``";"`` or tab from the header.

    Raises:
        FeatureFileError: missing or empty file, wrong separator, missing AU or name column, non-numeric
            or missing AU values, duplicate clip names.
    """
    df, _ = _read_table(path, sep)
    _require_au_columns(df, path, "AU table")
    if name_column not in df.columns:
        raise FeatureFileError(f"AU table {str(path)!r} has no {name_column!r} column; its columns are "
                               f"{[c for c in df.columns if c not in AU_COLUMNS]} besides the AUs "
                               f"(pass name_column=...)")
    if df.empty:
        raise FeatureFileError(f"AU table {str(path)!r} has a header but no rows")
    df = _numeric_columns(df, AU_COLUMNS, path)
    nan_rows = df[list(AU_COLUMNS)].isna().any(axis=1).to_numpy()
    if nan_rows.any():
        row = int(np.flatnonzero(nan_rows)[0])
        raise FeatureFileError(f"AU table {str(path)!r}: {int(nan_rows.sum())} row(s) have missing AU values "
                               f"(first: data row {row + 1})")
    names = df[name_column].astype(str).str.strip()
    dup = names[names.duplicated()]
    if len(dup):
        raise FeatureFileError(f"AU table {str(path)!r}: clip name {dup.iloc[0]!r} appears more than once "
                               f"({len(dup)} duplicate(s))")
    others = [c for c in df.columns if c not in AU_COLUMNS and c != name_column]
    out = df[list(AU_COLUMNS) + others].copy()
    out.index = pd.Index(names.to_numpy(), name=name_column)
    return out
