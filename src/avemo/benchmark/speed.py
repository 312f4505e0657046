"""``avemo benchmark speed``: how long ``predict`` takes on a 4-second clip with the shipped model already loaded,
on one CPU thread, with the time of each stage (decoding aside). Writes ``reports/speed/summary.json``."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)), 1)


def run_speed_benchmark(out_dir: str | os.PathLike = "reports/speed", data_dir: str | os.PathLike | None = None,
                        model: str | None = None, seconds: float = 4.0, repeats: int = 20) -> dict[str, Any]:
    """Median milliseconds of ``EmotionRecognizer.predict_signal`` on a ``seconds``-long clip (a RAVDESS file
    from ``data_dir`` cut or padded to that length when given, else avemo's synthetic voice), one thread."""
    import torch

    torch.set_num_threads(1)
    from avemo.demo.clip import synth_voice
    from avemo.inference import EmotionRecognizer
    from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio

    sr = TARGET_SAMPLING_RATE
    source = "synthetic voice"
    signal = synth_voice(seconds)
    if data_dir:
        files = sorted(Path(data_dir).rglob("03-01-05-02-01-01-*.*"))
        if files:
            audio = load_audio(files[0])
            signal = np.pad(audio, (0, max(0, int(seconds * sr) - len(audio))))[: int(seconds * sr)]
            source = str(files[0].name)
    rec = EmotionRecognizer(model, window=max(seconds, 4.0))
    stages = {key: _median_ms(lambda e=e: e.process_signal(signal, sr), repeats)
              for key, e in rec.extractors.items()}
    features = {key: [e.process_signal(signal, sr)] for key, e in rec.extractors.items()}
    stages["model"] = _median_ms(lambda: rec.system.predict_proba(features), repeats)
    total = _median_ms(lambda: rec.predict_signal(signal, sr), repeats)
    report = {"benchmark": "speed", "clip_seconds": seconds, "clip": source, "threads": 1,
              "model": str(rec.model_path.name), "predict_ms_median": total, "stage_ms_median": stages,
              "repeats": repeats, "machine": {"processor": platform.processor() or platform.machine(),
                                              "cpu_count": os.cpu_count(), "python": platform.python_version()}}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(report, indent=1))
    return report
