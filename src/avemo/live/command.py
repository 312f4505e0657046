"""``avemo live``: open the sources, load the models they need, run the loop, print one JSON line per result
(``--headless``) or show the window, and end with a summary line on stderr."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import TextIO

from avemo.errors import ParameterError
from avemo.inference.engine import InferenceEngine, PredictOptions
from avemo.inference.results import FrameResult
from avemo.inference.session import WindowResult, stream_message
from avemo.inference.speech import MIN_DURATION
from avemo.live.loop import LIVE_STREAM, LiveSummary, run_live
from avemo.live.sources import open_sources


class JsonLines:
    """Writes each result as one JSON line, the message a WebSocket client gets (:func:`stream_message`) plus the
    stage times ``latency_ms``, and flushes (so a pipe sees it at once); stops when the reader goes."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, result: FrameResult | WindowResult, latency_ms: dict[str, float], image) -> bool:
        line = {**stream_message(result), "latency_ms": {k: round(float(v), 1) for k, v in latency_ms.items()}}
        try:
            self.out.write(json.dumps(line) + "\n")
            self.out.flush()
        except BrokenPipeError:
            return False
        return True


def live_command(camera: int = 0, microphone: str | None = None, video: str | None = None, audio: str | None = None,
                 no_camera: bool = False, no_microphone: bool = False, headless: bool = False, no_pace: bool = False,
                 fps: float | None = None, window: float = 2.0, step: float = 1.0, smoothing: float = 0.5,
                 duration: float | None = None, model: str | None = None, face_model: str | None = None,
                 out: TextIO | None = None, err: TextIO | None = None) -> LiveSummary:
    """Run ``avemo live`` with the command line's settings (see ``avemo live --help``); returns the summary.

    Raises:
        ParameterError: for bad settings (checked before anything is opened or loaded).
        MediaDecodeError: for a missing or unreadable file.
        AvemoError: for a camera or microphone that cannot be opened, or no display without ``--headless``.
    """
    from avemo.live.overlay import LiveWindow

    out, err = out or sys.stdout, err or sys.stderr
    if not window >= MIN_DURATION:
        raise ParameterError(f"--window must be at least {MIN_DURATION} s (the speech model's minimum), got {window}")
    if not 0 < step <= window:
        raise ParameterError(f"--step must be > 0 and at most --window ({window} s), got {step}")
    options = PredictOptions(window=window, step=step)
    stream_options = dataclasses.replace(LIVE_STREAM, smoothing=smoothing)
    if duration is not None and not duration > 0:
        raise ParameterError(f"--duration must be > 0 seconds, got {duration}")
    if no_pace and not (video or audio):
        raise ParameterError("--no-pace is for file sources (--video / --audio); a camera or microphone runs at "
                             "real time")
    display = None if headless else LiveWindow()
    sources = open_sources(camera, microphone, video, audio, no_camera, no_microphone, fps)
    try:
        if no_pace and sources.live:
            raise ParameterError("--no-pace is for file sources only; add --no-camera / --no-microphone or give "
                                 "--video and --audio")
        for note in sources.notes:
            print(f"avemo live: {note}", file=err, flush=True)
        modalities = tuple(m for m, s in (("speech", sources.audio), ("face", sources.frames)) if s is not None)
        with InferenceEngine(model, face_model, modalities, options=options) as engine:
            summary = run_live(engine, sources.frames, sources.audio, options, stream_options,
                               JsonLines(out) if display is None else display, pace=not no_pace, duration=duration,
                               clock=sources.clock, warn=lambda line: print(f"avemo live: {line}", file=err,
                                                                             flush=True))
    finally:
        sources.close()
        if display is not None:
            display.close()
    print(summary.line(), file=err, flush=True)
    return summary
