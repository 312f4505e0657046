"""Every ``avemo`` command and every ``avemo benchmark`` suite runs (issue 37, item 7), at tiny scale: on the committed
fixtures (tests/fixtures), synthetic voices and tiny synthetic corpora laid out as the real ones (tests/corpora.py),
never on the shared corpora.

:data:`SMOKE_CASES` names the case of each command (the subcommands of :func:`avemo.cli.build_parser`) and each
suite (``benchmark <suite>``, from :data:`avemo.cli.benchmark.SUITES`): a test of this file, or a test elsewhere
(``path::name``) that already runs it at tiny scale, so that no slow run happens twice. Each one runs the command
through :func:`avemo.cli.main` (``serve`` in a child process; :data:`NOT_THROUGH_MAIN` lists the exceptions and
why) and checks its exit status and what it writes. A new command or suite fails
:func:`test_every_command_and_suite_has_a_smoke_case` until it has a case here. This file takes about 70 s on a
quiet 2-core machine.
"""

from __future__ import annotations

import ast
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import soundfile as sf
from corpora import write_fer2013_folder, write_fer2013_suite, write_ravdess_av, write_speech_suite

from avemo.cli import build_parser, main
from avemo.cli.benchmark import SUITES
from avemo.io.synth import synth_voice

REPO_ROOT = Path(__file__).resolve().parents[2]
SR = 16000

#: The smoke case of each command (``benchmark`` through its suites) and each benchmark suite: a test of this file
#: by name, or ``tests/...py::test_name`` for a test elsewhere that runs it through ``avemo.cli.main`` already.
SMOKE_CASES: dict[str, str] = {
    "prepare": "tests/cli/test_cli.py::test_prepare_ravdess_writes_manifest",
    "extract": "test_extract",
    "train": "test_train_and_evaluate",
    "evaluate": "test_train_and_evaluate",
    "predict": "tests/cli/test_cli.py::test_predict_text_output_with_timeline",
    "serve": "test_serve_until_interrupted",
    "export": "tests/cli/test_cli.py::test_export_face_model_to_onnx",
    "live": "tests/live/test_shared_fields.py::test_live_lines_websocket_messages_and_predict_share_field_names",
    "demo": "test_demo",
    "explain": "tests/explain/test_explain_file.py::test_cli",
    "benchmark ravdess-speech": "test_benchmark_ravdess_speech",
    "benchmark ravdess-av": "test_benchmark_ravdess_av",
    "benchmark fer2013": "test_benchmark_fer2013",
    "benchmark speed": "test_benchmark_speed",
    "benchmark face-speed": "test_benchmark_face_speed",
    "benchmark serve": "test_benchmark_serve",
    "benchmark cross-corpus": "tests/systems/test_cross_corpus_protocol.py::"
                              "test_the_benchmark_writes_its_report_end_to_end",
    "benchmark live": "test_benchmark_live",
    "benchmark batch": "tests/batch/test_batch_benchmark.py::test_batch_benchmark_writes_its_report",
    "benchmark tsne": "tests/test_embedding_plots.py::test_tsne_command_on_a_tiny_fer2013_report",
    "benchmark ferplus": "tests/faces/test_ferplus.py::test_benchmark_on_a_tiny_corpus",
    "benchmark face-adaptation": "test_benchmark_face_adaptation",
}
#: Cases elsewhere that call the suite's function instead of ``avemo.cli.main``, and why.
NOT_THROUGH_MAIN = {
    "benchmark batch": "the command line always adds two Ray runs (about 35 s on 2 cores); the test runs the "
                       "suite's run_batch_benchmark with the local engine on 8 files",
}


def command_names() -> list[str]:
    """The commands of ``avemo --help`` (``benchmark`` as ``benchmark <suite>``, one per suite)."""
    parser = build_parser()
    (subparsers,) = [action for action in parser._actions if action.dest == "command"]
    names = [name for name in subparsers.choices if name != "benchmark"]
    return names + [f"benchmark {suite}" for suite in SUITES]


def missing_smoke_cases() -> list[str]:
    """The commands and suites without an entry in :data:`SMOKE_CASES`."""
    return [name for name in command_names() if name not in SMOKE_CASES]


def test_every_command_and_suite_has_a_smoke_case():
    missing = missing_smoke_cases()
    assert not missing, f"add a smoke case to SMOKE_CASES in {__file__} for: {', '.join(missing)}"
    stale = sorted(set(SMOKE_CASES) - set(command_names()))
    assert not stale, f"SMOKE_CASES names commands or suites that no longer exist: {stale}"


def test_a_new_command_or_suite_needs_a_smoke_case(monkeypatch):
    import avemo.cli

    new_command = SimpleNamespace(register=lambda subparsers: subparsers.add_parser("tiny-new-command"))
    monkeypatch.setattr(avemo.cli, "COMMAND_MODULES", (*avemo.cli.COMMAND_MODULES, new_command))
    monkeypatch.setitem(SUITES, "tiny-new-suite", SUITES["speed"])
    assert missing_smoke_cases() == ["tiny-new-command", "benchmark tiny-new-suite"]


