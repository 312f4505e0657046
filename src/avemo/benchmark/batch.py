"""``avemo benchmark batch``: batch throughput of ``avemo predict … --output`` on a speech archive (RAVDESS's
1440 clips by default, else a generated archive of synthetic voices): files/s and real-time factor for 1 and 2
workers on the local engine and on Ray, then a long run (10,000 files, links into the same archive) whose
per-worker memory is sampled from start to end. Writes ``summary.json`` and ``results.md``; the README's batch
figures come from them."""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from avemo.errors import ParameterError
from avemo.inference.results import PREDICTED, PROBABILITY_PREFIX

#: Cluster sizes the report projects its measured rates onto (nodes of this many cores).
PROJECTED_NODES, CORES_PER_NODE = (1, 4, 16, 64), 16
#: Seconds between samples of the workers' memory in the long run.
MEMORY_SAMPLE_SECONDS = 2.0


def _archive(data_dir: str | os.PathLike | None, scratch: Path, n_synthetic: int = 400) -> tuple[list[str], str]:
    """The speech files of ``data_dir`` (e.g. RAVDESS speech16k), or ``n_synthetic`` generated voices."""
    from avemo.batch.inputs import collect_inputs

    if data_dir:
        if not Path(data_dir).is_dir():
            raise ParameterError(f"--data {str(data_dir)!r} is not a folder; give a folder of audio files, e.g. "
                                 "../shared/data/ravdess/speech16k")
        files = collect_inputs([data_dir])
        return files, str(data_dir)
    import soundfile as sf

    from avemo.io.synth import synth_voice

    folder = scratch / "synthetic"
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n_synthetic):
        sf.write(folder / f"voice{k:05d}.wav", synth_voice(3.5, 100 + (k * 7) % 200, 16000, seed=k), 16000)
    return collect_inputs([folder]), f"{n_synthetic} synthetic 3.5 s voices"


def _linked(files: Sequence[str], n: int, folder: Path) -> Path:
    """A folder of ``n`` symbolic links cycling through ``files`` (a large archive without copying audio)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        source = Path(files[k % len(files)])
        os.symlink(os.path.abspath(source), folder / f"{k:06d}{source.suffix}")
    return folder


class _WorkerMemory:
    """Samples the resident memory (MB) of this process's worker processes every ``period`` seconds."""

    def __init__(self, period: float | None = None, min_mb: float = 100.0) -> None:
        self.period, self.min_mb, self.samples = period or MEMORY_SAMPLE_SECONDS, min_mb, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(self.period):
            rss = []
            for child in me.children(recursive=True):
                try:
                    mb = child.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                if mb >= self.min_mb:  # the workers, not the small helper processes
                    rss.append(mb)
            if rss:
                self.samples.append((time.perf_counter(), sorted(rss)))

    def __enter__(self) -> "_WorkerMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def start_end(self) -> dict[str, Any]:
        """Per-worker RSS a tenth into the run (models loaded, warmed up) and at its end, and the largest seen."""
        if len(self.samples) < 2:
            return {"start_mb": None, "end_mb": None, "max_mb": None, "samples": len(self.samples)}
        t0, t1 = self.samples[0][0], self.samples[-1][0]
        # "start": a tenth into the run, when every worker has loaded its models and warmed up
        first = next(rss for t, rss in self.samples if t >= t0 + 0.1 * (t1 - t0))
        last = self.samples[-1][1]
        return {"start_mb": [round(v, 1) for v in first], "end_mb": [round(v, 1) for v in last],
                "max_mb": round(max(max(s) for _, s in self.samples), 1), "samples": len(self.samples),
                "end_over_start": round(sum(last) / sum(first), 3)}


