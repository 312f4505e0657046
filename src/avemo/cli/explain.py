"""``avemo explain FILE --out DIR``: why a prediction came out as it did, in pictures and numbers."""

from __future__ import annotations

from pathlib import Path

from avemo.cli.arguments import add_model_arguments
from avemo.errors import AvemoError


def register(subparsers) -> None:
    """Add ``explain`` to the ``avemo`` command's subparsers."""
    s = subparsers.add_parser("explain", help="explain a prediction: pictures (PNG) and the numbers (JSON)",
                              description="Predict FILE and write why: each modality's contribution to the fused "
                              "result, the time spans of the speech that mattered, a saliency map over each face "
                              "crop, and feature-group attributions for the linear and action-unit systems; "
                              "DIR/explanation.json and PNGs.")
    s.add_argument("file", help="an audio file, an image or a video")
    s.add_argument("--out", required=True, metavar="DIR", help="folder for the pictures and explanation.json")
    add_model_arguments(s)
    s.set_defaults(func=cmd_explain)


def cmd_explain(args) -> int:
    """``avemo explain FILE --out DIR`` (avemo.explain): write the explanation, print its summary."""
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