def _function_source(path: Path, name: str) -> str | None:
    """The source of the top-level function ``name`` in ``path`` (``None`` when there is none)."""
    text = path.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node)
    return None


@pytest.mark.parametrize("command", sorted(SMOKE_CASES))
def test_each_smoke_case_exists(command):
    """A case of this file is a test here; one elsewhere exists and calls ``main(["<command>", ...])`` (unless
    :data:`NOT_THROUGH_MAIN` says why not)."""
    case = SMOKE_CASES[command]
    path, _, name = case.rpartition("::")
    source = _function_source(REPO_ROOT / path if path else Path(__file__), name)
    assert name.startswith("test_") and source, f"{command}: no test {case}"
    call = "main([" + ", ".join(f'"{word}"' for word in command.split())
    assert not path or call in source or command in NOT_THROUGH_MAIN, f"{command}: {case} does not call {call}"


# ---- fixtures -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ravdess_av(tmp_path_factory) -> Path:
    """RAVDESS's audio-visual layout, tiny: 192 synthetic 0.6-s voices in ``speech16k/`` and their AU table."""
    return write_ravdess_av(tmp_path_factory.mktemp("ravdess-av"))


@pytest.fixture()
def voice(tmp_path) -> Path:
    """A 2-s synthetic voice (16 kHz wav)."""
    path = tmp_path / "voice.wav"
    sf.write(path, synth_voice(2.0, 150.0, SR), SR)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


# ---- commands -------------------------------------------------------------------------------------------------

def test_extract(ravdess_av, tmp_path, capsys):
    report = tmp_path / "extraction"
    assert main(["extract", "logmel", "--data", str(ravdess_av / "speech16k"), "--jobs", "1", "--cache",
                 str(tmp_path / "cache"), "--report", str(report)]) == 0
    assert "logmel: 192 files in" in capsys.readouterr().out
    assert read_json(report / "summary.json")["n_files"] == 192 and list((tmp_path / "cache").rglob("*.npy"))


