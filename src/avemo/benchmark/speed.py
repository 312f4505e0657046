"""``avemo benchmark speed``: how long ``predict`` takes on a 4-second clip with the shipped model already loaded,
on one CPU thread, with the time of each stage (decoding aside). Writes ``reports/speed/summary.json``."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from avemo.errors import ParameterError

#: Frames of the face-speed benchmark that warm the pipeline up, not timed.
WARM_UP_FRAMES = 5


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)), 1)


def run_speed_benchmark(out_dir: str | os.PathLike = "reports/speed", data_dir: str | os.PathLike | None = None,
                        model: str | None = None, seconds: float = 4.0, repeats: int = 20,
                        backends: tuple[str, ...] | None = None, accuracy: bool = True) -> dict[str, Any]:
    """Median milliseconds of ``InferenceEngine.predict_signal`` (the speech model alone) on a ``seconds``-long clip
    with each speech-encoder backend (a RAVDESS file from ``data_dir`` cut or padded to that length when given, else
    avemo's synthetic voice), one thread pinned to one CPU core, and each stage's time. When ``data_dir`` holds the
    corpora (a ``ravdess/`` folder among others) and ``runs/cross-corpus`` the cross-corpus benchmark's fits,
    ``accuracy`` adds what each backend costs in UA (:func:`backend_accuracy`).

    Raises:
        ParameterError: when ``repeats`` is below 1.
    """
    if repeats < 1:
        raise ParameterError(f"--repeats must be at least 1, got {repeats}")
    import torch

    from avemo.features.audio.whisper_onnx import BACKENDS, default_backend

    torch.set_num_threads(1)
    from avemo.inference import InferenceEngine, PredictOptions
    from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio
    from avemo.io.synth import synth_voice
    from avemo.systems.base import SPEECH_KINDS, resolve_system_dir

    backends = tuple(backends or BACKENDS)
    sr = TARGET_SAMPLING_RATE
    source = "synthetic voice"
    signal = synth_voice(seconds)
    if data_dir:
        files = sorted(Path(data_dir).rglob("03-01-05-02-01-01-*.*"))
        if files:
            audio = load_audio(files[0])
            signal = np.pad(audio, (0, max(0, int(seconds * sr) - len(audio))))[: int(seconds * sr)]
            source = str(files[0].name)
    timings: dict[str, Any] = {}
    with one_core() as core:
        for backend in backends:
            rec = InferenceEngine(model, modalities=("speech",), options=PredictOptions(window=max(seconds, 4.0)),
                                  speech_backend=backend)
            stages = {key: _median_ms(lambda e=e: e.process_signal(signal, sr), repeats)
                      for key, e in rec.speech.extractors.items()}
            features = {key: [e.process_signal(signal, sr)] for key, e in rec.speech.extractors.items()}
            stages["model"] = _median_ms(lambda r=rec, f=features: r.speech.system.predict_proba(f), repeats)
            total = _median_ms(lambda r=rec: r.predict_signal(signal, sr), repeats)
            timings[backend] = {"predict_ms_median": total, "stage_ms_median": stages,
                                "x_real_time": round(1000 * seconds / total, 1)}
            whisper = [e for e in rec.speech.extractors.values() if hasattr(e.config, "backend")]
            if whisper:
                timings[backend]["encoder_batching"] = encoder_batching(whisper[0].config.model, backend, seconds,
                                                                        max(1, repeats // 4))
    default = default_backend()
    report = {"benchmark": "speed", "clip_seconds": seconds, "clip": source, "threads": 1, "cpu_cores": 1,
              "core": core, "model": resolve_system_dir(model, kind=SPEECH_KINDS).name, "default_backend": default,
              "predict_ms_median": timings.get(default, next(iter(timings.values())))["predict_ms_median"],
              "backends": timings, "repeats": repeats,
              "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                          "python": platform.python_version()}}
    report["stage_ms_median"] = timings.get(default, next(iter(timings.values())))["stage_ms_median"]
    root = Path(data_dir) if data_dir else None
    if accuracy and root is not None and (root / "ravdess").is_dir() and Path("runs/cross-corpus").is_dir():
        report["accuracy"] = backend_accuracy(root, backends=backends)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(report, indent=1))
    (out / "results.md").write_text(results_table(report))
    return report


#: Clips per encoder call in the batching measurement (:func:`encoder_batching`).
BATCH_CLIPS = 8


def encoder_batching(model: str, backend: str, seconds: float, repeats: int,
                     clips: int = BATCH_CLIPS) -> dict[str, float]:
    """Milliseconds per clip of the Whisper ``model`` encoder on ``backend`` (log-mel input of a ``seconds``-long
    clip) when ``clips`` clips of that length go one per call and all in one call (the case most favourable to
    batching: equal lengths, so no padding), median of ``repeats`` runs on the current threads."""
    import torch

    from avemo.features.audio.whisper_layers import SAMPLES_PER_FRAME, TARGET_SAMPLING_RATE, backend_encoder

    encoder = backend_encoder(model, backend)
    frames = 2 * int(seconds * TARGET_SAMPLING_RATE // SAMPLES_PER_FRAME)
    mel = torch.randn(clips, 80, frames, generator=torch.Generator().manual_seed(0))
    one = _median_ms(lambda: [encoder(mel[i:i + 1]) for i in range(clips)], repeats) / clips
    together = _median_ms(lambda: encoder(mel), repeats) / clips
    return {"clips": clips, "one_per_call_ms": round(one, 1), "batched_ms": round(together, 1)}


def results_table(report: dict[str, Any]) -> str:
    """Markdown: each backend's time per clip and, when measured, its UA against the PyTorch reference."""
    lines = [f"`avemo predict` on a {report['clip_seconds']:.0f}-second clip ({report['clip']}), model "
             f"`{report['model']}` loaded, one thread pinned to one core "
             f"({report['machine']['processor']}, {report['machine']['cpu_count']} cores); default backend "
             f"`{report['default_backend']}`.", "",
             "| speech encoder | ms per clip (median) | x real time | Whisper stage ms |", "|---|---|---|---|"]
    for backend, t in report["backends"].items():
        stage = next(iter(t["stage_ms_median"].values()))
        lines.append(f"| {backend} | {t['predict_ms_median']} | {t['x_real_time']} | {stage} |")
    batching = {b: t["encoder_batching"] for b, t in report["backends"].items() if "encoder_batching" in t}
    if batching:
        clips = next(iter(batching.values()))["clips"]
        lines += ["", f"Several clips in one encoder call: the encoder alone, {clips} clips of "
                  f"{report['clip_seconds']:.0f} s (equal lengths, so no padding: batching's best case), one per call "
                  "or all in one call; ms per clip, one thread:", "",
                  "| speech encoder | one clip per call | all in one call |", "|---|---|---|"]
        lines += [f"| {b} | {e['one_per_call_ms']} | {e['batched_ms']} |" for b, e in batching.items()]
    acc = report.get("accuracy")
    if acc:
        lines += ["", f"Accuracy of each backend: the cross-corpus benchmark's fitted `{acc['system']}` (each fold's "
                  "system as saved) scoring its test clips with that backend's features (UA %, mean over the folds; "
                  "largest drop of any fold and figure against torch).", "",
                  "| backend | leave-one-corpus-out single | adapted | RAVDESS 6-fold single | adapted | "
                  "largest drop |",
                  "|---|---|---|---|---|---|"]
        for backend, e in acc["backends"].items():
            m = e["mean"]
            lines.append(f"| {backend} | {100 * m['loco']['single']:.1f} | {100 * m['loco']['adapted']:.1f} | "
                         f"{100 * m['ravdess_6fold']['single']:.1f} | {100 * m['ravdess_6fold']['adapted']:.1f} | "
                         f"{100 * e.get('max_ua_drop', 0.0):.1f} |")
        chosen = rule_backend(report)
        if chosen:
            lines += ["", "The default backend's rule (stated before measuring): the fastest backend whose UA is "
                      f"within {100 * MAX_MEAN_DROP:.1f} points of torch on every mean figure above. Largest mean "
                      "drop: "
                      + ", ".join(f"{b} {100 * max_mean_drop(e):.2f}" for b, e in acc["backends"].items())
                      + f". It chooses **{chosen}**"
                      + (" (the default)." if chosen == report["default_backend"] else
                         f"; the default is `{report['default_backend']}`.")]
    return "\n".join(lines) + "\n"


#: The default backend's rule: the fastest backend whose mean UA figures are all within this much of torch's.
MAX_MEAN_DROP = 0.005


def max_mean_drop(entry: dict[str, Any]) -> float:
    """The largest drop against torch of a backend's mean UA figures (:func:`backend_accuracy`'s entry)."""
    return max((v for m in entry.get("mean_drop", {}).values() for v in m.values()), default=0.0)


def rule_backend(report: dict[str, Any]) -> str | None:
    """The backend the default's rule chooses from a speed report with accuracy: the fastest (median ms per clip)
    whose every mean UA figure is within :data:`MAX_MEAN_DROP` of torch's; ``None`` without accuracy figures."""
    acc = (report.get("accuracy") or {}).get("backends", {})
    timed = [b for b, e in acc.items() if "mean_drop" in e and max_mean_drop(e) <= MAX_MEAN_DROP + 1e-12
             and b in report.get("backends", {})]
    return min(timed, key=lambda b: report["backends"][b]["predict_ms_median"]) if timed else None


@contextlib.contextmanager
def one_core():
    """Restrict this process (and the threads it starts meanwhile, e.g. MediaPipe's) to one CPU core, yielding
    its number (None where affinity cannot be set); the previous affinity is restored afterwards."""
    try:
        before = os.sched_getaffinity(0)
        core = min(before)
        os.sched_setaffinity(0, {core})
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)


