"""The live loop on file-backed sources with real models (the tiny speech model, the shipped face model): the
headless JSON timeline, silence, frames without a face, a failing microphone, pacing."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from live_media import FIXTURES, SR, tone_and_noise, write_video

from avemo.cli import main
from avemo.live import (SILENCE, AudioChunk, AudioFileSource, Frame, LiveConfig, SpeechEstimate, VideoFileSource,
                        open_sources, run_live)
from avemo.live.sources import signal_chunks

TALKING_FACE = FIXTURES / "talking_face.mp4"
FER7 = {"angry", "disgust", "fearful", "happy", "sad", "surprised", "neutral"}


def collect(engine, frames=None, audio=None, **kwargs):
    updates, warnings = [], []
    kwargs.setdefault("config", LiveConfig(window=1.0, step=0.5))
    summary = run_live(engine, frames, audio, on_update=lambda update, image: updates.append(update),
                       warn=warnings.append, pace=kwargs.pop("pace", False), warm_up=False, **kwargs)
    return updates, summary, warnings


def test_headless_timeline_of_a_video(face_video, tiny_model_dir, capsys):
    assert main(["live", "--video", str(face_video), "--headless", "--no-pace", "--model", str(tiny_model_dir),
                 "--window", "1", "--step", "0.5"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) >= 30  # one per frame (30), one per speech window
    times = [line["t"] for line in lines]
    assert times == sorted(times) and times[-1] == pytest.approx(3.0, abs=0.15)
    for line in lines:
        assert set(line) == {"t", "speech", "faces", "fused", "latency_ms"}
        assert line["speech"] in (None, SILENCE)  # a tone is no speech
        assert "fusion" in line["latency_ms"]
        for face in line["faces"]:
            assert len(face["box"]) == 4 and set(face["probabilities"]) == FER7
            assert face["label"] == max(face["probabilities"], key=face["probabilities"].get)
            assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    frame_lines = [line for line in lines if "face" in line["latency_ms"]]
    window_lines = [line for line in lines if "vad" in line["latency_ms"]]
    assert len(frame_lines) == 30 and len(window_lines) == 5  # windows ending at 1, 1.5, ... 3 s
    assert all(not line["faces"] and line["fused"] is None for line in frame_lines[:5])  # grey frames: no face
    assert all(len(line["faces"]) == 1 and line["fused"]["label"] in FER7 for line in frame_lines[6:])
    assert all("speech" not in line["latency_ms"] and "window_end_to_label" in line["latency_ms"]
               for line in window_lines)  # silence: the speech model is not run
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("avemo live: 30 frames (0 skipped), 5 speech windows (5 silent)")


def test_real_speech_gets_a_speech_label_and_is_fused(live_engine):
    updates, summary, warnings = collect(live_engine, VideoFileSource(TALKING_FACE), AudioFileSource(TALKING_FACE))
    speech = [u.speech for u in updates if isinstance(u.speech, SpeechEstimate)]
    assert speech and speech[-1].label in live_engine.speech.classes
    assert sum(speech[-1].probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert speech[-1].voiced > 0.25
    both = [u for u in updates if isinstance(u.speech, SpeechEstimate) and u.faces]
    assert both and set(both[-1].fused.probabilities) == FER7
    assert both[-1].fused.probabilities != both[-1].faces[0].probabilities  # the voice moved the fused result
    assert summary.speech_windows >= 2 and summary.frames > 10 and not warnings


def test_silence_gives_no_speech_label_and_skips_the_speech_model(live_engine, monkeypatch):
    def speech_model_must_not_run(*args, **kwargs):
        raise AssertionError("the speech model ran on a window without speech")

    monkeypatch.setattr(live_engine, "predict_signal", speech_model_must_not_run)
    quiet = np.concatenate([tone_and_noise(1.5), np.zeros(int(1.5 * SR), np.float32)])
    updates, summary, _ = collect(live_engine, audio=list(signal_chunks(quiet, SR)))
    assert len(updates) == 5 and all(u.speech == SILENCE and u.fused is None for u in updates)
    assert summary.speech_windows == summary.silent_windows == 5


def test_a_frame_without_a_face_gives_no_faces(live_engine, face_image):
    frames = [Frame(0.0, np.full((240, 320, 3), 90, np.uint8)), Frame(0.1, face_image),
              Frame(0.2, np.zeros((240, 320, 3), np.uint8))]
    updates, summary, _ = collect(live_engine, frames)
    assert [len(u.faces) for u in updates] == [0, 1, 0]
    assert updates[0].fused is None and updates[1].fused.label in FER7
    assert summary.frames == 3


class FailingMicrophone:
    """Three chunks of audio, then the device fails."""

    kind = "microphone"

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self):
        for k in range(3):
            yield AudioChunk(k * 0.05, np.zeros(800, np.float32))
        raise OSError("Input overflowed: device unplugged")

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("pace", [False, True])
def test_a_microphone_that_fails_mid_stream_leaves_the_faces_going(live_engine, face_image, pace):
    frames = [Frame(0.02 * k, face_image) for k in range(10)]
    microphone = FailingMicrophone()
    updates, summary, warnings = collect(live_engine, frames, microphone, pace=pace)
    assert warnings == ["the microphone stopped (Input overflowed: device unplugged); going on with faces only"]
    assert summary.frames + summary.dropped_frames == 10 and summary.frames >= 1
    assert updates[-1].faces and updates[-1].time == pytest.approx(0.18)
    assert microphone.closed and summary.stopped == "end of input"


def test_no_pace_is_fast_and_pace_keeps_real_time(live_engine):
    config = LiveConfig(window=2.0, step=2.0)
    start = time.perf_counter()
    _, summary, _ = collect(live_engine, audio=list(signal_chunks(tone_and_noise(20.0), SR)), config=config)
    assert summary.speech_windows == 10 and time.perf_counter() - start < 10.0  # 20 s of stream
    _, paced, _ = collect(live_engine, audio=list(signal_chunks(tone_and_noise(1.0), SR)), config=config, pace=True)
    assert paced.wall_seconds >= 0.95 and paced.stream_seconds == pytest.approx(1.0)


def test_duration_stops_the_stream(live_engine, face_image):
    frames = [Frame(0.1 * k, face_image) for k in range(20)]
    _, summary, _ = collect(live_engine, frames, duration=0.45)
    assert summary.frames == 5 and summary.stopped == "duration"


def test_a_video_without_audio_runs_on_faces_only(tmp_path, face_image):
    video = write_video(tmp_path / "silent.mp4", [face_image] * 5)
    sources = open_sources(video=str(video), no_microphone=False)
    try:
        assert sources.audio is None and isinstance(sources.frames, VideoFileSource)
        assert "no audio track" in sources.notes[0]
    finally:
        sources.close()
    with_audio = open_sources(video=str(TALKING_FACE))
    assert isinstance(with_audio.audio, AudioFileSource) and not with_audio.live


def test_the_loop_runs_blas_on_one_thread_and_gives_the_limit_back(live_engine, blas_threads):
    from threadpoolctl import threadpool_limits

    before = blas_threads()
    during = []
    run_live(live_engine, audio=list(signal_chunks(tone_and_noise(2.0), SR)), config=LiveConfig(window=1.0, step=1.0),
             on_update=lambda update, image: during.append(blas_threads()), pace=False, warm_up=False)
    assert during and all(d == {1} for d in during)
    assert blas_threads() == before
    # and it let go of OpenBLAS's limit (threadpoolctl lets one thread at a time hold it): another thread can set it
    seen = []

    def limit_in_another_thread() -> None:
        with threadpool_limits(limits=1, user_api="blas"):
            seen.append(blas_threads())

    thread = threading.Thread(target=limit_in_another_thread)
    thread.start()
    thread.join()
    assert seen == [{1}]
