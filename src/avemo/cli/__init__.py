"""The ``avemo`` command: prepare | extract | train | evaluate | benchmark | predict | serve | export | live | demo |
explain.

Each command module adds its own subparser (``register(subparsers)``, which sets ``func``). Every user-caused error
is printed as one line (``avemo: error: …``) with exit status 2; a batch ``predict`` goes on past bad files, reports
them, and exits with status 1 if any failed. Third-party native log lines stay off stderr unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import os
import sys

from avemo import __version__
from avemo.cli import benchmark, demo, explain, live, predict, prepare, serve, train
from avemo.cli.output import one_line
from avemo.errors import AvemoError

#: The command modules, in the order ``avemo --help`` lists their commands.
COMMAND_MODULES = (prepare, train, benchmark, predict, serve, live, demo, explain)
VERBOSE_HELP = "show the native log lines of MediaPipe and TensorFlow Lite on stderr (hidden by default)"


def build_parser() -> argparse.ArgumentParser:
    """The ``avemo`` argument parser with every command's subparser; ``--verbose`` goes before or after the
    command."""
    parser = argparse.ArgumentParser(
        prog="avemo", description="Emotion recognition from speech, faces and both: prepare corpora, extract "
        "features, train, evaluate speaker-independently, benchmark, and predict on your own audio, photos and videos.",
        epilog="Start with: avemo predict my_clip.wav | photo.jpg | clip.mp4   (uses the shipped models; no download "
        "needed)")
    parser.add_argument("--version", action="version", version=f"avemo {__version__}")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    for command in subparsers.choices.values():  # after the command too; absent there, the global one holds
        command.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``avemo`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.verbose:
        from avemo.io.native_logs import show_native_logs

        show_native_logs()
    if getattr(args, "speech_backend", None):  # every engine of this run, batch workers included, uses it
        from avemo.features.audio.whisper_onnx import BACKEND_ENV

        os.environ[BACKEND_ENV] = args.speech_backend
    try:
        return args.func(args)
    except AvemoError as exc:
        print(f"avemo: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("avemo: interrupted", file=sys.stderr)
        return 130
