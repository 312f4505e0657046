"""Face adaptation: a person's running statistics of face log-probabilities move their faces onto the face model's
reference; one picture is never changed; the engine, `avemo predict IMAGES --speaker-key` and stream sessions use
it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from avemo.cli import main
from avemo.errors import ParameterError
from avemo.inference.engine import InferenceEngine, PredictOptions
from avemo.inference.face_adaptation import FaceAdaptation
from avemo.inference.results import FaceResult, ModalityResult, Modality
from avemo.io.video import iter_video_frames
from avemo.systems.face_reference import REFERENCE_KEY, FaceReference

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
IMAGE, VIDEO = FIXTURES / "face_frame.jpg", FIXTURES / "talking_face.mp4"
CLASSES = ("angry", "disgust", "fearful", "happy", "sad", "surprised", "neutral")


def _softmax(z):
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(0)
    return FaceReference.from_probabilities(_softmax(rng.normal(size=(500, 7))), "synthetic")


def test_adaptation_removes_a_persons_resting_expression(reference):
    rng = np.random.default_rng(1)
    sad = CLASSES.index("sad")
    true = rng.integers(0, 7, 40)
    logits = rng.normal(size=(40, 7)) + 3.0 * np.eye(7)[true]
    biased = logits.copy()
    biased[:, sad] += 3.5  # this person's resting face reads as sad
    probs = _softmax(biased)
    adaptation = FaceAdaptation(CLASSES, reference, tau=0.0)
    assert not adaptation.ready and np.allclose(adaptation.adapt(probs), probs)  # nothing learnt: unchanged
    adaptation.add(probs)
    adapted = adaptation.adapt(probs)
    assert np.allclose(adapted.sum(1), 1)
    global_acc, adapted_acc = np.mean(probs.argmax(1) == true), np.mean(adapted.argmax(1) == true)
    assert adapted_acc > global_acc + 0.2, (global_acc, adapted_acc)
    assert np.mean(adapted.argmax(1) == sad) < np.mean(probs.argmax(1) == sad)
    # the prior weight pulls a person with few pictures towards the reference: a smaller shift
    shrunk = FaceAdaptation(CLASSES, reference, tau=40.0)
    shrunk.add(probs)
    assert np.abs(shrunk.shift()).sum() < np.abs(adaptation.shift()).sum()


def test_one_picture_is_never_changed_and_bad_settings(reference):
    adaptation = FaceAdaptation(CLASSES, reference)
    p = _softmax(np.arange(7.0))
    result = ModalityResult("a.jpg", dict(zip(CLASSES, p)), 0.0, modality=Modality.FACE,
                            faces=[FaceResult((0, 0, 10, 10), dict(zip(CLASSES, p)))])
    assert adaptation.add_result(result)
    same = adaptation.adapt_result(result, "anna")
    assert same.probabilities == result.probabilities and "face global" in same.message
    adaptation.add_result(result)
    moved = adaptation.adapt_result(result, "anna")
    assert moved.probabilities != result.probabilities and "adapted to person anna (2 pictures)" in moved.message
    assert moved.faces[0].probabilities == moved.probabilities
    no_face = ModalityResult("b.jpg", {}, 0.0, "no_face", "no face found", modality=Modality.FACE)
    assert not adaptation.add_result(no_face) and adaptation.adapt_result(no_face) is no_face
    with pytest.raises(ParameterError, match="min_recordings"):
        FaceAdaptation(CLASSES, reference, min_recordings=1)
    with pytest.raises(ParameterError, match="classes"):
        FaceAdaptation(CLASSES[:3], reference)
    with pytest.raises(ParameterError, match="classes"):
        adaptation.add(np.ones((2, 3)) / 3)
    with pytest.raises(ParameterError, match="non-empty"):
        FaceReference.from_probabilities(np.zeros((0, 7)))
    info = {REFERENCE_KEY: reference.to_info(CLASSES, 500)}
    assert np.allclose(FaceReference.from_info(info, CLASSES).mean, reference.mean, atol=1e-5)
    assert FaceReference.from_info({}, CLASSES) is None
    with pytest.raises(ParameterError, match="recompute"):
        FaceReference.from_info(info, CLASSES[::-1])


@pytest.fixture(scope="module")
def face_engine(face_landmarker):
    return InferenceEngine(modalities=("face",))


def test_shipped_face_model_has_a_reference(face_engine):
    info = face_engine.face.system.info[REFERENCE_KEY]
    assert info["classes"] == list(face_engine.face.classes) and info["n_images"] == 3589
    assert "PublicTest" in info["source"]
    assert face_engine.face_adaptation().ready is False


def test_predict_images_by_person(face_engine, tmp_path, capsys, caplog):
    for name in ("anna_1.jpg", "anna_2.jpg", "anna_3.jpg", "ben_1.jpg"):
        shutil.copy(IMAGE, tmp_path / name)
    files = sorted(str(p) for p in tmp_path.glob("*.jpg"))
    assert main(["predict", "--format", "json", *files, "--speaker-key", r"^([a-z]+)_"]) == 0
    out = {Path(d["path"]).name: d for d in map(json.loads, capsys.readouterr().out.splitlines())}
    assert "face adapted to person anna (3 pictures)" in out["anna_1.jpg"]["message"]
    assert "face global" in out["ben_1.jpg"]["message"]
    assert main(["predict", "--format", "json", files[-1]]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert out["ben_1.jpg"]["probabilities"] == plain["probabilities"]  # seen once: the global model
    # three identical pictures of anna: her mean is this picture, so the adapted answer leans to the reference
    assert out["anna_1.jpg"]["probabilities"] != plain["probabilities"]


def test_stream_session_adapts_the_face(face_engine):
    frames = [(f.time, f.image) for f in iter_video_frames(VIDEO, fps=10)]
    session = face_engine.open_session(options=PredictOptions(window=0.5, step=0.5), adapt_to_speaker=True)
    assert session.face_adaptation is not None and session.adaptation is None
    plain = face_engine.open_session(options=PredictOptions(window=0.5, step=0.5))
    assert plain.face_adaptation is None
    windows = []
    for time_s, image in frames:  # the clock is the audio's: silence, so the face answers each window
        session.add_frame(time_s, image)
        windows += session.add_audio(np.zeros(1600, np.float32))
    windows += session.close()
    assert len(windows) >= 3 and all(w.result.modality == "face" for w in windows)
    assert "face global" in windows[0].result.message  # the first window: nothing learnt yet
    assert "face adapted to this person (2 pictures)" in windows[2].result.message
    assert session.face_adaptation.count == len(windows)


def test_face_adaptation_benchmark(face_engine, tmp_path, capsys):
    from avemo.benchmark.face_adaptation import run_face_adaptation_benchmark

    for name in ("1001_DFA_ANG_XX.mp4", "1001_IEO_HAP_HI.mp4"):
        shutil.copy(VIDEO, tmp_path / name)
    summary = run_face_adaptation_benchmark(tmp_path, tmp_path / "report", fps=5)
    assert summary["n_clips"] == 2 and summary["n_people"] == 1
    assert [r["emotion"] for r in summary["clips"]] == ["angry", "happy"]
    assert all("adapted to person 1001 (2 pictures)" in r["per_file_message"] for r in summary["clips"])
    assert summary["accuracy"]["n_windows"] >= 2 and 0 <= summary["accuracy"]["clip_global"] <= 1
    assert "| 1001_DFA_ANG_XX.mp4 | angry |" in (tmp_path / "report" / "results.md").read_text()
    assert main(["benchmark", "face-adaptation", "--data", str(tmp_path / "report")]) == 2
    assert "no CREMA-D clips" in capsys.readouterr().err
