"""``avemo predict SOURCES --output results.parquet``: a resumable batch run over folders and manifests, on the
local engine (one process, or ``workers`` processes each holding its own loaded models) or on Ray
(:mod:`avemo.batch.ray_engine`).

Inputs are predicted in chunks; each finished chunk's rows are written as a part at once, so a killed run loses
at most the chunks in flight, and running the same command again predicts only what is missing. A bad file is
a row with its error; the run goes on.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Iterator, Sequence

from avemo.batch.inputs import collect_inputs
from avemo.batch.table import check_output, next_part_index, read_done, result_row, write_part, write_table
from avemo.errors import AvemoError, ParameterError

_ENGINE: dict[str, Any] = {}  # the engine of this (worker) process


@dataclasses.dataclass(frozen=True)
class BatchSettings:
    """The models and options every worker builds its engine with."""

    speech_model: str | None = None
    face_model: str | None = None
    modality: str = "auto"
    fps: float | None = None
    window: float = 4.0
    step: float = 2.0
    speaker_key: str | None = None  # group audio by speaker and adapt the speech model to each (see chunks_of)
    adapt_for: str = "any"  # with speaker_key: the adapted head ("varied": each speaker's files span several emotions)


def _engine(settings: BatchSettings, paths: Sequence[str]):
    from avemo.inference.engine import InferenceEngine, PredictOptions, needed_modalities

    modalities = tuple(needed_modalities(paths, settings.modality))
    key = (settings, modalities)
    if _ENGINE.get("key") != key:
        options = PredictOptions(settings.modality, settings.fps, settings.window, settings.step)
        _ENGINE.update(key=key, engine=InferenceEngine(settings.speech_model, settings.face_model,
                                                      modalities=key[1], options=options))
    return _ENGINE["engine"]


def predict_chunk(settings: BatchSettings, modalities_of: Sequence[str], paths: Sequence[str]) -> list[dict]:
    """Rows of one chunk of paths (every worker loads its engine once, for the modalities of the whole run). A file
    that fails in a way avemo did not foresee is a row with its error too: a batch never stops on one file."""
    from threadpoolctl import threadpool_limits

    engine = _engine(settings, modalities_of)
    # BLAS (numpy's mel filter banks, scipy) with one thread: its idle threads spin, and with them one worker
    # used 1.8 cores for 7% fewer files/s than with one thread (files/s per core is what a batch is about).
    with threadpool_limits(limits=1, user_api="blas"):
        return _speaker_rows(engine, settings, paths) if settings.speaker_key else _rows(engine, paths)


def _rows(engine, paths: Sequence[str]) -> list[dict]:
    rows = []
    for path in paths:
        try:
            rows.append(result_row(path, engine.predict_file(path)))
        except AvemoError as exc:
            rows.append(result_row(path, exc))
        except Exception as exc:  # noqa: BLE001 - one bad file must not end a run of thousands
            rows.append({"path": path, "status": "error", "error_type": type(exc).__name__,
                         "error": f"unexpected error, please report it: {' '.join(str(exc).split())[:300]}"})
    return rows


def _speaker_rows(engine, settings: BatchSettings, paths: Sequence[str]) -> list[dict]:
    """Rows of one speaker's files, each predicted with the model adapted to that speaker's recordings."""
    from avemo.inference.adaptation import predict_files_by_speaker, speaker_of

    rows = [result_row(path, result) for path, result in
            predict_files_by_speaker(engine, paths, settings.speaker_key, adapt_for=settings.adapt_for)]
    for row in rows:
        try:
            row["speaker"] = speaker_of(row["path"], settings.speaker_key)
        except AvemoError:
            row["speaker"] = None
    return rows


def chunks_of(todo: Sequence[str], settings: BatchSettings, chunk_size: int) -> list[list[str]]:
    """The units of work: ``chunk_size`` files, or with a speaker key every file of one speaker (the adaptation
    needs them together; a speaker's files are written as one part, so a resumed run redoes them together)."""
    if not settings.speaker_key:
        return [list(todo[i:i + chunk_size]) for i in range(0, len(todo), chunk_size)]
    from avemo.inference.adaptation import speaker_of

    groups: dict[str | None, list[str]] = {}
    for path in todo:
        try:
            speaker = speaker_of(path, settings.speaker_key)
        except AvemoError:
            speaker = None  # the rows say why
        groups.setdefault(speaker, []).append(path)
    return list(groups.values())


def one_thread() -> None:
    """One compute thread per worker process (the workers are the parallelism)."""
    import torch

    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def _local_chunks(settings: BatchSettings, paths: Sequence[str], chunks: Sequence[Sequence[str]], workers: int
                  ) -> Iterator[list[dict]]:
    if workers == 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield predict_chunk(settings, paths, chunk)
        return
    import multiprocessing as mp

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=one_thread) as pool:
        futures = [pool.submit(predict_chunk, settings, paths, chunk) for chunk in chunks]
        for future in as_completed(futures):
            yield future.result()


