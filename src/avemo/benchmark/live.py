"""``avemo benchmark live``: the live loop (:mod:`avemo.live`) on one CPU core with the shipped models, on
file-backed sources (talking-face clips played back to back as one stream):

1. faces only, ``--no-pace``: frames per second of the whole face path (decode, detect, track, classify);
2. faces and speech, ``--no-pace``: how much faster than real time the whole loop runs;
3. faces and speech paced at real time: the period between speech labels and the latency from the end of each
   speech window to its label (the loop skips stale frames when it falls behind, as with a camera);
4. the voice alone, paced: the same latency without faces competing for the core.

Writes ``summary.json`` and ``results.md``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from avemo.errors import ParameterError

#: Where the talking-face clips are unless ``--data`` says otherwise.
DEFAULT_DATA = "../shared/data/cremad_sample"
TARGETS = {"faces_fps": 25.0, "label_period_s": 1.0, "label_latency_ms": 300.0}


class ClipSequence:
    """Video clips (and their audio tracks) played one after the other, ``loops`` times, as one stream: each clip
    is shifted by the length of the audio before it, so frames and audio stay aligned."""

    live = False

    def __init__(self, clips: list[Path], loops: int = 1) -> None:
        from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio

        self.clips = [c for _ in range(loops) for c in clips]
        audio = {c: load_audio(c, TARGET_SAMPLING_RATE) for c in clips}
        self.signals = [audio[c] for c in self.clips]
        lengths = [len(s) / TARGET_SAMPLING_RATE for s in self.signals]
        self.offsets = np.concatenate([[0.0], np.cumsum(lengths)[:-1]]).tolist()
        self.duration = float(sum(lengths))

    def frames(self) -> "_Frames":
        return _Frames(self)

    def audio(self) -> "_Audio":
        return _Audio(self)


class _Frames:
    live, kind = False, "video"

    def __init__(self, sequence: ClipSequence) -> None:
        self.sequence = sequence

    def __iter__(self) -> Iterator:
        from avemo.io.audio import TARGET_SAMPLING_RATE
        from avemo.live.sources import Frame, VideoFileSource

        for clip, offset, signal in zip(self.sequence.clips, self.sequence.offsets, self.sequence.signals):
            for frame in VideoFileSource(clip):
                if frame.time < len(signal) / TARGET_SAMPLING_RATE:
                    yield Frame(offset + frame.time, frame.image, frame.decode_ms)

    def close(self) -> None:
        pass


class _Audio:
    live, kind = False, "audio"

    def __init__(self, sequence: ClipSequence) -> None:
        self.sequence = sequence

    def __iter__(self) -> Iterator:
        from avemo.io.audio import TARGET_SAMPLING_RATE
        from avemo.live.sources import signal_chunks

        yield from signal_chunks(np.concatenate(self.sequence.signals), TARGET_SAMPLING_RATE)

    def close(self) -> None:
        pass


def _stats(values: list[float], digits: int = 1) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "p95": None, "max": None, "n": 0}
    a = np.asarray(values, dtype=float)
    return {"mean": round(float(a.mean()), digits), "median": round(float(np.median(a)), digits),
            "p95": round(float(np.percentile(a, 95)), digits), "max": round(float(a.max()), digits),
            "n": int(len(a))}


def _run(engine, options, frames, audio, pace: bool) -> dict[str, Any]:
    """One run of the loop with the speech windows of ``options`` (a PredictOptions); its summary figures and the
    medians of the stage times of its results."""
    from avemo.live.loop import run_live

    stages: dict[str, list[float]] = {}

    def record(result, latency_ms, image) -> None:
        for stage, ms in latency_ms.items():
            stages.setdefault(stage, []).append(ms)

    summary = run_live(engine, frames, audio, options, on_update=record, pace=pace, warm_up=False)
    periods = np.diff(summary.label_times).tolist()
    wall = summary.wall_seconds or float("nan")
    return {"stream_seconds": round(summary.stream_seconds, 2), "wall_seconds": round(summary.wall_seconds, 2),
            "realtime_factor": round(summary.stream_seconds / wall, 2), "frames": summary.frames,
            "frames_skipped": summary.dropped_frames, "frames_per_second": round(summary.frames / wall, 1),
            "speech_windows": summary.speech_windows, "silent_windows": summary.silent_windows,
            "label_period_s": _stats(periods, 3), "label_latency_ms": _stats(summary.label_latency_ms),
            "stage_ms": {stage: _stats(v) for stage, v in sorted(stages.items())}}


def run_live_benchmark(out_dir: str | os.PathLike = "reports/live", data_dir: str | os.PathLike | None = None,
                       window: float = 2.0, step: float = 1.0, loops: int = 3) -> dict[str, Any]:
    """Measure the live loop (see the module docstring) on the ``*.mp4`` clips of ``data_dir`` (default
    ``../shared/data/cremad_sample``), played ``loops`` times back to back for the paced runs; one torch and one
    OpenCV thread, the process pinned to one CPU core. Writes ``summary.json`` and ``results.md`` to ``out_dir``.

    Raises:
        ParameterError: when ``data_dir`` holds no mp4 clip.
    """
    import cv2
    import torch

    from avemo.benchmark.speed import one_core
    from avemo.inference.engine import InferenceEngine, PredictOptions
    from avemo.live.loop import LIVE_STREAM

    data = Path(data_dir or DEFAULT_DATA)
    clips = sorted(data.glob("*.mp4")) if data.is_dir() else []
    if not clips:
        raise ParameterError(f"benchmark live needs --data DIR with talking-face mp4 clips (e.g. {DEFAULT_DATA}); "
                             f"found none in {data}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    started = time.perf_counter()
    try:
        options = PredictOptions(window=window, step=step)
        engine = InferenceEngine(options=options)
        once, looped = ClipSequence(clips), ClipSequence(clips, loops)
        with one_core() as core:
            with engine.open_session(options=options, stream_options=LIVE_STREAM) as session:
                session.warm_up()
            runs = {"faces_no_pace": _run(engine, options, once.frames(), None, pace=False),
                    "faces_and_speech_no_pace": _run(engine, options, once.frames(), once.audio(), pace=False),
                    "faces_and_speech_paced": _run(engine, options, looped.frames(), looped.audio(), pace=True),
                    "speech_paced": _run(engine, options, None, looped.audio(), pace=True)}
    finally:
        torch.set_num_threads(threads)
    paced = runs["faces_and_speech_paced"]
    figures = {"faces_fps": runs["faces_no_pace"]["frames_per_second"],
               "label_period_s_mean": paced["label_period_s"]["mean"],
               "label_period_s_median": paced["label_period_s"]["median"],
               "label_period_s_max": paced["label_period_s"]["max"],
               "label_latency_ms_median": paced["label_latency_ms"]["median"],
               "label_latency_ms_p95": paced["label_latency_ms"]["p95"]}
    checks = {"faces_fps >= 25": _at_least(figures["faces_fps"], TARGETS["faces_fps"]),
              # the mean period is the step when the loop keeps up; single periods jitter around it
              "label_period_s_mean <= 1": _at_most(figures["label_period_s_mean"], TARGETS["label_period_s"] * 1.02),
              "label_latency_ms_median <= 300": _at_most(figures["label_latency_ms_median"],
                                                         TARGETS["label_latency_ms"]),
              "label_latency_ms_p95 <= 300": _at_most(figures["label_latency_ms_p95"], TARGETS["label_latency_ms"])}
    report = {"benchmark": "live", "clips": [c.name for c in clips], "stream_seconds_once": round(once.duration, 2),
              "loops_paced": loops, "window_s": window, "step_s": step, "smoothing_s": LIVE_STREAM.smoothing,
              "cpu_cores": 1, "core": core, "threads": {"torch": 1, "opencv": 1},
              "models": {m: engine.describe()[m].get("name") for m in engine.modalities},
              "figures": figures, "targets": TARGETS, "meets_target": checks, "runs": runs,
              "seconds": round(time.perf_counter() - started, 1),
              "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                          "python": platform.python_version(),
                          "load_average_before": [round(v, 2) for v in load_before] if load_before else None,
                          "load_average_after": ([round(v, 2) for v in os.getloadavg()]
                                                 if hasattr(os, "getloadavg") else None)}}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(report, indent=1))
    (out / "results.md").write_text(results_text(report))
    return report


def _at_least(value, target) -> bool | None:
    return None if value is None else bool(value >= target)


def _at_most(value, target) -> bool | None:
    return None if value is None else bool(value <= target)


def results_text(report: dict[str, Any]) -> str:
    """The ``results.md`` paragraph of a live benchmark report."""
    runs, figures, machine = report["runs"], report["figures"], report["machine"]
    faces, full = runs["faces_no_pace"], runs["faces_and_speech_no_pace"]
    paced, voice = runs["faces_and_speech_paced"], runs["speech_paced"]
    load = machine["load_average_before"]
    stage_text = ", ".join(f"{name} {figures_['median']} ms" for name, figures_ in paced["stage_ms"].items())

    def ms(name: str, run: dict = paced) -> str:
        value = run["stage_ms"].get(name, {}).get("median")
        return "n/a" if value is None else f"{value} ms"

    lines = [
        f"`avemo live` on one CPU core (one torch and one OpenCV thread, the process pinned to core {report['core']}) "
        f"with the shipped models ({', '.join(f'{k}: {v}' for k, v in report['models'].items())}), speech window "
        f"{report['window_s']} s every {report['step_s']} s, on the {len(report['clips'])} talking-face clips of "
        f"cremad_sample ({report['stream_seconds_once']} s) played back to back as one file-backed stream.",
        "",
        f"- **Faces, `--no-pace`: {faces['frames_per_second']} frames/s** (target >= {TARGETS['faces_fps']:.0f}; "
        f"{faces['frames']} frames, face stage median {ms('face', faces)}, decode {ms('decode', faces)}).",
        f"- Faces and speech, `--no-pace`: {full['frames_per_second']} frames/s and {full['speech_windows']} speech "
        f"windows, x{full['realtime_factor']} real time.",
        f"- **Faces and speech paced at real time** ({paced['stream_seconds']} s, the clips {report['loops_paced']} "
        f"times): a speech label every **{figures['label_period_s_mean']} s** (mean; median "
        f"{figures['label_period_s_median']} s, max {figures['label_period_s_max']} s; target <= 1 s), end of window "
        f"to label **median "
        f"{figures['label_latency_ms_median']} ms, p95 {figures['label_latency_ms_p95']} ms** (target <= "
        f"{TARGETS['label_latency_ms']:.0f} ms; VAD {ms('vad')}, speech model {ms('speech')}); "
        f"{paced['frames']} frames analysed ({paced['frames_per_second']}/s), {paced['frames_skipped']} stale frames "
        f"skipped while the core was busy; {paced['silent_windows']} of {paced['speech_windows']} windows silent.",
        f"- The voice alone, paced: a label every {voice['label_period_s']['mean']} s, end of window to label "
        f"median {voice['label_latency_ms']['median']} ms, p95 {voice['label_latency_ms']['p95']} ms.",
        "",
        "Meets target: " + ", ".join(f"{k}: {'yes' if v else 'no' if v is not None else 'n/a'}"
                                     for k, v in report["meets_target"].items()) + ".",
        "",
        f"Machine: {machine['processor']}, {machine['cpu_count']} CPUs, Python {machine['python']}"
        + (f"; load average {load[0]} at the start (a shared machine: the figures are pessimistic)" if load else "")
        + f". Stage medians while paced: {stage_text}. From "
        "`reports/live/summary.json` (`avemo benchmark live`).",
    ]
    return "\n".join(lines) + "\n"
