"""The ``avemo`` command: predict on a batch with bad files, one-line errors, every --help, the benchmark suite
table, --verbose, prepare."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from avemo.cli import build_parser, main
from avemo.cli.benchmark import SUITES, Suite
from avemo.io.synth import synth_voice
from avemo.labels import label_set

SR = 16000
#: Every command, in the order `avemo --help` lists them.
COMMANDS = ("prepare", "extract", "train", "evaluate", "benchmark", "predict", "serve", "export", "live", "demo",
            "explain")


@pytest.fixture()
def inputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sf.write(tmp_path / "good.wav", synth_voice(2.0, 150), SR)
    sf.write(tmp_path / "long.wav", synth_voice(6.0, 150), SR)
    (tmp_path / "notaudio.wav").write_bytes(np.random.default_rng(0).bytes(3000))
    (tmp_path / "empty.wav").write_bytes(b"")
    return tmp_path


def test_predict_json_batch_with_bad_files(tiny_model_dir, inputs, capsys):
    code = main(["predict", "--model", str(tiny_model_dir), "good.wav", "missing.wav", "notaudio.wav", "empty.wav",
                 "--format", "json"])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.out.strip().splitlines()
    assert len(lines) == 4
    rows = [json.loads(line) for line in lines]
    assert [r["path"] for r in rows] == ["good.wav", "missing.wav", "notaudio.wav", "empty.wav"]
    good = rows[0]
    assert "error" not in good and good["status"] == "ok"
    assert list(good["probabilities"]) == list(label_set("ravdess8"))
    assert sum(good["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert good["emotion"] == max(good["probabilities"], key=good["probabilities"].get)
    assert good["duration"] == pytest.approx(2.0)
    for row in rows[1:]:
        assert set(row) == {"path", "error"}
        assert row["path"] in row["error"] and "\n" not in row["error"]
    assert "not found" in rows[1]["error"] and "empty" in rows[3]["error"]
    assert "Traceback" not in captured.err
    assert "3 of 4 file(s) failed" in captured.err


def test_predict_text_output_with_timeline(tiny_model_dir, inputs, capsys):
    code = main(["predict", "--model", str(tiny_model_dir), "good.wav", "long.wav", "--window", "4", "--step", "2"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("good.wav: ") and "%" in out[0]
    long_lines = out[out.index(next(line for line in out if line.startswith("long.wav"))):]
    assert len(long_lines) == 1 + 2  # windows 0-4 and 2-6
    assert "0.00-  4.00 s" in long_lines[1] and "2.00-  6.00 s" in long_lines[2]


def test_predict_json_timeline(tiny_model_dir, inputs, capsys):
    assert main(["predict", "--model", str(tiny_model_dir), "long.wav", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert [(w["start"], w["end"]) for w in row["timeline"]] == [(0.0, 4.0), (2.0, 6.0)]


def test_predict_silence_is_not_an_error(tiny_model_dir, inputs, capsys):
    sf.write(inputs / "quiet.wav", np.zeros(SR, np.float32), SR)
    assert main(["predict", "--model", str(tiny_model_dir), "quiet.wav", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["status"] == "silence" and row["emotion"] is None


def test_predict_image_and_audio_pair(inputs, face_frame, capsys):
    """A photo + a voice recording of one person: one fused result holding both modalities."""
    assert main(["predict", "--image", str(face_frame), "--audio", "long.wav", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["modality"] == "audio-visual" and row["status"] == "ok"
    assert row["path"] == f"{face_frame} + long.wav"
    assert set(row["modalities"]) == {"speech", "face"}
    assert row["modalities"]["face"]["status"] == "ok" and row["modalities"]["speech"]["status"] == "ok"
    assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert sorted(row["fusion"]["used"]) == ["face", "speech"]
    # A silent voice note leaves the face's result, saying why.
    sf.write(inputs / "quiet.wav", np.zeros(SR, np.float32), SR)
    assert main(["predict", "--image", str(face_frame), "--audio", "quiet.wav", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["modalities"]["speech"]["status"] == "silence" and row["fusion"]["used"] == ["face"]
    assert row["emotion"] == row["modalities"]["face"]["emotion"]  # the face's, with the fusion's face temperature


@pytest.mark.parametrize("argv", [
    ["predict"],
    ["predict", "--image", "face.jpg"],
    ["predict", "--audio", "good.wav"],
    ["predict", "--image", "good.wav", "--audio", "good.wav"],
    ["predict", "--image", "{face}", "--audio", "notaudio.wav"],
    ["predict", "--image", "{face}", "--audio", "good.wav", "--modality", "speech"],
])
def test_predict_pair_errors(argv, inputs, face_frame, capsys):
    code = main([a.format(face=face_frame) for a in argv])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert len([line for line in err if line.startswith("avemo: error: ")]) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["predict", "--model", "no-such-model", "x.wav"],
    ["predict", "--model", "{model}", "x.wav", "--window", "2", "--step", "3"],
    ["prepare", "ravdess", "{tmp}/nowhere"],
    ["benchmark", "ravdess-speech"],
    ["benchmark", "no-such-suite", "--data", "{tmp}"],
    ["train", "no-such-system", "--data", "{tmp}", "--out", "{tmp}/out"],
])
def test_user_errors_exit_2_with_one_line(argv, tiny_model_dir, tmp_path, capsys):
    argv = [a.format(model=tiny_model_dir, tmp=tmp_path) for a in argv]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("avemo: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"] if command is None else [command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: avemo" in out
    if command:
        assert command in out


def test_top_help_lists_every_command_in_order(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("    ") and line.split()]
    assert [name for name in listed if name in COMMANDS] == list(COMMANDS)


def test_benchmark_help_describes_every_suite(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "100000")  # no wrapping (argparse breaks lines at hyphens)
    with pytest.raises(SystemExit):
        main(["benchmark", "--help"])
    out = capsys.readouterr().out
    for name, suite in SUITES.items():
        assert f"{name}: {suite.help}" in out
    for option in ("--data", "--out", "--systems", "--folds", "--jobs", "--cache", "--set", "--clients", "--seconds",
                   "--files", "--report"):
        assert out.count(f"{option} ") >= 2  # in the usage line and in the list of options


def test_benchmark_dispatches_through_the_table(monkeypatch, capsys):
    """A suite in the table runs its own function with its own options; any other name is a speech suite."""
    seen = []
    record = Suite("a test suite", lambda args: seen.append((args.suite, args.clients)), SUITES["serve"].options)
    monkeypatch.setitem(SUITES, "serve", record)
    assert main(["benchmark", "serve", "--clients", "3"]) == 0
    assert seen == [("serve", 3)]
    monkeypatch.setitem(SUITES, "serve", Suite("a test suite without options", record.run))
    with pytest.raises(SystemExit):  # --clients is the serve suite's own option
        main(["benchmark", "serve", "--clients", "3"])
    assert "unrecognized arguments: --clients 3" in capsys.readouterr().err
    assert main(["benchmark", "ravdess-speech-fast"]) == 2  # configs/benchmarks/ravdess-speech-fast.yaml, no --data
    assert capsys.readouterr().err.startswith("avemo: error: benchmark ravdess-speech-fast needs --data DIR")


@pytest.mark.parametrize("suite, needs", [
    ("ravdess-speech", "--data"), ("ravdess-av", "speech16k/"), ("fer2013", "FER2013 folder"), ("ferplus", "FER+"),
    ("cross-corpus", "ravdess/, nemo/"), ("tsne", "--report DIR"), ("face-adaptation", "CREMA-D"),
])
def test_benchmark_suite_without_data_says_what_it_needs(suite, needs, capsys):
    assert main(["benchmark", suite]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"avemo: error: benchmark {suite} needs ") and needs in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, verbose", [
    (["prepare", "ravdess", "x"], False),
    (["--verbose", "prepare", "ravdess", "x"], True),
    (["prepare", "ravdess", "x", "--verbose"], True),
    (["--verbose", "benchmark", "speed", "--verbose"], True),
])
def test_verbose_before_or_after_the_command(argv, verbose):
    assert build_parser().parse_args(argv).verbose is verbose


def test_version_and_missing_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("avemo ")
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_prepare_ravdess_writes_manifest(tmp_path, capsys):
    corpus = tmp_path / "RAVDESS"
    for actor in (1, 2):
        for emo in (1, 5):
            path = corpus / f"Actor_{actor:02d}" / f"03-01-{emo:02d}-01-01-01-{actor:02d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    (corpus / "Actor_01" / "03-02-05-01-01-01-01.wav").write_bytes(b"")  # song
    out = tmp_path / "out.jsonl"
    assert main(["prepare", "ravdess", str(corpus), "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4
    assert {r["speaker"] for r in rows} == {"01", "02"} and {r["emotion"] for r in rows} == {"neutral", "angry"}
    stdout = capsys.readouterr().out
    assert "4 recordings, 2 speakers" in stdout
    assert main(["prepare", "ravdess", str(corpus), "-o", str(out), "--song"]) == 0
    assert len(out.read_text().splitlines()) == 5


def test_prepare_folder_with_speaker_pattern(tmp_path, capsys):
    for name in ("happy/s1_a.wav", "sad/s2_b.wav"):
        (tmp_path / "c" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "c" / name).write_bytes(b"")
    out = tmp_path / "f.jsonl"
    assert main(["prepare", "folder", str(tmp_path / "c"), "-o", str(out), "--speaker-pattern", r"s(\d)_"]) == 0
    assert sorted(json.loads(line)["speaker"] for line in out.read_text().splitlines()) == ["1", "2"]


def test_export_face_model_to_onnx(tmp_path, capsys):
    """`avemo export` writes the shipped face network as ONNX plus its description; ONNX Runtime then gives the
    centre-crop probabilities avemo gives, and bad requests get one-line errors."""
    ort = pytest.importorskip("onnxruntime")
    from scipy.special import softmax

    from avemo.systems.base import load_system

    assert main(["export", str(tmp_path / "out" / "face.onnx")]) == 0
    doc = json.loads((tmp_path / "out" / "face.json").read_text())
    # the shipped network has two heads side by side: FER+'s eight classes, then FER2013's seven
    assert doc["classes"] == list(label_set("ferplus8")) and doc["input"]["shape"] == ["batch", 1, 40, 40]
    assert [(h["name"], len(h["classes"])) for h in doc["heads"]] == [("main", 8), ("fer2013", 7)]
    crops = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    session = ort.InferenceSession(str(tmp_path / "out" / "face.onnx"), providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"images": crops[:, None, 4:44, 4:44].astype(np.float32) / 255})[0]
    system = load_system(None, kind="face", engine="torch")
    assert np.allclose(softmax(logits[:, :8], axis=1), system.predict_proba(crops, tta=False), atol=1e-5)
    assert np.allclose(softmax(logits[:, 8:], axis=1), system.predict_proba(crops, tta=False, head="fer2013"),
                       atol=1e-5)
    capsys.readouterr()
    assert main(["export", str(tmp_path / "face.pt")]) == 2
    assert main(["export", str(tmp_path / "x.onnx"), "--face-model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "ending in .onnx" in err[0] and "not found" in err[1]
