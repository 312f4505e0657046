"""The Ray engine of batch runs, on a local 2-worker Ray started by the test: the same table as the local engine,
bad files as rows (never a failed job), resume; and clear errors when Ray is missing or misused."""

from __future__ import annotations

import builtins
import os

import numpy as np
import pytest
import soundfile as sf

from avemo.batch import run as batch_run
from avemo.batch.run import BatchSettings, run_batch
from avemo.batch.table import parts_dir, read_table
from avemo.errors import ParameterError
from avemo.io.synth import synth_voice

SR = 16000
ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'avemo[ray]'); the tests install it")


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs (so 2 actors), kept for the module's tests."""
    os.environ["AVEMO_KEEP_RAY"] = "1"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()
    os.environ.pop("AVEMO_KEEP_RAY", None)


@pytest.fixture()
def archive(tmp_path):
    root = tmp_path / "archive"
    (root / "sub").mkdir(parents=True)
    for k in range(6):
        sf.write(root / ("sub" if k % 2 else "") / f"clip{k}.wav", synth_voice(1.0 + 4.0 * (k == 5), 120 + 25 * k,
                                                                             SR, seed=k), SR)
    (root / "empty.wav").write_bytes(b"")
    (root / "broken.flac").write_bytes(b"fLaC" + bytes(300))
    return root


def _plain(value):
    return None if isinstance(value, float) and np.isnan(value) else value


def _same(a, b):
    a = [{k: _plain(v) for k, v in r.items()} for r in a]
    b = [{k: _plain(v) for k, v in r.items()} for r in b]
    assert [r["path"] for r in a] == [r["path"] for r in b]
    for x, y in zip(a, b):
        assert x.keys() == y.keys() and x["status"] == y["status"] and x.get("error") == y.get("error")
        assert x.get("emotion") == y.get("emotion") and x.get("timeline") == y.get("timeline")
        for key in (k for k in x if k.startswith("p_")):
            assert (x[key] is None and y[key] is None) or np.isclose(x[key], y[key], atol=1e-5)


def test_ray_engine_gives_the_local_table(local_ray, tiny_model_dir, archive, tmp_path):
    settings = BatchSettings(speech_model=str(tiny_model_dir))
    local = run_batch([archive], tmp_path / "local.parquet", settings, chunk_size=3, progress=False)
    remote = run_batch([archive], tmp_path / "ray.parquet", settings, workers=2, chunk_size=3, progress=False,
                       engine="ray")
    assert remote["engine"] == "ray" and remote["inputs"] == local["inputs"] == 8
    assert remote["failed"] == local["failed"] == 2  # the bad files are rows, the job goes on
    rows = read_table(tmp_path / "ray.parquet")
    _same(rows, read_table(tmp_path / "local.parquet"))
    assert {r["status"] for r in rows} == {"ok", "error"}
    assert [len(r["timeline"]) for r in rows if r["path"].endswith("clip5.wav")] == [2]  # the 5 s clip's windows


def test_ray_run_resumes_from_the_parts(local_ray, tiny_model_dir, archive, tmp_path):
    settings = BatchSettings(speech_model=str(tiny_model_dir))
    whole = tmp_path / "whole.jsonl"
    run_batch([archive], whole, settings, chunk_size=2, progress=False)
    out = tmp_path / "resumed.jsonl"
    first = batch_run.predict_chunk(settings, [str(p) for p in sorted(archive.rglob("*.wav"))][:2],
                                    [str(archive / "clip0.wav"), str(archive / "empty.wav")])
    from avemo.batch.table import write_part

    write_part(out, 0, first)  # what a killed run left behind
    summary = run_batch([archive], out, settings, workers=2, chunk_size=2, progress=False, engine="ray")
    assert summary["already_done"] == 2 and summary["predicted_now"] == 6
    _same(read_table(out), read_table(whole))
    assert not parts_dir(out).exists()


def test_unexpected_errors_are_rows(tiny_model_dir, archive, tmp_path, monkeypatch):
    from avemo.inference.engine import InferenceEngine

    real = InferenceEngine.predict_file

    def flaky(self, path, options=None):
        if str(path).endswith("clip2.wav"):
            raise RuntimeError("a bug\nin a library")
        return real(self, path, options)

    monkeypatch.setattr(InferenceEngine, "predict_file", flaky)
    batch_run._ENGINE.clear()
    out = tmp_path / "r.jsonl"
    summary = run_batch([archive], out, BatchSettings(speech_model=str(tiny_model_dir)), progress=False)
    row = {os.path.basename(r["path"]): r for r in read_table(out)}["clip2.wav"]
    assert row["status"] == "error" and row["error_type"] == "RuntimeError" and "a bug in a library" in row["error"]
    assert summary["failed"] == 3 and summary["failed_by_type"]["RuntimeError"] == 1
    batch_run._ENGINE.clear()


def test_ray_missing_or_misused_is_one_clear_error(tiny_model_dir, archive, tmp_path, monkeypatch):
    settings = BatchSettings(speech_model=str(tiny_model_dir))
    with pytest.raises(ParameterError, match="--engine ray"):
        run_batch([archive], tmp_path / "a.jsonl", settings, progress=False, address="127.0.0.1:6379")
    with pytest.raises(ParameterError, match="local or ray"):
        run_batch([archive], tmp_path / "a.jsonl", settings, progress=False, engine="spark")
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ParameterError, match=r"pip install 'avemo\[ray\]'"):
        run_batch([archive], tmp_path / "b.jsonl", settings, progress=False, engine="ray")
