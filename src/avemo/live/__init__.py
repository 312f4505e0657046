"""``avemo live``: real-time emotion from a camera and a microphone, or from files played as if live.

Sources (:mod:`avemo.live.sources`) give frames and audio chunks on one stream clock; the scheduler
(:mod:`avemo.live.schedule`) orders them (at real time, or as fast as files decode); the analyser
(:mod:`avemo.live.analyser`) runs faces per frame and speech on sliding windows gated by voice activity, smooths
both over time and fuses them through the shared :class:`~avemo.inference.engine.InferenceEngine`; the loop
(:mod:`avemo.live.loop`) hands each :class:`LiveUpdate` to a JSON-lines writer or the OpenCV window
(:mod:`avemo.live.overlay`).

>>> from avemo.inference import InferenceEngine
>>> from avemo.live import AudioFileSource, VideoFileSource, run_live
>>> engine = InferenceEngine()
>>> run_live(engine, VideoFileSource("clip.mp4"), AudioFileSource("clip.mp4"), pace=False,
...          on_update=lambda update, image: print(update.to_dict()))
"""

from avemo.live.analyser import (SILENCE, Estimate, FaceEstimate, LiveAnalyser, LiveConfig, LiveUpdate,
                                 SpeechEstimate, SpeechWindow)
from avemo.live.loop import LiveSummary, run_live
from avemo.live.smoothing import ExponentialSmoother
from avemo.live.sources import (AudioChunk, AudioFileSource, CameraSource, Frame, MicrophoneSource, StreamClock,
                                VideoFileSource, open_sources)

__all__ = ["SILENCE", "AudioChunk", "AudioFileSource", "CameraSource", "Estimate", "ExponentialSmoother",
           "FaceEstimate", "Frame", "LiveAnalyser", "LiveConfig", "LiveSummary", "LiveUpdate", "MicrophoneSource",
           "SpeechEstimate", "SpeechWindow", "StreamClock", "VideoFileSource", "open_sources", "run_live"]
