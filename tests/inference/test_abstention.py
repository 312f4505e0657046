"""Knowing when not to answer: a speech model with an abstention level answers "uncertain" (with its best guess and
every probability) below it, in the engine, the CLI, a batch table, the REST service and the web demo's text."""

from __future__ import annotations

import json
import shutil

import pytest
import soundfile as sf

from avemo.cli import main
from avemo.demo.view import modality_line, summary_markdown
from avemo.inference.engine import InferenceEngine
from avemo.inference.results import PREDICTED, Status
from avemo.io.synth import synth_voice
from tests.inference.test_adaptation import probe_dir  # noqa: F401  (a fixture: a probe on synthetic voices)

SR = 16000


@pytest.fixture(scope="module")
def unsure_dir(probe_dir, tmp_path_factory):  # noqa: F811
    """The probe with an abstention level no probability reaches (1.5) on every head."""
    folder = tmp_path_factory.mktemp("models") / "unsure"
    shutil.copytree(probe_dir, folder)
    doc = json.loads((folder / "system.json").read_text())
    for head in doc["heads"].values():
        head["abstain_below"] = 1.5
    (folder / "system.json").write_text(json.dumps(doc))
    return folder


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips") / "anna"
    folder.mkdir()
    for k, pitch in enumerate((120.0, 175.0, 250.0)):
        sf.write(folder / f"take{k}.wav", synth_voice(1.0, pitch, SR, seed=k) * 0.5, SR)
    return sorted(folder.glob("*.wav"))


def test_the_engine_answers_uncertain_below_the_level_and_sure_without_one(unsure_dir, probe_dir, clips):  # noqa: F811
    unsure = InferenceEngine(unsure_dir, modalities=("speech",)).predict_file(clips[0])
    assert unsure.status == Status.UNCERTAIN and unsure.status in PREDICTED
    assert unsure.emotion and len(unsure.probabilities) == 8 and "not sure" in unsure.message
    assert unsure.to_dict()["status"] == "uncertain" and unsure.to_dict()["emotion"] == unsure.emotion
    sure = InferenceEngine(probe_dir, modalities=("speech",)).predict_file(clips[0])
    assert sure.status == "ok" and sure.probabilities == pytest.approx(unsure.probabilities)
    adaptation = InferenceEngine(unsure_dir, modalities=("speech",)).speaker_adaptation()
    for path in clips:
        adaptation.add_file(path)
    adapted = adaptation.predict_file(clips[0])  # the adapted head's own level
    assert adapted.status == "uncertain" and "speaker-adapted" in adapted.message


def test_the_cli_and_a_batch_table_say_uncertain(unsure_dir, clips, tmp_path, capsys):
    assert main(["predict", str(clips[0]), "--model", str(unsure_dir)]) == 0
    out = capsys.readouterr().out
    assert ": uncertain (best guess " in out and "not sure" in out
    assert main(["predict", str(clips[0]), "--model", str(unsure_dir), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert doc["status"] == "uncertain" and doc["emotion"] in doc["probabilities"]
    table = tmp_path / "results.csv"
    assert main(["predict", str(clips[0].parent), "--model", str(unsure_dir), "--output", str(table)]) == 0
    import pandas as pd

    rows = pd.read_csv(table)
    assert list(rows["status"]) == ["uncertain"] * 3 and rows["emotion"].notna().all()


def test_rest_and_the_web_demo_say_uncertain(unsure_dir, clips):
    from fastapi.testclient import TestClient

    from avemo.serve.app import ServeSettings, create_app

    app = create_app(ServeSettings(threads=1), lambda s: InferenceEngine(unsure_dir, modalities=("speech",)))
    with TestClient(app) as client:
        for _ in range(100):
            if client.get("/v1/health").json().get("models_loaded"):
                break
        body = client.post("/v1/predict", files={"file": ("take.wav", clips[0].read_bytes(), "audio/wav")}).json()
    assert body["status"] == "uncertain" and body["emotion"] and body["probabilities"]
    result = InferenceEngine(unsure_dir, modalities=("speech",)).predict_file(clips[0])
    text = summary_markdown(result, "take.wav")
    assert text.startswith("### Not sure — best guess ") and "not sure (best guess" in modality_line("Speech", result)
