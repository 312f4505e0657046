"""The t-SNE map (``tsne.png``) of a benchmark report: the best system's embeddings of the test items, coloured by
emotion.

The runners draw it at the end of every run (:func:`write_tsne`), from what they already hold: a face network's
penultimate layer (:func:`face_embeddings`), or a system's logits on its test folds (:func:`logit_embedding`:
each test item once, scored by the fold's system that never saw it). ``avemo benchmark tsne --report DIR --data
DIR`` (:func:`run_tsne_command`) draws it for a report already written, without training a network: for a speech
report, the logits of the RAVDESS clips on the shipped speech model's features (``speech-multicorpus``: its
recipe, a linear probe, fitted per speaker-independent fold in a minute; see :func:`speech_points`); for a
FER2013 report, the shipped face network's (``face-fer2013``) penultimate layer of FER2013 PrivateTest.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from avemo.errors import ParameterError
from avemo.train.embedding_plots import MIN_POINTS, plot_tsne

log = logging.getLogger(__name__)
FILE = "tsne.png"
SHIPPED_SPEECH, SHIPPED_FACE = "speech-multicorpus", "face-fer2013"


def logit_embedding(probs: np.ndarray) -> np.ndarray:
    """Each row's log-probabilities minus their mean ``(n, C)``: a softmax model's logits (divided by its
    temperature) up to the constant a softmax ignores, so points sit where the model's output layer puts them."""
    log_p = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, None))
    return log_p - log_p.mean(axis=1, keepdims=True)


