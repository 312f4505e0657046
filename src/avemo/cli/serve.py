"""``avemo serve`` (the REST + WebSocket service) and ``avemo export`` (the face model as ONNX for other
engines)."""

from __future__ import annotations

from avemo.cli.arguments import add_model_arguments
from avemo.errors import ParameterError


def register(subparsers) -> None:
    """Add ``serve`` and ``export`` to the ``avemo`` command's subparsers."""
    s = subparsers.add_parser("serve", help="serve avemo over HTTP (REST + WebSocket streaming)",
                              description="Start the REST service: POST /v1/predict (multipart `file`, or `image` + "
                              "`audio`), GET /v1/health, GET /v1/models, WS /v1/stream, OpenAPI at /docs. The models "
                              "load once at start-up.")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument("--workers", type=int, default=1, help="server processes, each with its own models (default 1)")
    s.add_argument("--threads", type=int, default=None, help="prediction threads per process (default: CPU count)")
    s.add_argument("--max-upload-mb", type=float, default=50.0, help="largest upload accepted (default 50)")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds a prediction may take (default 60)")
    s.add_argument("--max-concurrent", type=int, default=16,
                   help="requests running or queued per process before 503 + Retry-After (default 16)")
    add_model_arguments(s)
    s.set_defaults(func=cmd_serve)

    s = subparsers.add_parser("export", help="export a face model to ONNX (with a JSON description beside it)",
                              description="Write the trained face network as ONNX (input `images` (batch, 1, 40, 40) "
                              "float gray in [0, 1], the centre crop of an aligned 48x48 face; output `logits`) and "
                              "OUT.json with its classes, preprocessing and temperature, for ONNX Runtime and other "
                              "engines.")
    s.add_argument("out", help="output file, ending in .onnx")
    add_model_arguments(s, speech=False)
    s.set_defaults(func=cmd_export)


def cmd_serve(args) -> int:
    """``avemo serve``: run the service until stopped."""
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
    """``avemo export OUT.onnx``: write the face network and OUT.json, print their paths."""
    from avemo.systems.base import load_system

    out = load_system(args.face_model, kind="face", engine="torch").export_onnx(args.out)
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0