def _timed_run(sources: Sequence[str], out: Path, engine: str, workers: int, batch_size: int,
               speech_model: str | None) -> dict[str, Any]:
    from avemo.batch.run import BatchSettings, run_batch
    from avemo.batch.table import read_table

    import torch

    threads = torch.get_num_threads()
    if engine == "local" and workers == 1:
        torch.set_num_threads(1)  # one worker = one thread, in this process (more workers are processes of one)
    start = time.perf_counter()
    try:
        summary = run_batch(sources, out, BatchSettings(speech_model=speech_model), workers=workers,
                            chunk_size=batch_size, progress=False, engine=engine)
    finally:
        torch.set_num_threads(threads)
    wall = time.perf_counter() - start
    rows = read_table(out)
    audio = sum(float(r["duration"]) for r in rows if r.get("status") in PREDICTED and r.get("duration"))
    return {"engine": engine, "workers": workers, "files": summary["inputs"], "failed": summary["failed"],
            "wall_seconds": round(wall, 1), "files_per_second": round(summary["inputs"] / wall, 2),
            "audio_seconds": round(audio, 1), "x_real_time": round(audio / wall, 1),
            "real_time_factor": round(wall / audio, 4) if audio else None, "table": _fingerprint(rows)}


def _fingerprint(rows: Sequence[dict]) -> list[tuple]:
    """What must agree between engines and worker counts: path, status, emotion, probabilities (4 decimals)."""
    return [(r["path"], r["status"], r.get("emotion") if r.get("status") in PREDICTED else None,
             tuple(round(float(v), 4) for k, v in sorted(r.items()) if k.startswith(PROBABILITY_PREFIX) and v == v))
            for r in rows]


def _same_tables(runs: list[dict]) -> bool:
    """True when every run wrote the same table (and drops the fingerprints from the runs)."""
    tables = [r.pop("table") for r in runs]
    return all(t == tables[0] for t in tables)


def run_batch_benchmark(out_dir: str | os.PathLike = "reports/batch", data_dir: str | os.PathLike | None = None,
                        engines: Sequence[str] = ("local", "ray"), workers: Sequence[int] = (1, 2),
                        large_files: int = 10000, batch_size: int = 16, speech_model: str | None = None,
                        synthetic_files: int = 400) -> dict[str, Any]:
    """Run the benchmark (module docstring) and write ``out_dir``; returns the summary.

    Raises:
        ParameterError: for a bad --data folder, an unknown engine or non-positive sizes.
    """
    if large_files < 0 or batch_size < 1 or not workers or min(workers) < 1:
        raise ParameterError("the large run's file count, --batch-size and --workers must be positive")
    scratch = Path(tempfile.mkdtemp(prefix="avemo-batch-"))
    try:
        files, source = _archive(data_dir, scratch, synthetic_files)
        manifest = scratch / "archive.csv"
        manifest.write_text("path\n" + "".join(f"{os.path.abspath(p)}\n" for p in files))
        runs = []
        for engine in engines:
            for n in workers:
                runs.append(_timed_run([str(manifest)], scratch / f"{engine}-{n}.parquet", engine, n, batch_size,
                                       speech_model))
                print(f"batch {engine} x{n}: {runs[-1]['files_per_second']} files/s", flush=True)
        same = _same_tables(runs)
        large = None
        if large_files:
            folder = _linked(files, large_files, scratch / "large")
            with _WorkerMemory() as memory:
                large = _timed_run([str(folder)], scratch / "large.parquet", "local", max(workers), batch_size,
                                   speech_model)
            large["worker_rss"] = memory.start_end()
            large.pop("table")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    machine = {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
               "python": platform.python_version()}
    summary = {"benchmark": "batch", "archive": source, "speech_model": speech_model or "speech-multicorpus",
               "files": len(files), "batch_size": batch_size, "runs": runs, "same_table_every_run": same,
               "large_run": large, "machine": machine}
    summary.update(_derived(runs))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(results_text(summary))
    return summary


def _rate(runs: Sequence[dict], engine: str, workers: int) -> float | None:
    return next((r["files_per_second"] for r in runs if r["engine"] == engine and r["workers"] == workers), None)


