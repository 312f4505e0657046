"""`avemo benchmark speed` runs on any speech model (stage timings of its own extractors)."""

from __future__ import annotations

import json

from avemo.benchmark.speed import run_speed_benchmark


def test_speed_benchmark_on_a_model(tiny_model_dir, tmp_path):
    report = run_speed_benchmark(out_dir=tmp_path, model=str(tiny_model_dir), seconds=2.0, repeats=2)
    assert report["predict_ms_median"] > 0
    assert set(report["stage_ms_median"]) == {"logmel", "model"}
    assert json.loads((tmp_path / "summary.json").read_text())["model"] == tiny_model_dir.name


def test_speed_benchmark_times_every_backend(tiny_model_dir, tmp_path):
    report = run_speed_benchmark(out_dir=tmp_path, model=str(tiny_model_dir), seconds=2.0, repeats=1,
                                 backends=("torch", "onnx-int8"))
    assert set(report["backends"]) == {"torch", "onnx-int8"}
    assert all(t["predict_ms_median"] > 0 and t["x_real_time"] > 0 for t in report["backends"].values())
    assert "| onnx-int8 |" in (tmp_path / "results.md").read_text() and "accuracy" not in report


def test_face_speed_benchmark_runs(face_landmarker, talking_face, tmp_path):
    from avemo.benchmark.speed import run_face_speed_benchmark

    report = run_face_speed_benchmark(out_dir=tmp_path, data_dir=talking_face.parent, frames=12)
    assert report["fps"] > 0 and report["model"] == "face-fer2013" and report["frames"] == 7
    assert json.loads((tmp_path / "summary.json").read_text())["tta"] == report["tta"]
    assert "comparison" not in report
    both = run_face_speed_benchmark(out_dir=tmp_path / "face-speed", data_dir=talking_face.parent, frames=8,
                                    compare=["face-cnn-long"], rounds=2)
    models = both["comparison"]["models"]
    assert list(models) == ["face-fer2013", "face-cnn-long"] and models["face-cnn-long"]["network"] == "face-cnn-long"
    assert all(len(m["ms_per_frame_rounds"]) == 2 and m["classify_ms_median"] > 0 for m in models.values())
    from avemo.benchmark.readme import render

    assert "timed in turn, 2 rounds" in render("face-speed", tmp_path) and "`face-cnn-long` (face-cnn-long)" in \
        render("face-speed", tmp_path)


def test_encoder_batching_times_one_per_call_and_batched():
    from avemo.benchmark.speed import encoder_batching, results_table

    out = encoder_batching("tiny.en", "torch", 1.0, repeats=1, clips=2)
    assert out["clips"] == 2 and out["one_per_call_ms"] > 0 and out["batched_ms"] > 0
    report = {"clip_seconds": 1.0, "clip": "x", "model": "m", "default_backend": "torch",
              "machine": {"processor": "p", "cpu_count": 2},
              "backends": {"torch": {"predict_ms_median": 1.0, "x_real_time": 1.0, "stage_ms_median": {"w": 1.0},
                                     "encoder_batching": out}}}
    assert f"| torch | {out['one_per_call_ms']} | {out['batched_ms']} |" in results_table(report)


def test_the_default_backends_rule_picks_the_fastest_within_half_a_point():
    from avemo.benchmark.speed import results_table, rule_backend

    def accuracy(drop):
        return {"mean": {"loco": {"single": 0.5 - drop, "adapted": 0.6},
                         "ravdess_6fold": {"single": 0.7, "adapted": 0.8}},
                "mean_drop": {"loco": {"single": drop, "adapted": 0.0},
                              "ravdess_6fold": {"single": 0.0, "adapted": -0.01}}, "max_ua_drop": drop}

    timings = {b: {"predict_ms_median": ms, "x_real_time": 1.0, "stage_ms_median": {"w": ms}}
               for b, ms in (("torch", 115.0), ("onnx-f32", 105.0), ("onnx-int8", 64.0))}
    report = {"clip_seconds": 4.0, "clip": "x", "model": "m", "default_backend": "onnx-int8",
              "machine": {"processor": "p", "cpu_count": 2}, "backends": timings,
              "accuracy": {"system": "s", "backends": {"torch": accuracy(0.0), "onnx-f32": accuracy(0.001),
                                                       "onnx-int8": accuracy(0.004)}}}
    assert rule_backend(report) == "onnx-int8"
    assert "It chooses **onnx-int8** (the default)." in results_table(report)
    report["accuracy"]["backends"]["onnx-int8"] = accuracy(0.0055)  # 0.55 points: outside the rule
    assert rule_backend(report) == "onnx-f32"
    assert "onnx-int8 0.55" in results_table(report) and "the default is `onnx-int8`" in results_table(report)
    del report["accuracy"]
    assert rule_backend(report) is None
