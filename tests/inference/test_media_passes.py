"""How often the engine opens a file: a video once through predict_file (probe, frames and audio track from one
container), with the same result as decoding frames and audio separately; the speaker batch passes its probe on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from media import count_av_opens

from avemo.inference.engine import InferenceEngine, PredictOptions
from avemo.inference.face import analyse_frames
from avemo.io.audio import load_audio
from avemo.io.media import probe_media
from avemo.io.video import iter_video_frames

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VIDEO = FIXTURES / "talking_face.mp4"  # H.264 frames + AAC audio
IMAGE = FIXTURES / "face_frame.jpg"
SR = 16000


@pytest.fixture
def av_opens(monkeypatch):
    return count_av_opens(monkeypatch)


def test_a_video_is_opened_once_and_fused_as_from_separate_reads(tiny_engine, av_opens):
    result = tiny_engine.predict_file(VIDEO)
    assert av_opens == {str(VIDEO): 1}
    assert result.modality == "audio-visual" and result.fusion.used == ["face", "speech"]
    duration = probe_media(VIDEO).duration
    av_opens.clear()
    frames = ((f.time, f.image) for f in iter_video_frames(VIDEO, fps=PredictOptions().video_fps))
    face = analyse_frames(frames, tiny_engine.video_detectors, tiny_engine.face, str(VIDEO), duration)
    speech = tiny_engine.predict_signal(load_audio(VIDEO), SR, path=str(VIDEO))
    assert result.to_dict() == tiny_engine.fuse(str(VIDEO), speech, face).to_dict()
    assert av_opens[str(VIDEO)] == 2  # the separate readers


@pytest.mark.parametrize("modality", ["speech", "face"])
def test_one_modality_of_a_video_is_one_open_too(tiny_engine, av_opens, modality):
    result = tiny_engine.predict_file(VIDEO, PredictOptions(modality=modality))
    assert result.modality == modality and result.status == "ok"
    assert av_opens == {str(VIDEO): 1}


def test_the_speaker_batch_passes_its_probe_to_the_engine(tmp_path, av_opens, monkeypatch):
    import avemo.inference.engine as engine_module
    from avemo.inference.adaptation import predict_files_by_speaker

    faces = InferenceEngine(modalities=("face",))
    (tmp_path / "anna").mkdir()
    paths = [shutil.copy(VIDEO, tmp_path / "anna" / name) for name in ("a.mp4", "b.mp4")]
    paths.append(shutil.copy(IMAGE, tmp_path / "anna" / "c.jpg"))
    given = []
    real_open_media = engine_module.open_media
    monkeypatch.setattr(engine_module, "open_media", lambda path, info=None: given.append(info) or
                        real_open_media(path, info))
    results = predict_files_by_speaker(faces, paths, "folder")
    assert [r.status for _, r in results] == ["ok"] * 3
    assert all(info is not None for info in given) and len(given) == 3  # the engine reads no header again
    assert av_opens == {str(paths[0]): 2, str(paths[1]): 2}  # the probe, then frames; the image by Pillow only
