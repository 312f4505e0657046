"""The shipped face model: complete, safe formats, and (when ../shared/data is present) it predicts a FER2013
PrivateTest image, the RAVDESS stills and a CREMA-D talking-face clip end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avemo.cli import main
from avemo.inference import FaceEmotionRecognizer
from avemo.labels import label_set
from avemo.systems.base import resolve_system_dir


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("AVEMO_OFFLINE", "1")


@pytest.fixture(scope="module")
def recognizer():
    return FaceEmotionRecognizer()


def test_shipped_face_model_is_complete():
    folder = resolve_system_dir(None, kind="face")
    doc = json.loads((folder / "system.json").read_text())
    assert doc["classes"] == list(label_set("ferplus8"))  # FER+'s eight; the front ends serve FER2013's seven
    assert doc["spec"]["extra_heads"] == {"fer2013": "fer7"}
    assert (folder / "MODEL_CARD.md").is_file() and "PrivateTest" in (folder / "MODEL_CARD.md").read_text()
    assert doc["info"]["temperature"] > 0
    assert not list(folder.rglob("*.pt")) and not list(folder.rglob("*.pkl"))
    assert all(f.stat().st_size < 20 * 2**20 for f in folder.rglob("*") if f.is_file())


def test_predicts_a_face_crop(recognizer):
    result = recognizer.predict_image(np.full((48, 48, 3), 120, np.uint8))
    assert result.status == "ok" and abs(sum(result.probabilities.values()) - 1) < 1e-4


@pytest.mark.corpus
def test_fer2013_images_are_mostly_right(recognizer, require_data):
    """A sanity check on 70 PrivateTest images (10 per class): far above chance (1/7), not a benchmark."""
    root = require_data("fer2013/test", "FER2013")
    from avemo.io.image import load_image
    from avemo.labels import canonical_emotion

    right = total = 0
    for folder in sorted(root.iterdir()):
        for path in sorted(folder.glob("PrivateTest_*.jpg"))[:10]:
            result = recognizer.predict_image(load_image(path), path=str(path))
            right += result.emotion == canonical_emotion(folder.name)
            total += 1
    assert total == 70 and right / total > 0.4


@pytest.mark.corpus
def test_cli_on_stills_fer_image_and_video(capsys, require_data):
    stills = sorted(require_data("ravdess/stills", "RAVDESS stills").glob("*.png"))[:2]
    fer = sorted(require_data("fer2013/test/happy", "FER2013").glob("PrivateTest_*.jpg"))[:1]
    clips = sorted(require_data("cremad_sample", "CREMA-D sample clips").glob("*.mp4"))[:1]
    assert stills and fer and clips, "the shared corpora are incomplete"
    files = [str(p) for p in stills + fer + clips]
    assert main(["predict", "--format", "json", "--modality", "face", *files]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["path"] for line in lines] == files
    for line in lines:
        assert line["status"] == "ok" and set(line["probabilities"]) == set(label_set("fer7")) and line["box"]
    assert lines[-1]["frames"] and lines[-1]["faces"][0]["frames"] >= 5
