"""SHAP values per feature group of the linear systems: the speech probe (softmax regression on Whisper layer
statistics), a linear :class:`~avemo.systems.speech.SpeechSystem` (alone or as a part of a combination), and the
speech and action-unit regressions of :class:`~avemo.systems.av_fusion.AVLateFusionSystem`.

Every one of them computes ``logits = ((x - mean) / std) @ coef.T + bias`` with the standardisation statistics
stored with the model; ``shap.LinearExplainer`` (interventional, background = the stored training means, i.e. 0 in
the standardised space) gives the exact SHAP value of each feature, ``coef[c, j] * z[j]``, and a group's value is
the sum over its features. The values of the explained class sum to its logit minus the logit at the background
(``base``), in the model's logit units (before its temperature).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from avemo.errors import ParameterError
from avemo.systems.inputs import vector_feature

#: What the background is, for the JSON.
BACKGROUND = "the training feature means stored with the model (0 in the standardised space)"


@dataclasses.dataclass(frozen=True)
class LinearView:
    """A linear model over standardised features: ``coef`` ``(classes, D)``, ``bias`` ``(classes,)``, ``mean`` and
    ``std`` ``(D,)``, named ``groups`` of column indices covering the features, the ``temperature`` its logits are
    divided by before the softmax, and a ``note`` on what part of the system this is."""

    name: str
    classes: tuple[str, ...]
    coef: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    groups: tuple[tuple[str, np.ndarray], ...]
    temperature: float = 1.0
    note: str = ""

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` of one ``(D,)`` feature vector, as a ``(1, D)`` float64 row."""
        x = np.asarray(x, np.float64).reshape(1, -1)
        if x.shape[1] != len(self.mean):
            raise ParameterError(f"{self.name}: features have {x.shape[1]} dimensions; the model reads "
                                 f"{len(self.mean)}")
        return (x - self.mean) / self.std

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The ``(classes,)`` logits (before the temperature) of one feature vector."""
        return (self.standardise(x) @ self.coef.T.astype(np.float64) + self.bias)[0]


def feature_shap(view: LinearView, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(shap (D, classes), base (classes,))`` of one ``(D,)`` feature vector with ``shap.LinearExplainer``
    (background: the stored means, i.e. zeros in the standardised space)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap's own deprecation notices about matplotlib colour maps
        import shap

    z = view.standardise(x)
    background = shap.maskers.Independent(np.zeros((1, z.shape[1])), max_samples=1)
    explainer = shap.LinearExplainer((view.coef.astype(np.float64), view.bias.astype(np.float64)), background)
    values = np.asarray(explainer.shap_values(z), np.float64)
    if values.ndim == 2:  # one class: shap drops the class axis
        values = values[..., None]
    return values[0], np.atleast_1d(np.asarray(explainer.expected_value, np.float64))


def group_shap(view: LinearView, x: np.ndarray, target: str) -> dict[str, Any]:
    """The SHAP value of every feature group of ``view`` for class ``target`` on the ``(D,)`` features ``x``:
    ``{"feature_groups": [{"group", "shap"}] by decreasing |shap|, "method": {...}}``.

    Raises:
        ParameterError: for a class the model does not have or features of the wrong width.
    """
    if target not in view.classes:
        raise ParameterError(f"{view.name}: class {target!r} is not one of {list(view.classes)}")
    c = view.classes.index(target)
    values, base = feature_shap(view, x)
    groups = [{"group": name, "shap": round(float(values[cols, c].sum()), 5)} for name, cols in view.groups]
    groups.sort(key=lambda g: -abs(g["shap"]))
    logit = float(view.logits(x)[c])
    method = {"explainer": "shap.LinearExplainer (interventional; exact for a linear model)", "model": view.name,
              "target": target, "units": "logit of the linear model, before its temperature",
              "temperature": round(float(view.temperature), 4), "base": round(float(base[c]), 5),
              "logit": round(logit, 5), "sum_of_shap": round(float(values[:, c].sum()), 5),
              "background": BACKGROUND, "features": int(len(view.mean)), "groups": len(view.groups)}
    if view.note:
        method["note"] = view.note
    return {"feature_groups": groups, "method": method}


# ---- views of the shipped kinds of system ----------------------------------------------------------------------

def probe_view(system: Any, head: str = "global", x: np.ndarray | None = None) -> LinearView:
    """The ``head`` of a :class:`~avemo.systems.speech_probe.SpeechProbeSystem`: groups = Whisper layer x
    statistic (mean, std over frames). An MLP head is linearised at the recording whose ``(D,)`` columns are ``x``
    (:func:`~avemo.systems.probe_mlp.local_linearisation`: its SHAP values are then gradient x input).

    Raises:
        ParameterError: for an MLP head without ``x``.
    """
    h = system.heads_[head]
    if h.get("kind") == "attentive":
        return attentive_view(system, head, x)
    coef, bias, note = h["coef"], h["bias"], ""
    if h.get("kind") == "mlp":
        from avemo.systems.probe_mlp import local_linearisation

        if x is None:
            raise ParameterError(f"the {head} head is an MLP: give the recording's features to linearise it at")
        coef, bias = local_linearisation((np.asarray(x, np.float64) - h["mean"]) / h["std"], h)
        note = ("the head is a small MLP, linearised at this recording: each value is the gradient of the logit "
                "times the standardised feature (gradient x input), not an exact SHAP value")
    width = int(system.width_)
    groups = []
    for k, layer in enumerate(h["layers"]):
        start = 2 * width * k
        groups.append((f"Whisper {system.model} layer {layer} mean", np.arange(start, start + width)))
        groups.append((f"Whisper {system.model} layer {layer} std", np.arange(start + width, start + 2 * width)))
    return LinearView(f"speech probe ({head} head)", tuple(system.classes), coef, bias, h["mean"], h["std"],
                      tuple(groups), float(h["temperature"]), note)


#: Seconds of a recording in each group of an attentive head's explanation.
SEGMENT_SECONDS = 0.5


def attentive_view(system: Any, head: str, x: np.ndarray | None) -> LinearView:
    """An attentive head of a speech probe linearised at one recording's frames ``x`` (``(T, W)``, or flattened):
    groups = :data:`SEGMENT_SECONDS` stretches of the recording (which moments moved the answer).

    Raises:
        ParameterError: without ``x``.
    """
    from avemo.systems.probe_attentive import local_linearisation
    from avemo.systems.speech_probe import FRAMES

    h = system.heads_[head]
    if x is None:
        raise ParameterError(f"the {head} head is attentive: give the recording's frames to linearise it at")
    width = len(h["frame_mean"])
    frames = np.asarray(x, np.float32).reshape(-1, width)
    coef, bias = local_linearisation(frames, h)
    rate = system.feature_extractors()[FRAMES].frame_rate
    per = max(1, round(SEGMENT_SECONDS * rate))
    groups = tuple((f"{a / rate:.1f}-{min(a + per, len(frames)) / rate:.1f} s",
                    np.arange(a * width, min(a + per, len(frames)) * width)) for a in range(0, len(frames), per))
    note = ("the head pools the recording's frames with learnt weights; it is linearised at this recording: each "
            "value is the gradient of the logit times the standardised frame (gradient x input), summed over a "
            "stretch of time, not an exact SHAP value")
    return LinearView(f"speech probe ({head} head, attentive)", tuple(system.classes), coef, bias,
                      np.tile(h["frame_mean"], len(frames)), np.tile(h["frame_std"], len(frames)), groups,
                      float(h["temperature"]), note)


def probe_features(system: Any, features: Mapping[str, Sequence[np.ndarray]], head: str = "global") -> np.ndarray:
    """The ``(D,)`` columns of the probe's ``head`` from the engine's features dict of one recording (an attentive
    head's: the recording's frames, flattened)."""
    from avemo.systems.speech_probe import FEATURE, FRAMES, CorpusInputs

    if system.heads_[head].get("kind") == "attentive":
        return np.asarray(list(features[FRAMES])[0], np.float32).reshape(-1)
    x = np.stack(list(features[FEATURE]))[:1]
    return CorpusInputs.create(x, ["?"], ["?"], system.layers).columns(system.heads_[head]["layers"])[0]


def vector_groups(specs: Sequence[str], features: Mapping[str, Sequence[np.ndarray]],
                  extractors: Mapping[str, Any]) -> tuple[tuple[str, np.ndarray], ...]:
    """Groups of the columns of ``vector_matrix(specs, features)``: one per vector feature and pooled statistic,
    split per layer for an extractor that concatenates layers (``whisper_layers``)."""
    groups, start = [], 0
    for spec in specs:
        name, _, pooling = spec.partition(":")
        width = vector_feature(spec, dict(features)).shape[1]
        stats = {"meanstd": ["mean", "std"], "mean": ["mean"], "std": ["std"]}.get(pooling, [""])
        config = getattr(extractors.get(name), "config", None)
        layers = tuple(getattr(config, "layers", None) or ())
        per_stat = width // len(stats)
        split = layers if getattr(config, "combine", "") == "concat" and layers and per_stat % len(layers) == 0 \
            else ("",)
        step = per_stat // len(split)
        for s, stat in enumerate(stats):
            for k, layer in enumerate(split):
                label = " ".join(p for p in (name, f"layer {layer}" if layer != "" else "", stat) if p)
                a = start + s * per_stat + k * step
                groups.append((label, np.arange(a, a + step)))
        start += width
    return tuple(groups)


def linear_speech_view(system: Any, features: Mapping[str, Sequence[np.ndarray]]
                       ) -> tuple[LinearView, np.ndarray] | None:
    """``(view, features (D,))`` of a speech system's linear model from the engine's features dict of one
    recording: the probe's global head, a linear :class:`~avemo.systems.speech.SpeechSystem`, or the first linear
    part of a combination (``view.note`` says so); ``None`` when the system has no linear model."""
    from avemo.systems.inputs import vector_matrix
    from avemo.systems.speech import SpeechSystem
    from avemo.systems.speech_probe import SpeechProbeSystem

    if isinstance(system, SpeechProbeSystem):
        x = probe_features(system, features)
        return probe_view(system, x=x), x
    if not isinstance(system, SpeechSystem):
        return None
    note = ""
    if system.parts_:
        linear = [k for k, part in enumerate(system.parts_) if part.spec.kind == "linear" and not part.parts_]
        if not linear:
            return None
        k = linear[0]
        note = (f"part {k + 1} of {len(system.parts_)} ({system.parts_[k].spec.name}); the system averages the "
                f"probabilities of its parts, and the other parts are not linear")
        system = system.parts_[k]
    if system.spec.kind != "linear":
        return None
    spec = system.spec
    view = {n: features[spec.feature_key(n)] for n in spec.extractors()}
    extractors = {n: e for n, e in zip(spec.extractors(), spec.feature_extractors().values())}
    x = vector_matrix(spec.vectors, view)[0]
    scaler = system.vector_scaler_
    return LinearView(f"linear speech system {spec.name!r}", tuple(system.classes), system.coef_, system.intercept_,
                      scaler.mean_, scaler.std_, vector_groups(spec.vectors, view, extractors), 1.0, note), x


def action_unit_view(system: Any) -> LinearView:
    """The action-unit regression of an :class:`~avemo.systems.av_fusion.AVLateFusionSystem`: one group per action
    unit (its intensity ``AU*_r`` and presence ``AU*_c`` columns together)."""
    from avemo.features.openface import AU_COLUMNS
    from avemo.systems.av_fusion import AU

    names = list(dict.fromkeys(c.split("_")[0] for c in AU_COLUMNS))
    groups = tuple((n, np.array([j for j, c in enumerate(AU_COLUMNS) if c.split("_")[0] == n])) for n in names)
    return LinearView("action-unit logistic regression", tuple(system.classes), system.au_coef_,
                      system.au_intercept_, system.au_scaler_.mean_, system.au_scaler_.std_, groups,
                      float(system.temperatures_[AU]))


def av_speech_view(system: Any, features: Mapping[str, Sequence[np.ndarray]]) -> tuple[LinearView, np.ndarray]:
    """``(view, features (D,))`` of the speech regression of an :class:`AVLateFusionSystem` from its features dict
    of one recording."""
    from avemo.systems.av_fusion import SPEECH
    from avemo.systems.inputs import vector_matrix

    extractors = system.feature_extractors()
    x = vector_matrix(system.speech_vectors, dict(features))[0]
    return LinearView("speech logistic regression", tuple(system.classes), system.speech_coef_,
                      system.speech_intercept_, system.speech_scaler_.mean_, system.speech_scaler_.std_,
                      vector_groups(system.speech_vectors, features, extractors),
                      float(system.temperatures_[SPEECH])), x