def run_batch(sources: Sequence[str | os.PathLike], output: str | os.PathLike,
              settings: BatchSettings = BatchSettings(), workers: int = 1, chunk_size: int = 16,
              progress: bool | None = None, engine: str = "local", address: str | None = None) -> dict[str, Any]:
    """Predict every input of ``sources`` into the table ``output`` (see the module docstring); returns the
    summary: counts done / failed by error type, files/s.

    ``engine``: ``local`` (processes on this machine) or ``ray`` (Ray Data over an actor pool of ``workers``
    actors, on a local Ray or the cluster at ``address``); both write the same table.

    Raises:
        ParameterError: for a bad output path, a bad manifest, no inputs, non-positive workers / chunk size, an
            unknown engine, or Ray missing / unreachable.
    """
    from tqdm.auto import tqdm

    if workers < 1 or chunk_size < 1:
        raise ParameterError("--workers and --batch-size must be >= 1")
    if engine not in ("local", "ray"):
        raise ParameterError(f"--engine {engine!r}: choose local or ray")
    if address and engine != "ray":
        raise ParameterError("--address is the Ray cluster to use; add --engine ray")
    out = check_output(output)
    paths = collect_inputs(sources)
    done = read_done(out)
    todo = [p for p in paths if p not in done]
    part = next_part_index(out)
    start = time.perf_counter()
    bar = tqdm(total=len(paths), initial=len(paths) - len(todo), unit="file", desc="predict",
               disable=None if progress is None else not progress)
    if engine == "ray" and todo:
        from avemo.batch.ray_engine import predict_chunks_on_ray, shutdown_ray

        batches = predict_chunks_on_ray(settings, paths, chunks_of(todo, settings, chunk_size), workers, address)
    else:
        shutdown_ray = None
        batches = _local_chunks(settings, paths, chunks_of(todo, settings, chunk_size), workers)
    try:
        for rows in batches:
            write_part(out, part, rows)
            part += 1
            done.update((r["path"], r) for r in rows)
            bar.update(len(rows))
    finally:
        bar.close()
        if shutdown_ray is not None and not address:
            shutdown_ray()
    seconds = time.perf_counter() - start
    rows = [done[p] for p in paths]
    write_table(out, rows)
    failed = Counter(r.get("error_type") or "error" for r in rows if r.get("status") == "error")
    return {"output": str(out), "engine": engine, "workers": workers, "inputs": len(paths),
            "predicted_now": len(todo), "already_done": len(paths) - len(todo),
            "failed": sum(failed.values()), "failed_by_type": dict(failed), "seconds": round(seconds, 1),
            "files_per_second": round(len(todo) / seconds, 2) if todo and seconds > 0 else None}


def summary_line(summary: dict[str, Any]) -> str:
    """One line for the terminal."""
    failed = ", ".join(f"{k} {v}" for k, v in summary["failed_by_type"].items())
    rate = f", {summary['files_per_second']} files/s" if summary["files_per_second"] else ""
    return (f"avemo: {summary['inputs']} inputs -> {Path(summary['output'])}: {summary['predicted_now']} predicted now"
            f" ({summary['already_done']} already done){rate}; {summary['failed']} failed"
            + (f" ({failed})" if failed else ""))
