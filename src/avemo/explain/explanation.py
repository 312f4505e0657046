"""``explain_file``: predict one file with an engine and write why, as numbers (``explanation.json``) and pictures.

What an explanation holds (each part only where the input has it):

- ``contributions``: each modality's share of the fused result (:mod:`avemo.explain.contributions`);
- ``speech_spans``: the importance of each time span of the speech (:mod:`avemo.explain.occlusion`) and the
  picture ``speech_spans.png``;
- ``faces``: a saliency map over each face crop (:mod:`avemo.explain.faces`), ``face_<k>.png``; for a video the
  main face in the frame where it gave the explained class its highest probability;
- ``feature_groups``: SHAP values per feature group of a linear speech model (:mod:`avemo.explain.linear`),
  ``feature_groups.png``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from avemo.errors import ParameterError
from avemo.explain.contributions import METHOD as CONTRIBUTIONS_METHOD
from avemo.explain.contributions import modality_contributions
from avemo.explain.faces import METHOD as FACES_METHOD
from avemo.explain.faces import FaceCrop, best_frame, face_saliency, image_crops, video_crop
from avemo.explain.linear import group_shap, linear_speech_view
from avemo.explain.occlusion import occlusion_spans
from avemo.explain.options import ExplainOptions
from avemo.explain.plots import plot_contributions, plot_face_saliency, plot_feature_groups, plot_speech_spans
from avemo.inference.engine import InferenceEngine, PredictOptions
from avemo.inference.results import FusedResult, ModalityResult, PredictionResult, PREDICTED
from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio
from avemo.io.image import load_image
from avemo.io.media import guess_kind
from avemo.labels import to_common_label_set

EXPLANATION_FILE = "explanation.json"
SPANS_PNG, GROUPS_PNG, CONTRIBUTIONS_PNG = "speech_spans.png", "feature_groups.png", "contributions.png"


def explain_file(engine: InferenceEngine, path: str | os.PathLike, out_dir: str | os.PathLike,
                 options: ExplainOptions | None = None) -> dict[str, Any]:
    """Predict ``path`` (an audio file, an image or a video) with ``engine`` and explain the prediction.

    Writes ``out_dir/explanation.json`` and the pictures it lists under ``pictures`` (file names in ``out_dir``),
    and returns the same dictionary: ``file``, ``input``, ``status`` (``ok``, or why nothing could be explained,
    e.g. ``no_face``, ``silence``, with ``message``), ``prediction``, ``probabilities``, ``contributions``,
    ``speech_spans``, ``faces``, ``feature_groups``, ``methods`` (how each part was computed), ``pictures``,
    ``notes`` and ``seconds``.

    Raises:
        MediaDecodeError: for a missing, empty, corrupt or unsupported file.
        AudioTooShortError: for audio shorter than the speech model's minimum.
        ParameterError: for bad options, a file the engine's models cannot take, or an ``out_dir`` that cannot
            be written.
    """
    started = time.perf_counter()
    options = ExplainOptions() if options is None else options
    if not isinstance(options, ExplainOptions):
        raise ParameterError(f"options must be ExplainOptions, got {type(options).__name__}")
    predict = options.predict or engine.options
    result = engine.predict_file(path, predict)
    out = _out_dir(out_dir)
    doc = _head(path, result)
    if result.status in PREDICTED:
        _Explainer(engine, Path(path), out, options, predict, result, doc).run()
    doc["seconds"] = round(time.perf_counter() - started, 2)
    _remove_stale_pictures(out, doc["pictures"])
    (out / EXPLANATION_FILE).write_text(json.dumps(doc, indent=1))
    return doc


def _remove_stale_pictures(out: Path, pictures: list[str]) -> None:
    """Delete the pictures an earlier explanation in ``out`` listed and this one did not write again."""
    try:
        earlier = json.loads((out / EXPLANATION_FILE).read_text()).get("pictures", [])
    except (OSError, ValueError, AttributeError):
        return
    for name in earlier:
        if isinstance(name, str) and name not in pictures and Path(name).name == name and name.endswith(".png"):
            (out / name).unlink(missing_ok=True)


def _out_dir(out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"cannot write the explanation to {out}: {exc.strerror or exc}; give another --out "
                             "folder") from None
    return out


def _input_kind(path: str | os.PathLike, result: PredictionResult) -> str:
    if guess_kind(path) == "image":
        return "image"
    return "audio" if isinstance(result, ModalityResult) and result.modality == "speech" else "video"


def _head(path: str | os.PathLike, result: PredictionResult) -> dict[str, Any]:
    """The fields every explanation has (the empty parts are filled in by :class:`_Explainer`)."""
    summary = result.to_dict()
    doc: dict[str, Any] = {
        "file": str(path), "input": _input_kind(path, result), "status": str(result.status),
        "prediction": {"emotion": summary["emotion"], "confidence": summary["confidence"],
                       "modality": summary["modality"], "valence": summary["valence"], "arousal": summary["arousal"]},
        "probabilities": summary["probabilities"], "contributions": [], "speech_spans": [], "faces": [],
        "feature_groups": [], "methods": {}, "pictures": [], "notes": []}
    if result.status not in PREDICTED:
        doc["message"] = result.message or str(result.status)
    return doc


class _Explainer:
    """The steps of one explanation, filling ``doc`` in place."""

    def __init__(self, engine: InferenceEngine, path: Path, out: Path, options: ExplainOptions,
                 predict: PredictOptions, result: PredictionResult, doc: dict[str, Any]) -> None:
        self.engine, self.path, self.out, self.options, self.predict = engine, path, out, options, predict
        self.result, self.doc = result, doc
        self.target = result.emotion
        fused = isinstance(result, FusedResult)
        self.speech = result.modalities.get("speech") if fused else (result if result.modality == "speech" else None)
        self.face = result.modalities.get("face") if fused else (result if result.modality == "face" else None)

    def run(self) -> None:
        self.contributions()
        if self.speech is not None and self.speech.status in PREDICTED:
            self.speech_parts()
        if self.face is not None and self.face.status in PREDICTED:
            self.faces()

    def picture(self, name: str) -> str:
        self.doc["pictures"].append(name)
        return str(self.out / name)

    # ---- modality contributions ---------------------------------------------------------------------------

    def contributions(self) -> None:
        labels = list(self.result.probabilities)
        parts: dict[str, dict[str, float]] = {}
        unused = []
        for name, modality in (("speech", self.speech), ("face", self.face)):
            if modality is None:
                continue
            if modality.status not in PREDICTED:
                unused.append({"modality": name, "share": 0.0, "status": str(modality.status),
                               "message": modality.message})
            elif isinstance(self.result, FusedResult):
                parts[name] = self.engine.speech_on_fused_classes(modality.probabilities) if name == "speech" \
                    else dict(modality.probabilities)
            else:
                parts[name] = dict(modality.probabilities)
        fuse = self.engine.fuse_distributions if isinstance(self.result, FusedResult) else \
            (lambda present: next(iter(present.values())))
        self.doc["contributions"] = modality_contributions(parts, fuse, self.target, labels) + unused
        self.doc["methods"]["contributions"] = CONTRIBUTIONS_METHOD
        if len(parts) > 1:
            title = f"{self.path.name}: {self.target} ({self.result.confidence:.0%}), modality contributions"
            plot_contributions(self.doc["contributions"][:len(parts)], self.result.probabilities, self.target,
                               title, self.picture(CONTRIBUTIONS_PNG), self.options.dpi)

    # ---- speech: time spans and feature groups ------------------------------------------------------------

    def speech_parts(self) -> None:
        predictor = self.engine.speech
        signal = load_audio(self.path, TARGET_SAMPLING_RATE)
        features = predictor.features([signal])
        probabilities = np.asarray(predictor.system.predict_proba(features))[0]
        classes = tuple(predictor.classes)
        column = self._speech_column(classes)
        base = float(column(probabilities[None])[0])
        window, hop = self.options.windows(len(signal) / TARGET_SAMPLING_RATE)
        fill_db = self.options.fill_db
        base, spans = occlusion_spans(signal, TARGET_SAMPLING_RATE, lambda signals: column(predictor(signals)),
                                      window, hop, fill_db, self.predict.silence_db, base)
        fill = "silence" if fill_db is None else f"white noise at {fill_db:g} dBFS"
        self.doc["speech_spans"] = [span.to_dict() for span in spans]
        predicted = sum(not s.silent for s in spans)
        self.doc["methods"]["speech_spans"] = {
            "method": f"occlusion: each span replaced by {fill} and the audio predicted again; importance = drop "
                      "of the explained class's probability", "target": self.target,
            "window": round(window, 3), "hop": round(hop, 3), "fill": fill,
            "base_probability": round(base, 5), "predictions": predicted,
            "skipped_silent_spans": len(spans) - predicted}
        if len(signal) / TARGET_SAMPLING_RATE > 30.0:
            self.doc["notes"].append("the audio is longer than 30 s: the spans explain one prediction over the whole "
                                     "signal, while the result is the mean of its windows")
        title = (f"{self.path.name}: predicted {self.target} ({self.result.confidence:.0%}); speech spans for "
                 f"'{self.target}' (p = {base:.2f})")
        plot_speech_spans(signal, TARGET_SAMPLING_RATE, spans, title, self.picture(SPANS_PNG), self.options.dpi)
        self._feature_groups(features, classes, probabilities)

    def _speech_column(self, classes: tuple[str, ...]) -> Callable[[np.ndarray], np.ndarray]:
        """``(n, speech classes) -> (n,)`` probability of the explained class (on the fused label set for a fused
        result: the speech model's calm counts as neutral)."""
        if isinstance(self.result, FusedResult):
            labels = list(self.result.probabilities)
            k = labels.index(self.target)
            return lambda p: to_common_label_set(np.asarray(p, np.float64), classes, labels)[:, k]
        k = classes.index(self.target)
        return lambda p: np.asarray(p, np.float64)[:, k]

    def _feature_groups(self, features: dict[str, list[np.ndarray]], classes: tuple[str, ...],
                        probabilities: np.ndarray) -> None:
        found = linear_speech_view(self.engine.speech.system, features)
        if found is None:
            self.doc["notes"].append("the speech model is not linear, so it has no feature-group SHAP values")
            return
        view, x = found
        target = self.target if self.target in view.classes else classes[int(np.argmax(probabilities))]
        shap = group_shap(view, x, target)
        self.doc["feature_groups"] = shap["feature_groups"]
        self.doc["methods"]["feature_groups"] = shap["method"]
        title = f"{self.path.name}: speech model, '{target}': top feature groups"
        plot_feature_groups(shap["feature_groups"], title, self.picture(GROUPS_PNG), self.options.top_groups,
                            "SHAP value (logit, before temperature)", self.options.dpi)

    # ---- faces -----------------------------------------------------------------------------------------------

    def faces(self) -> None:
        system = self.engine.face.system
        if self.doc["input"] == "image":
            shown = self.face.faces[: self.options.max_faces]
            crops = image_crops(self.engine, load_image(self.path), [f.box for f in shown])
            targets = [f.emotion for f in shown]
        else:  # a video: the main face, in its most confident frame for the explained class
            main = self.face.faces[0]
            target = self.target if self.target in system.classes else main.emotion
            seen = best_frame(self.face.frames, main, target)
            crop = None if seen is None else video_crop(self.engine, self.path, self.predict.video_fps, seen[0],
                                                        seen[1].box)
            shown, crops, targets = [main if seen is None else seen[1]], [crop], [target]
        for k, (face, crop, target) in enumerate(zip(shown, crops, targets), start=1):
            self.doc["faces"].append(self._face(k, face, crop, target, system))
        if self.doc["input"] != "image":
            self.doc["faces"][0]["clip_emotion"] = self.face.faces[0].emotion  # the face's pooled result
        self.doc["methods"]["faces"] = FACES_METHOD

    def _face(self, k: int, face, crop: FaceCrop | None, target: str, system) -> dict[str, Any]:
        entry: dict[str, Any] = {"box": [round(float(v), 1) for v in face.box], "emotion": face.emotion,
                                 "target": target, "saliency_png": None}
        if crop is None:
            entry["note"] = "the face was not found again by the detector, so it has no saliency map"
            return entry
        saliency = face_saliency(system, crop.crop, target, self.options.face_steps)
        name = f"face_{k}.png"
        when = "" if crop.time is None else f" at {crop.time:.2f} s"
        title = f"{self.path.name}{when}: face {k}, {target} (p = {saliency['probability']:.2f})"
        plot_face_saliency(crop.crop, saliency["saliency"], saliency["window"], title, self.picture(name),
                           self.options.dpi)
        entry.update(saliency_png=name, probability=round(saliency["probability"], 4),
                     convergence_delta=round(saliency["convergence_delta"], 5))
        if crop.time is not None:
            entry["frame_time"] = round(crop.time, 3)
        return entry
