"""The shipped speech model: loads, predicts a synthetic clip, and (when ../shared/data is present) real files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avemo.cli import main
from avemo.inference import EmotionRecognizer
from avemo.io.synth import synth_voice
from avemo.labels import label_set
from avemo.systems.base import resolve_system_dir


@pytest.fixture(scope="module")
def recognizer():
    return EmotionRecognizer()


def test_shipped_model_is_complete():
    folder = resolve_system_dir(None, kind="speech")
    assert (folder / "system.json").is_file() and (folder / "MODEL_CARD.md").is_file()
    doc = json.loads((folder / "system.json").read_text())
    assert doc["classes"] == list(label_set("ravdess8"))
    assert doc["info"]["cross_validation"]["mean"]["ua"] > 0.7
    assert not list(folder.rglob("*.pt")) and not list(folder.rglob("*.pkl"))
    assert all(f.stat().st_size < 20 * 2**20 for f in folder.rglob("*") if f.is_file())


def test_default_speech_model_is_the_multi_corpus_one():
    from avemo.systems.base import SPEECH_KINDS, load_system

    folder = resolve_system_dir(None, kind=SPEECH_KINDS)
    assert folder.name == "speech-multicorpus" and (folder / "MODEL_CARD.md").is_file()
    doc = json.loads((folder / "system.json").read_text())
    assert doc["classes"] == list(label_set("ravdess8"))
    assert set(doc["info"]["corpora"]) == {"ravdess", "nemo", "emovo", "turev", "urdu", "cremad", "savee", "ased"}
    assert doc["info"]["augmented"]  # the recipe trained with degraded copies, cross-validated as such
    assert doc["selection"] == "loco"  # chosen by leave-one-corpus-out inside the corpora (the nested rule)
    assert doc["heads"]["global"]["abstain_below"] > 0  # it can answer "uncertain"
    assert doc["info"]["cross_validation"]["loco"][doc["info"]["recipe_name"]]["mean_ua"] > 0.4
    assert "non-commercial" in (folder / "MODEL_CARD.md").read_text()
    assert all(f.stat().st_size < 20 * 2**20 for f in folder.rglob("*") if f.is_file())
    system = load_system(folder)
    assert system.heads_["adapted"]["tau"] in system.TAU_GRID
    assert system.heads_["adapted-varied"]["tau"] in system.TAU_GRID  # both adapted heads ship
    assert doc["info"]["recipe_name"] + "[speaker-adapted-varied]" in doc["info"]["cross_validation"]["loco"]


def test_predicts_a_synthetic_clip(recognizer):
    result = recognizer.predict_signal(synth_voice(3.0), 16000)
    assert result.status in ("ok", "uncertain") and result.emotion in label_set("ravdess8")
    assert abs(sum(result.probabilities.values()) - 1) < 1e-4
    assert result.timeline == []


def test_long_input_gets_a_timeline(recognizer):
    result = recognizer.predict_signal(np.tile(synth_voice(3.0), 3), 16000)
    assert len(result.timeline) >= 3 and result.timeline[-1].end == pytest.approx(9.0, abs=0.01)


@pytest.mark.corpus
def test_real_files(recognizer, capsys, require_data):
    angry = require_data("ravdess/speech16k/Actor_01/03-01-05-02-01-01-01.flac", "RAVDESS speech")
    clips = sorted(require_data("cremad_sample", "CREMA-D sample clips").glob("*.mp4"))
    assert clips, "cremad_sample holds no mp4"
    # Actor 01 is in the shipped model's training data: this checks the pipeline end to end, not accuracy.
    assert recognizer.predict_file(angry).emotion == "angry"
    assert main(["predict", "--format", "json", str(angry), str(clips[0])]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["path"] for line in lines] == [str(angry), str(clips[0])]
    assert set(lines[0]["probabilities"]) == set(label_set("ravdess8"))
    # a talking-face video: speech on the audio track, the face model on the frames, fused over FER's 7 classes
    assert lines[1]["modality"] == "audio-visual" and set(lines[1]["probabilities"]) == set(label_set("fer7"))
    assert set(lines[1]["modalities"]) == {"speech", "face"}
    assert lines[1]["modalities"]["face"]["status"] == "ok" and lines[1]["box"]
