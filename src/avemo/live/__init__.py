"""``avemo live``: real-time emotion from a camera and a microphone, or from files played as if live.

Sources (:mod:`avemo.live.sources`) give frames and audio chunks on one stream clock; the scheduler
(:mod:`avemo.live.schedule`) orders them (at real time, or as fast as files decode); the loop
(:mod:`avemo.live.loop`) feeds them into a :class:`~avemo.inference.session.StreamSession` of the shared
:class:`~avemo.inference.engine.InferenceEngine` (speech windows gated by voice activity, faces and voice smoothed
over time: :data:`LIVE_STREAM`) and hands each frame's faces and each window's result to a JSON-lines writer or the
OpenCV window (:mod:`avemo.live.overlay`).

>>> from avemo.inference import InferenceEngine
>>> from avemo.inference.session import stream_message
>>> from avemo.live import AudioFileSource, VideoFileSource, run_live
>>> engine = InferenceEngine()
>>> run_live(engine, VideoFileSource("clip.mp4"), AudioFileSource("clip.mp4"), pace=False,
...          on_update=lambda result, latency_ms, image: print(stream_message(result)))
"""

from avemo.live.loop import LIVE_OPTIONS, LIVE_STREAM, LiveSummary, run_live
from avemo.live.sources import (AudioChunk, AudioFileSource, CameraSource, Frame, MicrophoneSource, StreamClock,
                                VideoFileSource, open_sources)

__all__ = ["LIVE_OPTIONS", "LIVE_STREAM", "AudioChunk", "AudioFileSource", "CameraSource", "Frame", "LiveSummary",
           "MicrophoneSource", "StreamClock", "VideoFileSource", "open_sources", "run_live"]
