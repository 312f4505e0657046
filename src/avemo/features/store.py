"""On-disk feature cache keyed by file content and extractor config.

Layout: ``<root>/<extractor>/<config-hash>/<content-hash[:2]>/<content-hash>.npy`` plus a ``config.json``
per config folder. Arrays are saved with ``allow_pickle=False`` and read the same way; an entry that fails
to load (corrupt, truncated) is recomputed and overwritten.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from avemo.features.base import FeatureExtractor


def default_cache_dir() -> Path:
    """``$AVEMO_CACHE`` if set, else ``~/.cache/avemo``."""
    return Path(os.environ.get("AVEMO_CACHE", Path.home() / ".cache" / "avemo"))


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def config_digest(key: dict) -> str:
    """Short SHA-256 of a JSON-able config dict."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


class FeatureStore:
    """Cache of extracted features. ``FeatureStore(None)`` computes without caching."""

    def __init__(self, root: str | os.PathLike | None = "default") -> None:
        self.root = None if root is None else (default_cache_dir() / "features" if root == "default" else Path(root))

    def _entry(self, extractor: "FeatureExtractor", digest: str) -> Path:
        key = extractor.cache_key()
        folder = self.root / extractor.name / config_digest(key)
        if not (folder / "config.json").exists():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "config.json").write_text(json.dumps(key, indent=1, sort_keys=True, default=str))
        return folder / digest[:2] / f"{digest}.npy"

    def load(self, entry: Path) -> np.ndarray | None:
        """The cached array, or ``None`` when absent or unreadable (a corrupt entry is removed)."""
        if not entry.exists():
            return None
        try:
            return np.load(entry, allow_pickle=False)
        except (ValueError, OSError, EOFError):
            entry.unlink(missing_ok=True)
            return None

    def save(self, entry: Path, array: np.ndarray) -> None:
        """Write atomically, so an interrupted run never leaves a half-written entry."""
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.save(f, np.asarray(array), allow_pickle=False)
        os.replace(tmp, entry)

    def get(self, extractor: "FeatureExtractor", path: str | os.PathLike) -> np.ndarray:
        """Features of one file, from the cache when present."""
        return self.get_many(extractor, [path], progress=False)[0]

    def get_many(self, extractor: "FeatureExtractor", paths: Sequence[str | os.PathLike],
                 progress: bool = True, jobs: int = 1, errors: dict[int, str] | None = None) -> list[np.ndarray]:
        """Features of many files in input order; only cache misses are computed (in ``jobs`` processes).

        ``errors``: when given, a file that cannot be read (an :class:`~avemo.errors.AvemoError`: undecodable,
        too short, ...) gets ``None`` in the result and its one-line message under its index here, and the rest
        go on; without it the error is raised."""
        results: list[np.ndarray | None] = [None] * len(paths)
        entries: list[Path | None] = [None] * len(paths)
        if self.root is not None:
            for i, p in enumerate(paths):
                entries[i] = self._entry(extractor, file_digest(p))
                results[i] = self.load(entries[i])
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            bar = tqdm(total=len(missing), desc=f"extract {extractor.name}", disable=not progress, unit="file")
            process = functools.partial(_process_or_error, extractor.process_file)
            if jobs > 1 and len(missing) > 8:
                with ProcessPoolExecutor(jobs, initializer=_limit_threads) as pool:
                    outcomes = pool.map(process, [paths[i] for i in missing], chunksize=8)
                    for i, outcome in zip(missing, outcomes):
                        results[i] = self._outcome(entries[i], outcome, i, errors)
                        bar.update()
            else:
                for i in missing:
                    results[i] = self._outcome(entries[i], process(paths[i]), i, errors)
                    bar.update()
            bar.close()
        return results  # type: ignore[return-value]

    def _outcome(self, entry: Path | None, outcome: tuple, index: int, errors: dict[int, str] | None
                 ) -> np.ndarray | None:
        """Store an extracted array; for a file that failed, record its message in ``errors`` (or raise)."""
        array, error = outcome
        if error is None:
            return self._store(entry, array)
        if errors is None:
            raise error
        errors[index] = " ".join(str(error).split())
        return None

    def _store(self, entry: Path | None, array: np.ndarray) -> np.ndarray:
        if entry is not None:
            self.save(entry, array)
        return array


def extract_all(recordings, extractors: Sequence[str] | dict, store: FeatureStore, jobs: int = 1,
                errors: dict[int, str] | None = None) -> tuple[dict[str, list[np.ndarray]], dict[str, float]]:
    """Features of every recording of a corpus (read from ``store`` or extracted), and seconds per extractor.

    ``recordings``: objects with a ``path`` (e.g. :class:`avemo.data.manifest.Recording`). ``extractors``: extractor
    names, or a ``{feature key: extractor}`` dict (see :meth:`avemo.systems.spec.SystemSpec.feature_extractors`);
    the returned features are keyed the same way, one array per recording in input order. ``errors``: see
    :meth:`FeatureStore.get_many` (a recording that failed has ``None`` features).
    """
    from avemo.features.base import create_extractor

    if not isinstance(extractors, dict):
        extractors = {n: create_extractor(n) for n in extractors}
    paths = [r.path for r in recordings]
    features, seconds = {}, {}
    for key, extractor in extractors.items():
        start = time.perf_counter()
        features[key] = store.get_many(extractor, paths, progress=True, jobs=jobs, errors=errors)
        seconds[key] = round(time.perf_counter() - start, 1)
    return features, seconds


def _process_or_error(process, path: str | os.PathLike) -> tuple[np.ndarray | None, Exception | None]:
    """``(features, None)``, or ``(None, error)`` for a file avemo cannot read (so one bad file stops nothing)."""
    from avemo.errors import AvemoError

    try:
        return process(path), None
    except AvemoError as exc:
        return None, exc


def _limit_threads() -> None:
    """Worker initializer: one BLAS/torch thread per process, so ``jobs`` processes share the cores fairly."""
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
