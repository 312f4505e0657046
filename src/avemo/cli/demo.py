"""``avemo demo``: the Gradio web demo on the shipped models."""

from __future__ import annotations

from avemo.cli.arguments import add_model_arguments


def register(subparsers) -> None:
    """Add ``demo`` to the ``avemo`` command's subparsers."""
    s = subparsers.add_parser("demo", help="the web demo (Gradio) on the shipped models",
                              description="Start the web demo: upload or record audio, a photo or a video (or stream "
                              "the webcam) and see the fused emotion, each modality's probabilities, the timeline, "
                              "valence / arousal on the circumplex and the explanations.")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    add_model_arguments(s)
    s.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    """``avemo demo``: the Gradio web demo (avemo.demo.web)."""
    from avemo.demo.web import run_demo_command

    return run_demo_command(args)
