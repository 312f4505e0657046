"""``avemo benchmark batch`` on a tiny generated archive: the report's runs, derived ratios, memory samples."""

from __future__ import annotations

import json

from avemo.benchmark import batch as batch_benchmark


def test_batch_benchmark_writes_its_report(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(batch_benchmark, "MEMORY_SAMPLE_SECONDS", 0.1)
    summary = batch_benchmark.run_batch_benchmark(tmp_path / "report", None, engines=("local",), workers=(1, 2),
                                                  large_files=30, batch_size=4, speech_model=str(tiny_model_dir),
                                                  synthetic_files=8)
    saved = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert saved == json.loads(json.dumps(summary))
    assert [(r["engine"], r["workers"], r["files"], r["failed"]) for r in summary["runs"]] == [
        ("local", 1, 8, 0), ("local", 2, 8, 0)]
    run = summary["runs"][0]
    assert run["audio_seconds"] == 8 * 3.5 and run["x_real_time"] > 0 and run["files_per_second"] > 0
    assert summary["same_table_every_run"] is True and "table" not in run
    # The ratio as derived, not its size: on 8 tiny files the 2-worker run is mostly process start, and with a fast
    # 1-worker run (Python 3.12+) x2/x1 fell below 0.005 and rounded to 0.0.
    local1, local2 = (r["files_per_second"] for r in summary["runs"])
    assert summary["local_speedup_2_workers"] == round(local2 / local1, 2) and "ray_vs_local_2_workers" not in summary
    large = summary["large_run"]
    assert large["files"] == 30 and large["failed"] == 0 and large["worker_rss"]["samples"] >= 2
    assert 1 <= len(large["worker_rss"]["end_mb"]) <= 2  # one figure per worker process (<= 100 MB ones aside)
    text = (tmp_path / "report" / "results.md").read_text()
    assert "| local | 2 |" in text and "30 files" in text

