"""``avemo benchmark serve``: the REST service under load. Starts ``avemo serve`` in a child process, measures one
client's request latency against the in-process ``engine.predict_file`` time of the same clip, then drives the
server with N concurrent clients posting a 4-second wav for T seconds (a client that gets 503 waits its
``Retry-After`` and goes on). Writes ``summary.json`` (requests/s, latency percentiles, failures, 503s, server RSS
before and after) and ``results.md``."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from avemo.errors import ParameterError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clip_bytes(data_dir: str | os.PathLike | None, seconds: float) -> tuple[bytes, str]:
    """A ``seconds``-long 16 kHz wav: a RAVDESS take from ``data_dir`` cut or padded, else avemo's synthetic voice."""
    import soundfile as sf

    from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio
    from avemo.io.synth import synth_voice

    sr, n = TARGET_SAMPLING_RATE, int(seconds * TARGET_SAMPLING_RATE)
    signal, source = synth_voice(seconds), "synthetic voice"
    files = sorted(Path(data_dir).rglob("03-01-05-02-01-01-*.*")) if data_dir else []
    if files:
        audio = load_audio(files[0])
        signal, source = np.pad(audio, (0, max(0, n - len(audio))))[:n], files[0].name
    buffer = io.BytesIO()
    sf.write(buffer, signal, sr, format="WAV", subtype="PCM_16")
    return buffer.getvalue(), source


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    ms = 1000 * np.asarray(values)
    return {"p50": round(float(np.percentile(ms, 50)), 1), "p95": round(float(np.percentile(ms, 95)), 1),
            "p99": round(float(np.percentile(ms, 99)), 1), "mean": round(float(ms.mean()), 1),
            "max": round(float(ms.max()), 1)}


def in_process_ms(clip: bytes, repeats: int) -> float:
    """Median milliseconds of ``InferenceEngine.predict_file`` on the clip in this process, one torch thread per
    call (as each of the server's pool threads runs)."""
    import torch

    from avemo.inference.engine import InferenceEngine

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        engine = InferenceEngine(modalities=("speech",))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "clip.wav"
            path.write_bytes(clip)
            engine.predict_file(path)  # warm-up
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                engine.predict_file(path)
                times.append(time.perf_counter() - start)
        engine.close()
    finally:
        torch.set_num_threads(threads)
    return round(1000 * float(np.median(times)), 1)


@contextlib.contextmanager
def running_server(port: int, max_concurrent: int, timeout: float, startup_seconds: float = 180.0) -> Iterator[Any]:
    """``avemo serve`` in a child process on 127.0.0.1:``port``, ready (models loaded); yields its ``psutil``
    process; stops it at the end.

    Raises:
        ParameterError: when the server exits or is not ready within ``startup_seconds``.
    """
    import httpx
    import psutil

    log = tempfile.TemporaryFile()
    command = [sys.executable, "-m", "avemo.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--max-concurrent", str(max_concurrent), "--timeout", str(timeout)]
    child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if child.poll() is not None:
                log.seek(0)
                tail = log.read().decode(errors="replace").strip().splitlines()[-1:]
                raise ParameterError(f"the server exited at start-up ({' '.join(tail) or child.returncode})")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).json().get("models_loaded"):
                    break
            if time.monotonic() > deadline:
                raise ParameterError(f"the server was not ready within {startup_seconds:.0f} s")
            time.sleep(0.5)
        yield psutil.Process(child.pid)
    finally:
        child.terminate()
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()
        log.close()


async def _one_client(client, url: str, clip: bytes, stop_at: float, record: dict[str, list]) -> None:
    """Post the clip until ``stop_at``; a 503 waits its ``Retry-After`` (at most 1 s) and tries again."""
    import httpx

    while time.monotonic() < stop_at:
        start = time.perf_counter()
        try:
            response = await client.post(url, files={"file": ("clip.wav", clip, "audio/wav")})
        except httpx.HTTPError as exc:
            record["failures"].append(f"{type(exc).__name__}: {exc}")
            continue
        elapsed = time.perf_counter() - start
        if response.status_code == 200:
            record["ok"].append(elapsed)
        elif response.status_code == 503:
            record["busy"].append(elapsed)
            await asyncio.sleep(min(1.0, float(response.headers.get("Retry-After", "1"))))
        else:
            record["failures"].append(f"HTTP {response.status_code}: {response.text[:200]}")


