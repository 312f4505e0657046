"""Writers of small media fixtures shared by the tests (PyAV): an AAC audio track for any container; a counter of
the files PyAV opens."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

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


def write_av(path: Path, frames: list[np.ndarray], fps: int = 10, audio: np.ndarray | None = None,
             sr: int = 16000) -> Path:
    """An mp4 of ``frames`` (RGB, mpeg4) and, when given, an AAC track of ``audio`` (float samples at ``sr`` Hz)."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        as_ = add_aac_stream(out, sr) if audio is not None else None
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[: h - h % 2, : w - w % 2]), format="rgb24")
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if as_ is not None:
            encode_audio(out, as_, audio, sr)
    return path


def count_av_opens(monkeypatch) -> Counter[str]:
    """How many times PyAV opens each path from now on (``av.open`` wrapped through ``monkeypatch``)."""
    import av

    opened: Counter[str] = Counter()
    real = av.open

    def counting(file, *args, **kwargs):
        opened[str(file)] += 1
        return real(file, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting)
    return opened
