"""``avemo live``: real-time emotion from a camera and a microphone, or from video / audio files."""

from __future__ import annotations

from avemo.cli.arguments import add_model_arguments


def register(subparsers) -> None:
    """Add ``live`` to the ``avemo`` command's subparsers."""
    s = subparsers.add_parser(
        "live", help="real-time emotion from a camera and a microphone (or a video / audio file)",
        description="Read a camera and a microphone, run faces per frame and speech on sliding windows gated by "
        "voice activity, smooth, fuse, and show it in a window, or print one JSON line per update with --headless. "
        "--video / --audio stand in for the camera / microphone.")
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
    add_model_arguments(s)
    s.set_defaults(func=cmd_live)


def cmd_live(args) -> int:
    """``avemo live``: the real-time loop (avemo.live)."""
    from avemo.live.command import live_command

    live_command(args.camera, args.microphone, args.video, args.audio, args.no_camera, args.no_microphone,
                 args.headless, args.no_pace, args.fps, args.window, args.step, args.smoothing, args.duration,
                 args.model, args.face_model)
    return 0