async def _load(url: str, clip: bytes, clients: int, seconds: float, request_timeout: float) -> dict[str, Any]:
    import httpx

    record: dict[str, list] = {"ok": [], "busy": [], "failures": []}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=request_timeout, limits=limits) as client:
        start = time.monotonic()
        await asyncio.gather(*(_one_client(client, url, clip, start + seconds, record) for _ in range(clients)))
        record["wall_seconds"] = [time.monotonic() - start]
    return record


def run_serve_benchmark(out_dir: str | os.PathLike = "reports/serve", data_dir: str | os.PathLike | None = None,
                        clients: int = 50, seconds: float = 60.0, clip_seconds: float = 4.0,
                        max_concurrent: int = 16, single_repeats: int = 20) -> dict[str, Any]:
    """Run the benchmark (see the module docstring) and write ``out_dir``; returns the summary.

    Raises:
        ParameterError: for non-positive settings, or a server that does not start.
    """
    import httpx

    if clients < 1 or seconds <= 0 or clip_seconds <= 0 or max_concurrent < 1 or single_repeats < 1:
        raise ParameterError("clients, seconds, clip seconds, max concurrent and repeats must all be positive")
    clip, source = _clip_bytes(data_dir, clip_seconds)
    in_process = in_process_ms(clip, single_repeats)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1/predict"
    timeout = 120.0
    with running_server(port, max_concurrent, timeout) as server:
        with httpx.Client(timeout=timeout) as client:
            single = []
            for k in range(single_repeats + 1):
                start = time.perf_counter()
                response = client.post(url, files={"file": ("clip.wav", clip, "audio/wav")})
                if response.status_code != 200:
                    raise ParameterError(f"the server answered {response.status_code} to one client: "
                                         f"{response.text[:200]}")
                if k:  # the first request warms up
                    single.append(time.perf_counter() - start)
        rss_before = server.memory_info().rss
        record = asyncio.run(_load(url, clip, clients, seconds, timeout))
        time.sleep(1.0)
        rss_after = server.memory_info().rss
    wall = record["wall_seconds"][0]
    single_ms = round(1000 * float(np.median(single)), 1)
    summary = {
        "benchmark": "serve", "clip_seconds": clip_seconds, "clip": source, "clients": clients,
        "duration_seconds": seconds, "wall_seconds": round(wall, 1), "max_concurrent": max_concurrent,
        "server": {"workers": 1, "pool_threads": os.cpu_count(), "torch_threads_per_request": 1},
        "requests": {"ok": len(record["ok"]), "busy_503": len(record["busy"]), "failed": len(record["failures"])},
        "requests_per_second": round(len(record["ok"]) / wall, 2),
        "latency_ms": _percentiles(record["ok"]), "busy_latency_ms": _percentiles(record["busy"]),
        "failures": record["failures"][:20],
        "rss_mb": {"before": round(rss_before / 2**20, 1), "after": round(rss_after / 2**20, 1),
                   "ratio": round(rss_after / rss_before, 3)},
        "single_client": {"request_ms_median": single_ms, "in_process_predict_ms_median": in_process,
                          "ratio": round(single_ms / in_process, 3), "repeats": single_repeats},
        "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                    "python": platform.python_version()},
    }
    summary["targets"] = {"no_failures": not record["failures"], "rss_ratio_le_1.1": summary["rss_mb"]["ratio"] <= 1.1,
                          "single_client_ratio_le_1.3": summary["single_client"]["ratio"] <= 1.3}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(results_text(summary))
    return summary


def results_text(s: dict[str, Any]) -> str:
    """The README's paragraph on the serve benchmark."""
    lat, req, single, rss = s["latency_ms"], s["requests"], s["single_client"], s["rss_mb"]
    return (f"`avemo serve` (one process, {s['server']['pool_threads']} prediction threads, `--max-concurrent "
            f"{s['max_concurrent']}`) on this {s['machine']['cpu_count']}-core machine, {s['clients']} concurrent "
            f"clients posting a {s['clip_seconds']:.0f}-second wav for {s['duration_seconds']:.0f} s: "
            f"**{s['requests_per_second']} requests/s**, latency p50 {lat['p50']} ms, **p95 {lat['p95']} ms**, p99 "
            f"{lat['p99']} ms; {req['ok']} answered, **{req['failed']} failed**, {req['busy_503']} turned away with "
            f"503 + Retry-After (the clients waited and retried); server RSS {rss['before']} MB before, "
            f"{rss['after']} MB after (x{rss['ratio']}). One client: {single['request_ms_median']} ms per request "
            f"vs {single['in_process_predict_ms_median']} ms for `engine.predict_file` in-process "
            f"(x{single['ratio']}). From `reports/serve/summary.json` (`avemo benchmark serve`).\n")
