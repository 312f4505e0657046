"""`avemo benchmark serve` on a small load: a real `avemo serve` child process, clients that meet 503s."""

from __future__ import annotations

import json

from avemo.benchmark.readme import render
from avemo.benchmark.serve import run_serve_benchmark


def test_serve_benchmark_small_load(tmp_path):
    out = tmp_path / "serve"
    summary = run_serve_benchmark(out, clients=6, seconds=3.0, clip_seconds=2.0, max_concurrent=2,
                                  single_repeats=2)
    requests = summary["requests"]
    assert requests["failed"] == 0, summary["failures"]
    assert requests["ok"] >= 2 and requests["busy_503"] >= 1  # 6 clients, 2 admitted at a time
    assert summary["requests_per_second"] > 0
    latency = summary["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert summary["rss_mb"]["before"] > 50 and summary["rss_mb"]["after"] > 50
    single = summary["single_client"]
    assert single["request_ms_median"] > 0 and single["in_process_predict_ms_median"] > 0
    assert set(summary["targets"]) == {"no_failures", "rss_ratio_le_1.1", "single_client_ratio_le_1.3"}
    assert json.loads((out / "summary.json").read_text()) == summary
    text = render("serve", tmp_path)
    assert "requests/s" in text and "p95" in text and text == (out / "results.md").read_text()
