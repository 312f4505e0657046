"""`avemo benchmark speed` runs on any speech model (stage timings of its own extractors)."""

from __future__ import annotations

import json

from avemo.benchmark.speed import run_speed_benchmark


def test_speed_benchmark_on_a_model(tiny_model_dir, tmp_path):
    report = run_speed_benchmark(out_dir=tmp_path, model=str(tiny_model_dir), seconds=2.0, repeats=2)
    assert report["predict_ms_median"] > 0
    assert set(report["stage_ms_median"]) == {"logmel", "model"}
    assert json.loads((tmp_path / "summary.json").read_text())["model"] == tiny_model_dir.name