def face_embeddings(system: Any, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The penultimate layer (``forward_features``, before the classifier) of a trained face system's network
    for gray crops ``(n, side, side)`` uint8: ``(n, embed_dim)``, on the centre crop the system predicts on.

    Raises:
        ParameterError: when the system is not trained.
    """
    import torch

    from avemo.train.batching import collate

    model = getattr(system, "model_", None)
    if model is None:
        raise ParameterError("the face system is not trained; call fit() or load it first")
    images = np.asarray(images)
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                batch = collate(list(images[start:start + batch_size, None]))
                out.append(model.forward_features(system.augment.eval(batch.x)).float().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, model.embed_dim), np.float32)


def write_tsne(points: np.ndarray, labels: Sequence[str], out_dir: str | os.PathLike, title: str) -> Path | None:
    """Draw ``out_dir/tsne.png`` (:func:`~avemo.train.embedding_plots.plot_tsne`); a quick run with fewer than
    :data:`~avemo.train.embedding_plots.MIN_POINTS` test items draws none (returns ``None``)."""
    if len(points) < MIN_POINTS:
        log.info("no %s: %d test items (a t-SNE map needs %d)", FILE, len(points), MIN_POINTS)
        return None
    return plot_tsne(points, labels, Path(out_dir) / FILE, title)


# -- the command: a map for a report already written -----------------------------------------------------------


def report_kind(summary: dict[str, Any]) -> str:
    """``"speech"`` (a RAVDESS speech or the cross-corpus report) or ``"fer2013"``, from a report's summary.

    Raises:
        ParameterError: for any other report.
    """
    benchmark = str(summary.get("benchmark", ""))
    if benchmark == "cross-corpus" or (benchmark.startswith("ravdess-speech") and summary.get("corpus") == "ravdess"):
        return "speech"
    if summary.get("corpus") == "fer2013" and "benchmark" not in summary:
        return "fer2013"
    raise ParameterError(f"no t-SNE command for the {benchmark or summary.get('corpus') or 'unknown'!r} report; "
                         "give --report reports/ravdess-speech, reports/cross-corpus or reports/fer2013")


def ravdess_folder(data: str | os.PathLike) -> Path:
    """The RAVDESS speech folder: ``data`` itself when it holds ``Actor_XX`` folders, else ``data``'s
    ``ravdess/speech16k`` (or ``ravdess``) as in ``../shared/data``.

    Raises:
        ParameterError: when neither is there.
    """
    from avemo.shipping.corpora import corpus_folder

    root = Path(data)
    if any(root.glob("Actor_*")):
        return root
    return corpus_folder(root, "ravdess")


def speech_points(data: str | os.PathLike, cache: str | None = "default", jobs: int = 2,
                  cross_validated: bool = True, folds: Sequence[int] | None = None
                  ) -> tuple[np.ndarray, list[str], str]:
    """Logits of the RAVDESS speech clips on the shipped speech model's features (its Whisper layer statistics,
    from the feature cache; extracted once), their emotions, and a title.

    ``cross_validated`` (default): the shipped model's recipe (its global head's layers and L2) fitted on the
    training actors of each speaker-independent RAVDESS fold, each clip scored once by the fold's probe that never
    heard its actor (``folds``: only these folds, 1-based, for a quick check). ``False``: the shipped model
    itself, which was trained on every one of these clips (its map looks better than its accuracy on new voices).
    """
    from avemo.data.recipes import prepare
    from avemo.data.splits import make_folds
    from avemo.features.store import FeatureStore, extract_all
    from avemo.labels import label_set
    from avemo.systems.base import load_system
    from avemo.systems.cross_validation import cross_validate
    from avemo.systems.speech_probe import FEATURE, CorpusInputs, SpeechProbeSystem
    from avemo.train.metrics import unweighted_accuracy

    system = load_system(SHIPPED_SPEECH, kind="speech-probe")
    recordings = list(prepare("ravdess", ravdess_folder(data), modalities=("audio-only",),
                              vocal_channels=("speech",)))
    features, _ = extract_all(recordings, system.feature_extractors(), FeatureStore(cache), jobs)
    if not cross_validated:
        title = (f"{SHIPPED_SPEECH} (shipped; trained on every one of these clips): logits of the RAVDESS speech "
                 "clips, global head")
        return logit_embedding(system.predict_proba(features)), [r.emotion for r in recordings], title
    classes = label_set(system.label_set)
    y = np.array([classes.index(r.emotion) for r in recordings])
    inputs = CorpusInputs.create(np.stack(features[FEATURE]), [r.corpus for r in recordings],
                                 [r.speaker for r in recordings], system.layers)
    head = system.heads_["global"]
    layers = head["layers"] or system.heads_["adapted"]["layers"]  # an attentive head reads frames, not layers
    chosen = [f for k, f in enumerate(make_folds("ravdess-6fold", recordings), 1) if not folds or k in folds]
    if not chosen:
        raise ParameterError(f"no fold selected by {list(folds or [])}; RAVDESS has folds 1..6")
    # an MLP head's "l2" is its weight decay (an attentive head has none): the regression then chooses among the
    # recipe's L2 strengths
    l2 = system.l2_grid if head.get("kind") in ("mlp", "attentive") else [head["l2"]]
    outcomes = cross_validate(lambda fold: SpeechProbeSystem(system.label_set, system.model, [layers],
                                                             l2, system.loudness_db),
                              inputs, y, chosen, workers=jobs)
    test = np.concatenate([np.asarray(o.fold.test) for o in outcomes])
    probs = np.concatenate([o.test_probs for o in outcomes])
    ua = unweighted_accuracy(y[test], probs.argmax(1))
    layers = ",".join(str(i) for i in head["layers"])
    title = (f"linear probe on {SHIPPED_SPEECH}'s features (Whisper {system.model} layers {layers}), fitted per "
             f"RAVDESS fold on its training actors: logits of the test actors' clips ({len(chosen)} of 6 folds, UA "
             f"{100 * ua:.1f}%)")
    return logit_embedding(probs), [recordings[i].emotion for i in test], title


def face_points(data: str | os.PathLike) -> tuple[np.ndarray, list[str], str]:
    """The shipped face network's penultimate-layer embeddings of the FER2013 PrivateTest images (never seen in
    training or selection), their emotions, and a title."""
    from avemo.data.face_images import load_face_images
    from avemo.data.recipes import prepare
    from avemo.systems.base import load_system

    system = load_system(SHIPPED_FACE, kind="face", engine="torch")
    recordings = [r for r in prepare("fer2013", data) if r.attributes.get("split") == "PrivateTest"]
    if not recordings:
        raise ParameterError(f"{data}: no FER2013 PrivateTest images; give the FER2013 folder (train/, test/ with "
                             "PrivateTest_* files) or fer2013.csv")
    images, kept = load_face_images(recordings, system.spec.side)
    points = face_embeddings(system, images)
    title = (f"{SHIPPED_FACE} (shipped, {system.spec.name}): penultimate layer of FER2013 PrivateTest "
             "(not used in training)")
    return points, [recordings[i].emotion for i in kept], title


def run_tsne_command(report: str | os.PathLike, data: str | os.PathLike, cache: str | None = "default",
                     jobs: int = 2, folds: Sequence[int] | None = None) -> Path:
    """Draw ``report/tsne.png`` for a report already written (see the module docstring); returns its path.
    ``folds``: for a speech report, only these RAVDESS folds (1-based), for a quick check.

    Raises:
        ParameterError: for a folder without ``summary.json``, a report with no t-SNE command, missing data.
    """
    folder = Path(report)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise ParameterError(f"{folder}: no summary.json; give a report folder such as reports/fer2013")
    try:
        summary = json.loads(summary_path.read_text())
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{summary_path}: not valid JSON ({exc}); run the benchmark again") from None
    if report_kind(summary) == "speech":
        points, labels, title = speech_points(data, cache, jobs, folds=folds)
    else:
        points, labels, title = face_points(data)
    return plot_tsne(points, labels, folder / FILE, title)