def _derived(runs: Sequence[dict]) -> dict[str, Any]:
    """Speed-ups, Ray's overhead, and what a cluster would give (from the measured per-worker rate)."""
    local1, local2, ray1, ray2 = (_rate(runs, e, n) for e, n in (("local", 1), ("local", 2), ("ray", 1), ("ray", 2)))
    out: dict[str, Any] = {}
    if local1 and local2:
        out["local_speedup_2_workers"] = round(local2 / local1, 2)
    if ray2 and local2:
        out["ray_vs_local_2_workers"] = round(ray2 / local2, 3)
    if ray1 and local1:
        out["ray_vs_local_1_worker"] = round(ray1 / local1, 3)
    per_worker = (ray2 / 2) if ray2 else (ray1 or None)
    if per_worker:
        out["projection"] = {
            "per_worker_files_per_second": round(per_worker, 2), "cores_per_node": CORES_PER_NODE,
            "files_per_second_by_nodes": {str(n): round(n * CORES_PER_NODE * per_worker, 1)
                                          for n in PROJECTED_NODES},
            "hours_for_a_million_files_by_nodes": {str(n): round(1e6 / (n * CORES_PER_NODE * per_worker) / 3600, 2)
                                                   for n in PROJECTED_NODES}}
    return out


def results_text(s: dict[str, Any]) -> str:
    """The README's section on batch throughput."""
    lines = [f"`avemo benchmark batch` on {s['archive']} ({s['files']} files), batches of {s['batch_size']}, this "
             f"{s['machine']['cpu_count']}-core machine (each worker one thread, its own models):", "",
             "| engine | workers | files/s | x real time | real-time factor | wall s | failed |",
             "|---|---|---|---|---|---|---|"]
    for r in s["runs"]:
        lines.append(f"| {r['engine']} | {r['workers']} | {r['files_per_second']} | {r['x_real_time']} | "
                     f"{r['real_time_factor']} | {r['wall_seconds']} | {r['failed']} |")
    lines.append("")
    lines.append(f"- Every run wrote the same table (paths, statuses, emotions, probabilities to 4 decimals): "
                 f"**{'yes' if s.get('same_table_every_run') else 'NO'}**")
    if "local_speedup_2_workers" in s:
        lines.append(f"- 2 workers / 1 worker (local): **x{s['local_speedup_2_workers']}** (target >= 1.8)")
    if "ray_vs_local_2_workers" in s:
        lines.append(f"- Ray / local at 2 workers: **{s['ray_vs_local_2_workers']:.0%}** of the local throughput "
                     "(target >= 85%; Ray starts its runtime and actors inside the timed run)")
    large = s.get("large_run")
    if large:
        rss = large["worker_rss"]
        lines.append(f"- {large['files']} files, local engine, {large['workers']} workers: {large['files_per_second']} "
                     f"files/s, {large['failed']} failed; worker RSS {rss['start_mb']} MB a tenth into the run -> "
                     f"{rss['end_mb']} MB at the end (x{rss.get('end_over_start')}, {rss['samples']} samples)")
    p = s.get("projection")
    if p:
        nodes = ", ".join(f"{n} nodes ~{v:g} files/s ({p['hours_for_a_million_files_by_nodes'][n]} h per million)"
                          for n, v in p["files_per_second_by_nodes"].items())
        lines.append(f"- A cluster, from the measured {p['per_worker_files_per_second']} files/s per Ray worker with "
                     f"{p['cores_per_node']}-core nodes (one worker per core, files on shared storage; the rate "
                     f"includes Ray's start-up and per-batch overhead as measured here): {nodes}. Ray Data moves only "
                     "paths in and JSON rows out, so the projection is linear until the shared storage or the one "
                     "driver that writes the parts limits it (not measured: this machine is one node).")
    lines.append("")
    lines.append("From `reports/batch/summary.json` (`avemo benchmark batch --data ../shared/data/ravdess/speech16k`).")
    return "\n".join(lines) + "\n"
