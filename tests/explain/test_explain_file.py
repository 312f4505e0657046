"""``explain_file`` and ``avemo explain`` on generated inputs (a synthetic voice, a rendered face crop, an image
without a face, silence) and on the committed talking-face clip: the JSON, the pictures, and the errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from avemo.cli import main
from avemo.errors import MediaDecodeError, ParameterError
from avemo.explain import EXPLANATION_FILE, ExplainOptions, explain_file
from avemo.io.synth import synth_voice

SR = 16000
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEYS = {"file", "input", "status", "prediction", "probabilities", "contributions", "speech_spans", "faces",
        "feature_groups", "methods", "pictures", "notes", "seconds"}


@pytest.fixture(scope="module")
def engine(tiny_engine):
    return tiny_engine


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain-media")
    sf.write(folder / "voice.wav", synth_voice(3.0, 180, SR, seed=3), SR)
    sf.write(folder / "silence.wav", np.zeros(2 * SR, np.float32), SR)
    crop = np.full((48, 48), 150, np.uint8)  # a drawn face filling a 48x48 image, as FER2013's crops do
    cv2.ellipse(crop, (24, 26), (17, 21), 0, 0, 360, 200, -1)
    for x in (17, 31):
        cv2.circle(crop, (x, 20), 3, 40, -1)
    cv2.ellipse(crop, (24, 35), (8, 4), 0, 0, 180, 60, 2)
    cv2.imwrite(str(folder / "face.png"), crop)
    scene = np.zeros((240, 320, 3), np.uint8)
    scene[:] = (30, 110, 190)
    cv2.rectangle(scene, (40, 60), (280, 200), (240, 240, 240), -1)
    cv2.imwrite(str(folder / "no_face.png"), scene)
    (folder / "broken.wav").write_bytes(np.random.default_rng(0).bytes(2000))
    return folder


def check_document(doc, out: Path):
    assert KEYS <= set(doc)
    on_disk = json.loads((out / EXPLANATION_FILE).read_text())
    assert on_disk == json.loads(json.dumps(doc))
    for name in doc["pictures"]:
        with Image.open(out / name) as image:
            assert image.format == "PNG" and min(image.size) > 100
    assert sorted(p.name for p in out.glob("*.png")) == sorted(doc["pictures"])
    if doc["contributions"]:
        assert sum(c["share"] for c in doc["contributions"]) == pytest.approx(1.0, abs=1e-3)
        assert all(0.0 <= c["share"] <= 1.0 for c in doc["contributions"])


def test_audio(engine, media, tmp_path):
    doc = explain_file(engine, media / "voice.wav", tmp_path)
    check_document(doc, tmp_path)
    assert doc["input"] == "audio" and doc["status"] == "ok" and doc["prediction"]["modality"] == "speech"
    assert doc["prediction"]["emotion"] == max(doc["probabilities"], key=doc["probabilities"].get)
    assert [(c["modality"], c["share"]) for c in doc["contributions"]] == [("speech", 1.0)]
    spans = doc["speech_spans"]
    assert spans[0]["start"] == 0.0 and spans[-1]["end"] == pytest.approx(3.0) and len(spans) == 11
    assert set(spans[0]) >= {"start", "end", "importance"} and any(abs(s["importance"]) > 0 for s in spans)
    method = doc["methods"]["feature_groups"]
    assert {g["group"] for g in doc["feature_groups"]} == {"logmel mean", "logmel std"}
    assert sum(g["shap"] for g in doc["feature_groups"]) == pytest.approx(method["logit"] - method["base"], abs=1e-3)
    assert method["target"] == doc["prediction"]["emotion"] and "stored with the model" in method["background"]
    assert doc["pictures"] == ["speech_spans.png", "feature_groups.png"] and doc["faces"] == []


def test_rendered_face_crop(engine, media, tmp_path):
    doc = explain_file(engine, media / "face.png", tmp_path, ExplainOptions(face_steps=8))
    check_document(doc, tmp_path)
    assert doc["input"] == "image" and doc["status"] == "ok" and doc["speech_spans"] == []
    face = doc["faces"][0]
    assert len(face["box"]) == 4 and face["saliency_png"] == "face_1.png" and face["target"] == face["emotion"]
    assert face["target"] == doc["prediction"]["emotion"] and 0.0 < face["probability"] <= 1.0
    assert doc["pictures"] == ["face_1.png"] and doc["contributions"][0]["modality"] == "face"
    again = explain_file(engine, media / "voice.wav", tmp_path)  # the same folder: the face picture goes
    check_document(again, tmp_path)


def test_video_fuses_two_modalities(engine, tmp_path):
    doc = explain_file(engine, FIXTURES / "talking_face.mp4", tmp_path, ExplainOptions(face_steps=8))
    check_document(doc, tmp_path)
    assert doc["input"] == "video" and doc["prediction"]["modality"] == "audio-visual"
    rows = {c["modality"]: c for c in doc["contributions"]}
    assert set(rows) == {"speech", "face"}
    target = doc["prediction"]["emotion"]
    result = engine.predict_file(FIXTURES / "talking_face.mp4")
    alone = {"face": dict(result.modalities["face"].probabilities),
             "speech": engine.speech_on_fused_classes(result.modalities["speech"].probabilities)}
    for name, other in (("speech", "face"), ("face", "speech")):  # without one: the engine fuses the other alone
        expected = engine.fuse_distributions({other: alone[other]})[target]
        assert rows[name]["probability_without"] == pytest.approx(expected, abs=1e-4)
        assert rows[name]["drop_when_removed"] == pytest.approx(result.probabilities[target] - expected, abs=1e-3)
    total = sum(c["shapley"] for c in rows.values())
    assert total == pytest.approx(doc["probabilities"][target] - 1 / len(doc["probabilities"]), abs=2e-3)
    assert doc["faces"][0]["saliency_png"] == "face_1.png" and "frame_time" in doc["faces"][0]
    assert {"contributions.png", "speech_spans.png", "face_1.png"} <= set(doc["pictures"])


def test_nothing_to_explain_still_writes_the_json(engine, media, tmp_path):
    doc = explain_file(engine, media / "no_face.png", tmp_path / "no_face")
    check_document(doc, tmp_path / "no_face")
    assert doc["status"] == "no_face" and doc["message"] and doc["faces"] == [] and doc["pictures"] == []
    doc = explain_file(engine, media / "silence.wav", tmp_path / "silence")
    assert doc["status"] == "silence" and doc["speech_spans"] == [] and doc["pictures"] == []


def test_bad_inputs(engine, media, tmp_path):
    with pytest.raises(MediaDecodeError, match="not found"):
        explain_file(engine, media / "missing.wav", tmp_path)
    with pytest.raises(MediaDecodeError):
        explain_file(engine, media / "broken.wav", tmp_path)
    with pytest.raises(ParameterError, match="ExplainOptions"):
        explain_file(engine, media / "voice.wav", tmp_path, {"span": 1.0})
    (tmp_path / "file").write_text("")
    with pytest.raises(ParameterError, match="cannot write"):
        explain_file(engine, media / "voice.wav", tmp_path / "file" / "out")


def test_cli(tiny_model_dir, media, tmp_path, capsys):
    assert main(["explain", str(media / "voice.wav"), "--out", str(tmp_path / "wav"),
                 "--model", str(tiny_model_dir)]) == 0
    out = capsys.readouterr().out
    assert "speech 100%" in out and "speech spans that mattered most" in out and "explanation.json" in out
    assert json.loads((tmp_path / "wav" / EXPLANATION_FILE).read_text())["status"] == "ok"
    for name, reason in (("no_face.png", "no face"), ("silence.wav", "no audible speech"), ("missing.wav", "not found"),
                         ("broken.wav", "not a readable")):
        assert main(["explain", str(media / name), "--out", str(tmp_path / name), "--model",
                     str(tiny_model_dir)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("avemo: error:") and reason in err and len(err.splitlines()) == 1
    assert json.loads((tmp_path / "no_face.png" / EXPLANATION_FILE).read_text())["status"] == "no_face"