def test_train_and_evaluate(ravdess_av, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AVEMO_CACHE", str(tmp_path / "cache"))
    system = write_speech_suite(tmp_path / "configs") / "speech" / "tiny-linear.yaml"
    speech, model = str(ravdess_av / "speech16k"), tmp_path / "model"
    assert main(["train", str(system), "--data", speech, "--out", str(model), "--jobs", "1"]) == 0
    assert capsys.readouterr().out.strip() == f"saved {model}"
    assert (model / "MODEL_CARD.md").is_file()
    assert main(["evaluate", str(model), "--data", speech, "--speakers", "01", "02", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("UA ") and "macro-F1" in out and "(n=16)" in out


def _wait_until_ready(child: subprocess.Popen, port: int, seconds: float = 180.0) -> None:
    """Wait for the server in ``child`` to answer /v1/health with its models loaded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert child.poll() is None, f"avemo serve exited at start-up with status {child.returncode}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).json().get("models_loaded"):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"avemo serve was not ready within {seconds:.0f} s")


def test_serve_until_interrupted(tiny_model_dir, voice, tmp_path):
    """``avemo serve`` in a child process answers a prediction; Ctrl-C shuts it down cleanly (exit status 0)."""
    port, log = free_port(), tmp_path / "serve.log"
    command = [sys.executable, "-m", "avemo.cli", "serve", "--port", str(port), "--model", str(tiny_model_dir),
               "--threads", "1"]
    with log.open("wb") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_until_ready(child, port)
            response = httpx.post(f"http://127.0.0.1:{port}/v1/predict", timeout=60,
                                  files={"file": ("voice.wav", voice.read_bytes(), "audio/wav")})
            child.send_signal(signal.SIGINT)
            status = child.wait(30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert status == 0 and "Finished server process" in log.read_text()


def test_demo(tiny_model_dir, monkeypatch, capsys):
    """``avemo demo`` builds the page and launches it; the launch here serves it until the page has loaded once,
    then closes it (instead of serving until Ctrl-C)."""
    import gradio

    real_launch, pages = gradio.Blocks.launch, []

    def launch_once(app, **settings):
        _, url, _ = real_launch(app, prevent_thread_lock=True, quiet=True, **settings)
        try:
            pages.append(httpx.get(url, timeout=60))
        finally:
            app.close()

    monkeypatch.setattr(gradio.Blocks, "launch", launch_once)
    port = free_port()
    assert main(["demo", "--port", str(port), "--model", str(tiny_model_dir)]) == 0
    assert f"avemo demo: open http://127.0.0.1:{port} in a browser" in capsys.readouterr().out
    assert [page.status_code for page in pages] == [200] and "<html" in pages[0].text.lower()


# ---- benchmark suites -----------------------------------------------------------------------------------------

def test_benchmark_ravdess_speech(ravdess_av, tmp_path, monkeypatch, capsys):
    """The suite by its name, its systems replaced by tiny ones (configs/benchmarks/ravdess-speech.yaml copied)."""
    monkeypatch.setenv("AVEMO_CONFIGS", str(write_speech_suite(tmp_path / "configs", "ravdess-speech")))
    out = tmp_path / "report"
    assert main(["benchmark", "ravdess-speech", "--data", str(ravdess_av / "speech16k"), "--out", str(out),
                 "--systems", "tiny-linear", "--folds", "1", "--jobs", "1", "--cache", "none"]) == 0
    assert "tiny-linear" in capsys.readouterr().out
    summary = read_json(out / "summary.json")
    assert summary["folds_run"] == ["fold1"] and set(summary["systems"]) == {"tiny-linear", "tiny-linear@random"}
    assert (out / "results.md").is_file()


def test_benchmark_ravdess_av(ravdess_av, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["benchmark", "ravdess-av", "--data", str(ravdess_av), "--out", str(out), "--folds", "1",
                 "--systems", "fusion_concat", "--jobs", "1", "--cache", "none", "--set",
                 "speech_vectors=[logmel:meanstd]", "speech_copies=[]", "fusion.seeds=[0]", "fusion.train.epochs=1",
                 "fusion.drop_tests=false", "adapt.enabled=false"]) == 0
    assert "timing: " in capsys.readouterr().out
    summary = read_json(out / "summary.json")
    assert summary["folds_run"] == ["fold1"] and "fusion_concat" in summary["systems"]


def test_benchmark_fer2013(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AVEMO_CONFIGS", str(write_fer2013_suite(tmp_path / "configs")))
    monkeypatch.setenv("AVEMO_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # trained systems go to runs/fer2013/
    data = write_fer2013_folder(tmp_path / "fer2013", {"Training": 3, "PublicTest": 1, "PrivateTest": 2})
    assert main(["benchmark", "fer2013", "--data", str(data), "--out", "report"]) == 0
    assert "tiny-cnn" in capsys.readouterr().out
    assert read_json(tmp_path / "report" / "summary.json")["systems"]["tiny-cnn"]["test"]["n_test"] == 14
    assert (tmp_path / "runs" / "fer2013" / "tiny-cnn" / "system.json").is_file()


def test_benchmark_speed(tmp_path, capsys):
    from avemo.features.audio.whisper_onnx import BACKENDS

    assert main(["benchmark", "speed", "--out", str(tmp_path), "--repeats", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == read_json(tmp_path / "summary.json")
    assert printed["repeats"] == 1 and set(printed["backends"]) == set(BACKENDS) and printed["predict_ms_median"] > 0
    assert main(["benchmark", "speed", "--out", str(tmp_path), "--repeats", "0"]) == 2
    assert capsys.readouterr().err == "avemo: error: --repeats must be at least 1, got 0\n"


def test_benchmark_face_speed(face_landmarker, talking_face, tmp_path, capsys):
    """A few frames of the committed talking-face clip (8, the first 5 warming up)."""
    assert main(["benchmark", "face-speed", "--data", str(talking_face.parent), "--out", str(tmp_path),
                 "--frames", "8"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == read_json(tmp_path / "summary.json")
    assert printed["frames"] == 3 and printed["clip"] == talking_face.name and printed["fps"] > 0
    assert printed["faces_per_frame"] == 1
    assert main(["benchmark", "face-speed", "--data", str(talking_face.parent), "--frames", "5"]) == 2
    assert "--frames must be more than the 5 warm-up frames" in capsys.readouterr().err


def test_benchmark_serve(tmp_path, capsys):
    """A real ``avemo serve`` started and stopped by the suite; two clients for one second."""
    assert main(["benchmark", "serve", "--out", str(tmp_path), "--clients", "2", "--seconds", "1",
                 "--repeats", "1"]) == 0
    assert "requests/s" in capsys.readouterr().out
    summary = read_json(tmp_path / "summary.json")
    assert summary["requests"]["failed"] == 0 and summary["requests"]["ok"] >= 1
    assert summary["clients"] == 2 and summary["single_client"]["repeats"] == 1


def test_benchmark_live(face_landmarker, talking_face, tmp_path, capsys):
    assert main(["benchmark", "live", "--data", str(talking_face.parent), "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == (tmp_path / "results.md").read_text()
    summary = read_json(tmp_path / "summary.json")
    assert summary["clips"] == [talking_face.name] and summary["runs"]["faces_no_pace"]["frames"] > 0
    assert summary["runs"]["speech_paced"]["speech_windows"] + summary["runs"]["speech_paced"]["silent_windows"] > 0


def test_benchmark_face_adaptation(face_landmarker, talking_face, tmp_path, capsys):
    """The committed clip twice, named as two CREMA-D takes of one actor."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("1001_DFA_ANG_XX.mp4", "1001_IEO_HAP_HI.mp4"):
        shutil.copy(talking_face, clips / name)
    assert main(["benchmark", "face-adaptation", "--data", str(clips), "--out", str(tmp_path / "report")]) == 0
    assert "| 1001_DFA_ANG_XX.mp4 | angry |" in capsys.readouterr().out
    summary = read_json(tmp_path / "report" / "summary.json")
    assert summary["n_clips"] == 2 and summary["n_people"] == 1