def _frames_640x480(data_dir: str | os.PathLike | None, n: int) -> tuple[list[np.ndarray], str]:
    """``n`` 640x480 RGB frames: a real talking-face clip (``cremad_sample/*.mp4`` under ``data_dir``) scaled to
    640x480 when present, else a RAVDESS still on a plain background, else a synthetic frame."""
    import cv2

    from avemo.io.image import load_image
    from avemo.io.video import iter_video_frames

    if data_dir:
        clips = sorted(Path(data_dir).rglob("*.mp4"))
        if clips:
            frames = [cv2.resize(f.image, (640, 480)) for f in iter_video_frames(clips[0], max_side=None)]
            if frames:
                return [frames[i % len(frames)] for i in range(n)], clips[0].name
        stills = sorted(Path(data_dir).rglob("Actor_*.png"))
        if stills:
            face = load_image(stills[0])
            canvas = np.full((480, 640, 3), 90, np.uint8)
            h, w = face.shape[:2]
            canvas[(480 - h) // 2:(480 - h) // 2 + h, (640 - w) // 2:(640 - w) // 2 + w] = face
            return [canvas] * n, stills[0].name
    return [np.full((480, 640, 3), 90, np.uint8)] * n, "synthetic (no face)"


def run_face_speed_benchmark(out_dir: str | os.PathLike = "reports/face-speed",
                             data_dir: str | os.PathLike | None = None, model: str | None = None,
                             frames: int = 120, compare: Sequence[str] = (), rounds: int = 5) -> dict[str, Any]:
    """Frames per second of the whole face pipeline (MediaPipe detection + landmarks, alignment, the shipped
    face model with the test-time augmentation used for video frames) on ``frames`` 640x480 video frames (the
    first :data:`WARM_UP_FRAMES` not counted), on one CPU core (the process pins itself to one core, so MediaPipe's
    threads share it too). With ``compare`` (other face models), ``model`` and each of them are timed in turn,
    ``rounds`` times over, on the same frames, and ``comparison`` gives each one's median ms per frame of every
    round (same-machine figures: the machine's load moves all of them alike); the headline figures are then
    ``model``'s first round. Writes ``summary.json``.

    Raises:
        ParameterError: when ``frames`` leaves no frame to time after the warm-up, or ``rounds`` < 1.
    """
    import cv2
    import torch

    from avemo.inference import InferenceEngine
    from avemo.systems.base import resolve_system_dir

    if frames <= WARM_UP_FRAMES:
        raise ParameterError(f"--frames must be more than the {WARM_UP_FRAMES} warm-up frames, got {frames}")
    if compare and rounds < 1:
        raise ParameterError(f"--repeats (rounds of the comparison) must be at least 1, got {rounds}")
    images, source = _frames_640x480(data_dir, frames)
    names = [model, *compare]
    classifiers = [InferenceEngine(face_model=name, modalities=("face",)).face for name in names]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    runs: list[list[dict[str, float]]] = [[] for _ in names]
    with one_core() as core:
        for round_ in range(rounds if compare else 1):
            for i, classifier in enumerate(classifiers):
                timed, faces = _time_face_pipeline(classifier, images)
                if round_ == 0 and i == 0:  # the headline: the shipped model's first pass
                    stages, n_faces = timed, faces
                runs[i].append({k: float(np.median(v)) for k, v in timed.items()})
    torch.set_num_threads(threads)
    ms = {k: round(float(np.median(v)), 2) for k, v in stages.items()}
    classifier = classifiers[0]
    report = {"benchmark": "face-speed", "frame_size": [640, 480], "frames": len(stages["total"]), "clip": source,
              "faces_per_frame": round(n_faces / max(len(stages["total"]), 1), 2), "cpu_cores": 1, "core": core,
              "model": resolve_system_dir(model, kind="face").name, "tta": classifier.video_tta,
              "engine": classifier.system.engine,
              "ms_per_frame_median": ms["total"], "fps": round(1000 / ms["total"], 1) if ms["total"] else None,
              "stage_ms_median": {k: v for k, v in ms.items() if k != "total"},
              "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                          "python": platform.python_version()}}
    if compare:
        report["comparison"] = {
            "rounds": rounds,
            "models": {resolve_system_dir(name, kind="face").name: {
                "network": c.system.spec.name,
                "ms_per_frame_rounds": [round(r["total"], 2) for r in rs],
                "ms_per_frame_median": round(float(np.median([r["total"] for r in rs])), 2),
                "classify_ms_median": round(float(np.median([r["classify"] for r in rs])), 2)}
                for name, c, rs in zip(names, classifiers, runs)}}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(report, indent=1))
    return report


def _time_face_pipeline(classifier, images: list[np.ndarray]) -> tuple[dict[str, list[float]], int]:
    """Milliseconds per stage of each frame (the first :data:`WARM_UP_FRAMES` not counted) with the engine's face
    ``classifier`` (:class:`~avemo.inference.face.FaceClassifier`), and the faces found."""
    from avemo.features.face.align import align_face
    from avemo.features.face.detection import create_face_detector

    stages: dict[str, list[float]] = {"detect_landmarks": [], "align": [], "classify": [], "total": []}
    n_faces = 0
    with create_face_detector("mediapipe", max_faces=1, running_mode="video") as detector:
        for i, rgb in enumerate(images):
            t0 = time.perf_counter()
            faces = detector.process_frame(rgb, i / 30.0).faces
            t1 = time.perf_counter()
            crops = [align_face(rgb, f, size=classifier.system.spec.side) for f in faces]
            t2 = time.perf_counter()
            if crops:
                classifier.system.predict_proba(np.stack(crops), tta=classifier.video_tta)
            t3 = time.perf_counter()
            if i >= WARM_UP_FRAMES:
                n_faces += len(faces)
                for key, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                    stages[key].append(1000 * value)
    return stages, n_faces


def backend_accuracy(data_root: str | os.PathLike, runs_dir: str | os.PathLike = "runs/cross-corpus",
                     system: str | None = None, backends: tuple[str, ...] = ("torch", "onnx-int8"),
                     jobs: int = 2) -> dict[str, Any]:
    """The accuracy cost of each speech-encoder backend: the cross-corpus benchmark's fitted ``system`` (``None``:
    the shipped recipe's, ``recipe_name`` of :func:`avemo.shipping.probe_train.recipe`; its folds saved under
    ``runs_dir/system``: ``loco-<corpus>`` and the RAVDESS ``fold<k>``) scores its test clips
    with the features of each backend (extracted once per backend into the cache), single file and
    speaker-adapted; UA per fold, and the mean of each protocol.

    Raises:
        ParameterError: when ``runs_dir`` holds no fitted fold of ``system`` (run ``avemo benchmark cross-corpus``).
    """
    from avemo.benchmark.cross_corpus import corpus_metrics
    from avemo.data.splits import make_folds
    from avemo.labels import label_set
    from avemo.shipping.corpora import CORPUS_FOLDERS, load_corpora
    from avemo.shipping.probe_train import recipe
    from avemo.systems.speech_probe import SpeechProbeSystem

    system = system or recipe()["recipe_name"]
    folder = Path(runs_dir) / system
    folds = sorted(p for p in folder.glob("*") if (p / "fit_key.json").is_file()) if folder.is_dir() else []
    if not folds:
        raise ParameterError(f"{folder}: no fitted folds of {system}; run `avemo benchmark cross-corpus` first")
    classes = label_set("ravdess8")
    corpora = [c for c in CORPUS_FOLDERS if any(p.name in (f"loco-{c}",) for p in folds)] or ["ravdess"]
    if "ravdess" not in corpora:
        corpora.append("ravdess")
    out: dict[str, Any] = {"system": system, "runs_dir": str(runs_dir), "backends": {}}
    for backend in backends:
        start = time.perf_counter()
        recordings, y, inputs, _ = load_corpora(data_root, corpora, backend=backend, jobs=jobs)
        ravdess = np.flatnonzero(inputs.corpus == "ravdess")
        ravdess_folds = make_folds("ravdess-6fold", [recordings[i] for i in ravdess])
        rows: dict[str, dict[str, float]] = {}
        for path in folds:
            if path.name.startswith("loco-"):
                corpus = path.name[len("loco-"):]
                test = np.flatnonzero(inputs.corpus == corpus)
            else:
                corpus = "ravdess"
                test = ravdess[list(ravdess_folds[int(path.name.removeprefix("fold")) - 1].test)]
            fitted = SpeechProbeSystem.load(path)
            part = inputs.take(test)
            rows[path.name] = {
                "single": corpus_metrics(y[test], fitted.predict_proba(part), corpus, classes)["ua"],
                "adapted": corpus_metrics(y[test], fitted.predict_proba(part, adapt=True), corpus, classes)["ua"]}
        means = {}
        for protocol, prefix in (("loco", "loco-"), ("ravdess_6fold", "fold")):
            names = [n for n in rows if n.startswith(prefix)]
            if names:
                means[protocol] = {k: float(np.mean([rows[n][k] for n in names])) for k in ("single", "adapted")}
        out["backends"][backend] = {"folds": rows, "mean": means, "seconds": round(time.perf_counter() - start, 1)}
    reference = out["backends"].get("torch")
    if reference:
        for entry in out["backends"].values():
            entry["max_ua_drop"] = max(reference["folds"][n][k] - entry["folds"][n][k]
                                       for n in entry["folds"] for k in ("single", "adapted"))
            entry["mean_drop"] = {p: {k: reference["mean"][p][k] - v for k, v in m.items()}
                                  for p, m in entry["mean"].items()}
    return out
