"""``avemo benchmark live``'s pieces: clips played back to back as one stream, and its input check."""

from __future__ import annotations

import numpy as np
import pytest
from live_media import FIXTURES

from avemo.benchmark.live import ClipSequence, _run
from avemo.errors import ParameterError
from avemo.inference.engine import PredictOptions

TALKING_FACE = FIXTURES / "talking_face.mp4"


def test_clips_back_to_back_form_one_aligned_stream(live_engine):
    sequence = ClipSequence([TALKING_FACE], loops=2)
    one = sequence.signals[0]
    assert sequence.duration == pytest.approx(2 * len(one) / 16000)
    times = [f.time for f in sequence.frames()]
    assert np.all(np.diff(times) > 0) and times[-1] < sequence.duration
    assert sum(t >= sequence.offsets[1] for t in times) == len(times) // 2  # the second loop starts after the first
    chunks = list(sequence.audio())
    assert chunks[-1].end == pytest.approx(sequence.duration)
    run = _run(live_engine, PredictOptions(window=1.0, step=0.5), None, sequence.audio(), pace=False)
    assert run["frames"] == 0 and run["speech_windows"] == 7  # windows ending at 1, 1.5, ... 4 s, and the rest
    assert run["label_latency_ms"]["n"] == 7 and run["label_period_s"]["n"] == 6
    assert run["stage_ms"]["speech"]["median"] > 0 and run["realtime_factor"] > 1


def test_benchmark_needs_clips(tmp_path):
    from avemo.benchmark.live import run_live_benchmark

    with pytest.raises(ParameterError, match="mp4 clips"):
        run_live_benchmark(tmp_path / "out", tmp_path)
