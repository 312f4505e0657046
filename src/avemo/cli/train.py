"""``avemo train`` (a speech, face or audio-visual system from a corpus) and ``avemo evaluate`` (score one)."""

from __future__ import annotations

from pathlib import Path

from avemo.cli.arguments import DATA_HELP
from avemo.errors import ParameterError


def register(subparsers) -> None:
    """Add ``train`` and ``evaluate`` to the ``avemo`` command's subparsers."""
    s = subparsers.add_parser(
        "train", help="train a speech or face system on a corpus and save it",
        description="Train a speech system (configs/speech/<name>.yaml) on all speakers of a corpus (ensemble "
        "members hold out different validation speakers for early stopping), or a face system "
        "(configs/face/<name>.yaml) on FER2013 (train on Training, select on PublicTest) or an "
        "<root>/<emotion>/<image> folder. Interrupted training resumes from its last epoch when run again with the "
        "same --out.")
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
    s.set_defaults(func=cmd_train)

    s = subparsers.add_parser("evaluate", help="score a trained system on a corpus (all its recordings)",
                              description="Predict every recording of a corpus with a trained system and print "
                              "UA, WA and macro-F1. Only meaningful on speakers the system never saw.")
    s.add_argument("model", help="shipped model name or folder from `avemo train`")
    s.add_argument("--data", required=True, help=DATA_HELP)
    s.add_argument("--corpus", default="ravdess")
    s.add_argument("--speakers", nargs="*", help="evaluate only these speaker ids")
    s.add_argument("--jobs", type=int, default=2)
    s.set_defaults(func=cmd_evaluate)


def cmd_train(args) -> int:
    """``avemo train SYSTEM --data DIR --out DIR``: train, save, print where."""
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
    """Whether ``system`` is a YAML file describing a face system (its ``model`` starts with ``face_``)."""
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
    """``avemo evaluate MODEL --data DIR``: print UA, WA and macro-F1 in percent."""
    from avemo.shipping.speech_train import evaluate_system

    m = evaluate_system(args.model, args.data, corpus=args.corpus, speakers=args.speakers, jobs=args.jobs)
    print(f"UA {100 * m['ua']:.1f}%  WA {100 * m['wa']:.1f}%  macro-F1 {100 * m['macro_f1']:.1f}%  "
          f"(n={m['n_test']})")
    return 0
