"""Writers of small media fixtures shared by the tests (PyAV): an AAC audio track for any container."""

from __future__ import annotations

import numpy as np


def add_aac_stream(out, sr: int = 16000):
    """Add a mono AAC stream at ``sr`` Hz to an open PyAV output container (before any packet is muxed)."""
    stream = out.add_stream("aac", rate=sr)
    stream.layout = "mono"
    return stream


def encode_audio(out, stream, samples: np.ndarray, sr: int = 16000) -> None:
    """Encode mono float ``samples`` into ``stream`` and mux them, flushing the encoder at the end."""
    import av

    samples = np.asarray(samples, dtype=np.float32)[None, :]
    for i in range(0, samples.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, i:i + 1024]), format="fltp",
                                           layout="mono")
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
