"""t-SNE maps of benchmark reports: the plotting function (synthetic clusters), the embeddings the runners draw
(logits, a face network's penultimate layer) and the ``avemo benchmark tsne`` command on a tiny FER2013 folder."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from avemo.benchmark import tsne as tsne_mod
from avemo.benchmark.tsne import face_embeddings, logit_embedding, report_kind, run_tsne_command, write_tsne
from avemo.errors import AvemoError, ParameterError
from avemo.models.registry import create_model
from avemo.train import embedding_plots
from avemo.train.augment import ImageAugment, ImageAugmentConfig
from avemo.train.embedding_plots import emotion_colour, plot_tsne, tsne_coordinates
from avemo.train.predict import predict_proba

EMOTIONS = ("happy", "sad", "angry")


def clusters(per_class: int = 20, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Three well separated Gaussian clusters in ``dim`` dimensions, one emotion each."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (len(EMOTIONS), dim))
    points = np.concatenate([c + rng.normal(0, 1, (per_class, dim)) for c in centres])
    return points, [e for e in EMOTIONS for _ in range(per_class)]


def png_size(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        return im.size


def test_plot_tsne_writes_a_png_of_the_documented_size(tmp_path):
    points, labels = clusters()
    path = plot_tsne(points, labels, tmp_path / "sub" / "tsne.png", "synthetic clusters")
    assert path == tmp_path / "sub" / "tsne.png"
    assert png_size(path) == (792, 616)


def test_tsne_keeps_separated_clusters_apart():
    points, labels = clusters(dim=80)  # > 50 dimensions: PCA first
    xy = tsne_coordinates(points)
    assert xy.shape == (60, 2)
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.asarray(labels)[d.argmin(1)]
    assert np.mean(nearest == np.asarray(labels)) == 1.0
    assert np.allclose(xy, tsne_coordinates(points))  # fixed random_state: the same map every time


def test_plot_tsne_subsamples_above_max_points(tmp_path, monkeypatch):
    seen = []

    def fake(x, random_state=0):
        seen.append(len(x))
        return np.asarray(x)[:, :2]

    monkeypatch.setattr(embedding_plots, "tsne_coordinates", fake)
    points, labels = clusters(per_class=10, dim=4)
    plot_tsne(points, labels, tmp_path / "a.png", "t", max_points=12)
    plot_tsne(points, labels, tmp_path / "b.png", "t", max_points=None)
    assert seen == [12, 30]


@pytest.mark.parametrize("n", [0, 1, 4])
def test_fewer_than_five_points_is_an_error(tmp_path, n):
    with pytest.raises(AvemoError, match="at least 5 points"):
        plot_tsne(np.zeros((n, 3)), ["happy"] * n, tmp_path / "t.png", "too few")
    assert not (tmp_path / "t.png").exists()


def test_bad_points_are_errors(tmp_path):
    points, labels = clusters(per_class=3, dim=4)
    with pytest.raises(ParameterError, match="one label per point"):
        plot_tsne(points, labels[:-1], tmp_path / "t.png", "t")
    with pytest.raises(ParameterError, match="2-D"):
        plot_tsne(points[:, 0], labels, tmp_path / "t.png", "t")
    points[0, 0] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        plot_tsne(points, labels, tmp_path / "t.png", "t")


def test_write_tsne_skips_a_quick_run_with_too_few_items(tmp_path):
    assert write_tsne(np.zeros((4, 3)), ["sad"] * 4, tmp_path, "t") is None
    assert not (tmp_path / "tsne.png").exists()
    points, labels = clusters(per_class=4, dim=3)
    assert write_tsne(points, labels, tmp_path, "t") == tmp_path / "tsne.png"


def test_every_emotion_has_one_colour():
    assert [emotion_colour(e) for e in ("neutral", "calm", "happy", "surprised", "bored")] == \
        ["C0", "C1", "C2", "C7", "C8"]
    assert emotion_colour("contempt") == "tab:olive"


def test_logit_embedding_recovers_centred_logits():
    logits = np.random.default_rng(1).normal(0, 3, (10, 8))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    emb = logit_embedding(probs)
    assert np.allclose(emb, logits - logits.mean(1, keepdims=True), atol=1e-9)
    assert np.allclose(emb.sum(1), 0)


def test_face_embeddings_are_the_input_of_the_classifier():
    torch.manual_seed(0)
    model = create_model("face_cnn", 1, 7, config={"channels": [4, 8], "convs_per_block": 1}).eval()
    augment = ImageAugment(ImageAugmentConfig(crop=40, tta="none"))
    system = SimpleNamespace(model_=model, augment=augment)
    images = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    emb = face_embeddings(system, images, batch_size=2)
    assert emb.shape == (5, model.embed_dim)
    with torch.no_grad():
        from_emb = torch.softmax(model.forward_head(torch.from_numpy(emb)), -1).numpy()
    expected = predict_proba(model, list(images[:, None]), augment=augment)
    assert np.allclose(from_emb, expected, atol=1e-5)
    with pytest.raises(ParameterError, match="not trained"):
        face_embeddings(SimpleNamespace(model_=None, augment=augment), images)


def test_report_kind():
    assert report_kind({"benchmark": "ravdess-speech", "corpus": "ravdess"}) == "speech"
    assert report_kind({"benchmark": "cross-corpus"}) == "speech"
    assert report_kind({"corpus": "fer2013", "systems": {}}) == "fer2013"
    with pytest.raises(ParameterError, match="no t-SNE command"):
        report_kind({"benchmark": "ravdess-av", "corpus": "ravdess"})


def tiny_fer2013(root: Path, per_class: int = 3) -> Path:
    """A FER2013 image-folder layout with ``per_class`` random 48x48 PrivateTest crops per emotion folder."""
    rng = np.random.default_rng(0)
    for split, prefix in (("train", ""), ("test", "PrivateTest_")):
        for emotion in ("happy", "sad", "angry"):
            folder = root / split / emotion
            folder.mkdir(parents=True)
            for k in range(per_class):
                Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(folder / f"{prefix}{k}.png")
    return root


def test_tsne_command_on_a_tiny_fer2013_report(tmp_path, monkeypatch):
    from avemo.cli import main

    monkeypatch.setenv("AVEMO_CACHE", str(tmp_path / "cache"))
    data = tiny_fer2013(tmp_path / "fer2013")
    report = tmp_path / "reports" / "fer2013"
    report.mkdir(parents=True)
    (report / "summary.json").write_text(json.dumps({"corpus": "fer2013", "systems": {}}))
    drawn = {}
    real = tsne_mod.plot_tsne

    def spy(points, labels, path, title):
        drawn.update(points=np.asarray(points), labels=list(labels), title=title)
        return real(points, labels, path, title)

    monkeypatch.setattr(tsne_mod, "plot_tsne", spy)
    assert main(["benchmark", "tsne", "--report", str(report), "--data", str(data)]) == 0
    assert png_size(report / "tsne.png") == (792, 616)
    assert drawn["points"].shape == (9, 256)  # the shipped network's penultimate layer, PrivateTest only
    assert sorted(drawn["labels"]) == sorted(["happy", "sad", "angry"] * 3)
    assert "face-fer2013" in drawn["title"]


def test_tsne_command_errors(tmp_path, capsys):
    from avemo.cli import main

    assert main(["benchmark", "tsne", "--data", str(tmp_path)]) == 2
    assert "needs --report" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="no summary.json"):
        run_tsne_command(tmp_path, tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps({"benchmark": "ravdess-av", "corpus": "ravdess"}))
    assert main(["benchmark", "tsne", "--report", str(tmp_path), "--data", str(tmp_path)]) == 2
    assert "no t-SNE command" in capsys.readouterr().err


def test_cross_corpus_map_takes_the_best_loco_system_each_recording_once(tmp_path, monkeypatch):
    from avemo.benchmark import cross_corpus
    from avemo.data.splits import Fold

    classes = ("neutral", "happy", "sad")
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    folds = [Fold("loco-a", (3, 4), (5,), (0, 1, 2), ("a:1",), ()), Fold("loco-b", (0, 1), (2,), (3, 4, 5, 6), (), ()),
             Fold("fold1", (3, 4), (5,), (0, 1), (), ())]
    jobs = [("loco", "probe", folds[0]), ("loco", "probe", folds[1]), ("ravdess_6fold", "probe", folds[2])]
    rng = np.random.default_rng(0)

    def outcome(fold):
        n = len(fold.test)
        return SimpleNamespace(test_probs={"": np.full((n, 3), 1 / 3),
                                           "[speaker-adapted]": rng.dirichlet(np.ones(3), n)})

    outcomes = [outcome(f) for _, _, f in jobs]
    summary = {"loco": {"systems": {"probe": {"mean": {"ua": 0.4}}, "probe[speaker-adapted]": {"mean": {"ua": 0.6}}}}}
    drawn = {}
    monkeypatch.setattr(cross_corpus, "write_tsne",
                        lambda points, labels, out, title: drawn.update(points=points, labels=labels, title=title))
    cross_corpus._draw_tsne(summary, jobs, outcomes, y, classes, tmp_path)
    expected = np.concatenate([o.test_probs["[speaker-adapted]"] for o in outcomes[:2]])
    assert np.allclose(drawn["points"], logit_embedding(expected))
    assert drawn["labels"] == [classes[i] for i in y]  # rows 0..6 once each, in fold order
    assert drawn["title"].startswith("probe[speaker-adapted]")


def test_speech_map_scores_each_clip_once_by_a_probe_that_never_heard_its_actor(tmp_path, monkeypatch):
    """The speech branch of the command on a RAVDESS-named folder of empty files, the features faked (no
    Whisper): 24 actors x 8 emotions, features that tell the emotion apart."""
    import avemo.features.store as store

    root = tmp_path / "ravdess"
    for actor in range(1, 25):
        (root / f"Actor_{actor:02d}").mkdir(parents=True)
        for emotion in range(1, 9):
            (root / f"Actor_{actor:02d}" / f"03-01-{emotion:02d}-01-01-01-{actor:02d}.wav").write_bytes(b"")
    from avemo.systems.base import load_system

    rng = np.random.default_rng(0)
    dims = 2 * 4 * len(load_system(tsne_mod.SHIPPED_SPEECH, kind="speech-probe").layers)  # its layers x [mean, std]
    centres = rng.normal(0, 3, (8, dims))  # x 4 dimensions

    def fake_extract(recordings, extractors, cache, jobs=1):
        codes = [int(Path(r.path).name.split("-")[2]) - 1 for r in recordings]
        return {name: [centres[c] + rng.normal(0, 1, dims).astype(np.float32) for c in codes]
                for name in extractors}, {name: 0.0 for name in extractors}

    monkeypatch.setattr(store, "extract_all", fake_extract)
    points, labels, title = tsne_mod.speech_points(root, cache=None, jobs=1, folds=[1])
    assert points.shape == (32, 8)  # fold 1: actors 1, 11, 20, 21, each clip once
    assert sorted(labels) == sorted(e for e in ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust",
                                                 "surprised") for _ in range(4))
    ua = float(title.split("UA ")[1].split("%")[0])
    assert ua > 90  # separable features: the fold's probe finds the emotions of actors it never heard
    assert "1 of 6 folds" in title
    with pytest.raises(ParameterError, match="no fold selected"):
        tsne_mod.speech_points(root, cache=None, jobs=1, folds=[7])
