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
from avemo.inference.engine import PredictOptions
from avemo.inference.results import FrameResult
from avemo.live import AudioChunk, AudioFileSource, Frame, VideoFileSource, open_sources, run_live
from avemo.live.sources import signal_chunks

TALKING_FACE = FIXTURES / "talking_face.mp4"
FER7 = {"angry", "disgust", "fearful", "happy", "sad", "surprised", "neutral"}


def collect(engine, frames=None, audio=None, **kwargs):
    """The results of a run (frames' and windows'), its summary and its warnings."""
    updates, warnings = [], []
    kwargs.setdefault("options", PredictOptions(window=1.0, step=0.5))
    summary = run_live(engine, frames, audio, on_update=lambda result, latency, image: updates.append(result),
                       warn=warnings.append, pace=kwargs.pop("pace", False), warm_up=False, **kwargs)
    return updates, summary, warnings


def split(updates):
    """The frame results and the window results of a run."""
    return ([u for u in updates if isinstance(u, FrameResult)], [u for u in updates if not isinstance(u, FrameResult)])


def test_headless_timeline_of_a_video(face_video, tiny_model_dir, capsys):
    assert main(["live", "--video", str(face_video), "--headless", "--no-pace", "--model", str(tiny_model_dir),
                 "--window", "1", "--step", "0.5"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    frame_lines = [line for line in lines if line["type"] == "frame"]
    window_lines = [line for line in lines if line["type"] == "result"]
    assert len(frame_lines) == 30 and len(window_lines) == 5  # windows ending at 1, 1.5, ... 3 s
    times = [line["time"] if line["type"] == "frame" else line["end"] for line in lines]
    assert times == sorted(times) and times[-1] == pytest.approx(3.0, abs=0.15)
    for line in frame_lines:
        assert set(line) == {"type", "time", "faces", "latency_ms"} and set(line["latency_ms"]) == {"decode", "face"}
        for face in line["faces"]:
            assert len(face["box"]) == 4 and set(face["probabilities"]) == FER7 and "label" not in face
            assert face["emotion"] == max(face["probabilities"], key=face["probabilities"].get)
            assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert all(not line["faces"] for line in frame_lines[:5])  # grey frames: no face
    assert all(len(line["faces"]) == 1 for line in frame_lines[6:])
    for line in window_lines:  # a tone is no speech: the speech model is not run, the face is the result
        assert line["modalities"]["speech"]["status"] == "silence" and line["voiced"] < 0.25
        assert line["status"] == "ok" and line["emotion"] in FER7 and line["fusion"]["used"] == ["face"]
        assert set(line["latency_ms"]) == {"vad", "fusion", "window_end_to_label"}  # no "speech": not run
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("avemo live: 30 frames (0 skipped), 5 speech windows (5 silent)")


def test_real_speech_gets_a_speech_label_and_is_fused(live_engine):
    updates, summary, warnings = collect(live_engine, VideoFileSource(TALKING_FACE), AudioFileSource(TALKING_FACE))
    frames, windows = split(updates)
    voiced = [w for w in windows if w.speech.status in ("ok", "uncertain")]
    assert voiced and voiced[-1].speech.emotion in live_engine.speech.classes
    assert sum(voiced[-1].speech.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert voiced[-1].voiced > 0.25
    both = [w for w in voiced if w.result.modality == "audio-visual" and w.result.fusion.used == ["face", "speech"]]
    assert both and set(both[-1].result.probabilities) == FER7
    face = both[-1].result.modalities["face"]
    assert both[-1].result.probabilities != face.probabilities  # the voice moved the fused result
    # the window's face is the smoothed main face of the latest frame at or before its end
    last = [f for f in frames if f.time <= both[-1].end][-1]
    assert face.probabilities == last.faces[0].probabilities
    assert summary.speech_windows >= 2 and summary.frames > 10 and not warnings


def test_silence_gives_no_speech_label_and_skips_the_speech_model(live_engine, monkeypatch):
    def speech_model_must_not_run(*args, **kwargs):
        raise AssertionError("the speech model ran on a window without speech")

    monkeypatch.setattr(live_engine, "predict_signal", speech_model_must_not_run)
    quiet = np.concatenate([tone_and_noise(1.5), np.zeros(int(1.5 * SR), np.float32)])
    updates, summary, _ = collect(live_engine, audio=list(signal_chunks(quiet, SR)))
    assert len(updates) == 5 and all(w.result.status == "silence" and not w.result.probabilities for w in updates)
    assert summary.speech_windows == summary.silent_windows == 5


def test_a_frame_without_a_face_gives_no_faces(live_engine, face_image):
    frames = [Frame(0.0, np.full((240, 320, 3), 90, np.uint8)), Frame(0.1, face_image),
              Frame(0.2, np.zeros((240, 320, 3), np.uint8))]
    updates, summary, _ = collect(live_engine, frames)
    frame_results, (last,) = split(updates)
    assert [len(f.faces) for f in frame_results] == [0, 1, 0]
    assert frame_results[1].faces[0].emotion in FER7
    assert last.result.modality == "face" and last.result.status == "no_face"  # the last frame has no face
    assert summary.frames == 3 and summary.speech_windows == 0


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
    frames, _ = split(updates)
    assert frames[-1].faces and frames[-1].time == pytest.approx(0.18)
    assert microphone.closed and summary.stopped == "end of input"


def test_no_pace_is_fast_and_pace_keeps_real_time(live_engine):
    options = PredictOptions(window=2.0, step=2.0)
    start = time.perf_counter()
    _, summary, _ = collect(live_engine, audio=list(signal_chunks(tone_and_noise(20.0), SR)), options=options)
    assert summary.speech_windows == 10 and time.perf_counter() - start < 10.0  # 20 s of stream
    _, paced, _ = collect(live_engine, audio=list(signal_chunks(tone_and_noise(1.0), SR)), options=options, pace=True)
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
    run_live(live_engine, audio=list(signal_chunks(tone_and_noise(2.0), SR)),
             options=PredictOptions(window=1.0, step=1.0),
             on_update=lambda result, latency, image: during.append(blas_threads()), pace=False, warm_up=False)
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
