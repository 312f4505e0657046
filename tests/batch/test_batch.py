"""Batch runs: folder walk and manifests, the three table formats, bad inputs as rows, resume after a kill,
two worker processes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from avemo.batch import run as batch_run
from avemo.batch.inputs import collect_inputs
from avemo.batch.run import BatchSettings, run_batch
from avemo.batch.table import parts_dir, read_table
from avemo.cli import main
from avemo.errors import ParameterError
from avemo.io.synth import synth_voice

SR = 16000


@pytest.fixture()
def archive(tmp_path):
    root = tmp_path / "archive"
    for k, sub in enumerate(["a", "a", "b/c", "b/c", "b"]):
        (root / sub).mkdir(parents=True, exist_ok=True)
        sf.write(root / sub / f"clip{k}.wav", synth_voice(1.0 + 5.0 * (k == 4), 120 + 30 * k, SR, seed=k), SR)
    sf.write(root / "b" / "noextension", synth_voice(1.0, 200, SR), SR, format="WAV")  # found by content
    (root / "b" / "empty.wav").write_bytes(b"")
    (root / "b" / "broken.flac").write_bytes(b"fLaC" + bytes(200))
    (root / "b" / "notes.txt").write_text("not media")  # not an input
    os.symlink(root, root / "b" / "loop")  # a symlink loop is not followed
    return root


def settings(model):
    return BatchSettings(speech_model=str(model))


def test_folder_walk_finds_media_by_extension_and_content(archive):
    paths = [os.path.relpath(p, archive) for p in collect_inputs([archive])]
    assert paths == ["a/clip0.wav", "a/clip1.wav", "b/broken.flac", "b/clip4.wav", "b/empty.wav", "b/noextension",
                     "b/c/clip2.wav", "b/c/clip3.wav"]


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".csv"])
def test_table_formats(tiny_model_dir, archive, tmp_path, suffix):
    out = tmp_path / f"results{suffix}"
    summary = run_batch([archive], out, settings(tiny_model_dir), progress=False)
    assert summary["inputs"] == 8 and summary["failed"] == 2 and summary["predicted_now"] == 8
    rows = read_table(out)
    assert [os.path.relpath(r["path"], archive) for r in rows][:2] == ["a/clip0.wav", "a/clip1.wav"]
    by_name = {os.path.basename(r["path"]): r for r in rows}
    ok = by_name["clip0.wav"]
    assert ok["status"] == "ok" and ok["error"] == "" and ok["emotion"] in {"neutral", "calm", "happy", "sad", "angry",
                                                                          "fearful", "disgust", "surprised"}
    assert sum(float(v) for k, v in ok.items() if k.startswith("p_")) == pytest.approx(1.0, abs=1e-3)
    assert [w["end"] for w in by_name["clip4.wav"]["timeline"]] == [4.0, 6.0]
    for bad in ("empty.wav", "broken.flac"):
        assert by_name[bad]["status"] == "error" and by_name[bad]["error"] and by_name[bad]["error_type"]
    assert not parts_dir(out).exists()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        schema = pq.read_schema(out)
        assert str(schema.field("timeline").type).startswith("list<") and "p_angry" in schema.names


def test_resume_after_a_kill_gives_the_uninterrupted_table(tiny_model_dir, archive, tmp_path, monkeypatch):
    whole = tmp_path / "whole.jsonl"
    run_batch([archive], whole, settings(tiny_model_dir), chunk_size=2, progress=False)
    out = tmp_path / "resumed.jsonl"
    real, calls = batch_run.predict_chunk, []

    def dies_on_the_third_chunk(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run is killed mid-way
        return real(*args)

    monkeypatch.setattr(batch_run, "predict_chunk", dies_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        run_batch([archive], out, settings(tiny_model_dir), chunk_size=2, progress=False)
    assert len(list(parts_dir(out).glob("part-*.jsonl"))) == 2 and not out.exists()
    monkeypatch.setattr(batch_run, "predict_chunk", real)
    summary = run_batch([archive], out, settings(tiny_model_dir), chunk_size=2, progress=False)
    assert summary["already_done"] == 4 and summary["predicted_now"] == 4
    assert read_table(out) == read_table(whole)
    again = run_batch([archive], out, settings(tiny_model_dir), chunk_size=2, progress=False)  # all done
    assert again["predicted_now"] == 0 and read_table(out) == read_table(whole)


def test_two_workers_give_the_same_table(tiny_model_dir, archive, tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    run_batch([archive], one, settings(tiny_model_dir), chunk_size=3, progress=False)
    run_batch([archive], two, settings(tiny_model_dir), workers=2, chunk_size=3, progress=False)
    a, b = read_table(one), read_table(two)
    assert [r["path"] for r in a] == [r["path"] for r in b]
    for x, y in zip(a, b):
        assert x["status"] == y["status"] and (x.get("p_angry") is None or
                                               np.isclose(x["p_angry"], y["p_angry"], atol=1e-5))


def test_manifests_and_bad_manifests(tiny_model_dir, archive, tmp_path):
    manifest = archive / "list.csv"
    manifest.write_text("path,label\na/clip0.wav,x\nb/c/clip2.wav,y\nmissing.wav,z\n")
    out = tmp_path / "m.jsonl"
    summary = run_batch([manifest], out, settings(tiny_model_dir), progress=False)
    rows = read_table(out)
    assert [os.path.basename(r["path"]) for r in rows] == ["clip0.wav", "clip2.wav", "missing.wav"]
    assert summary["failed"] == 1 and "not found" in rows[2]["error"]
    (tmp_path / "bad.jsonl").write_text(json.dumps({"file": "a.wav"}) + "\n")
    with pytest.raises(ParameterError, match="path"):
        run_batch([tmp_path / "bad.jsonl"], out, settings(tiny_model_dir), progress=False)
    with pytest.raises(ParameterError, match="parquet"):
        run_batch([archive], tmp_path / "results.xlsx", settings(tiny_model_dir), progress=False)


def test_cli_batch(tiny_model_dir, archive, tmp_path, capsys):
    out = tmp_path / "cli.parquet"
    assert main(["predict", str(archive), "--output", str(out), "--model", str(tiny_model_dir)]) == 1
    err = capsys.readouterr().err
    assert "8 inputs" in err and "2 failed" in err and "Traceback" not in err
    assert len(read_table(out)) == 8
