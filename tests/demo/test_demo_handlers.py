"""The demo page's callbacks on a real engine, without a browser: results, bad inputs, explanations, live frames."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from PIL import Image

from avemo.demo.web import LIVE_SMOOTHING_S, NO_EXPLAIN_NOTE, DemoHandlers, LiveFaces, build_app
from avemo.labels import label_set


@pytest.fixture()
def handlers(demo_engine, tmp_path):
    return DemoHandlers(demo_engine, tmp_path / "work")


def status_of(view) -> tuple[str, list[str]]:
    return view.status["value"], view.status["elem_classes"]


def test_a_voice_file_fills_every_output(handlers, demo_engine, media):
    view = handlers.analyse_file(str(media["voice"]))
    expected = demo_engine.predict_file(media["voice"])
    text, style = status_of(view)
    assert style == ["avemo-ok"] and text.startswith(f"### {expected.emotion} — ")
    assert max(view.fused, key=view.fused.get) == expected.emotion and set(view.fused) == set(label_set("ravdess8"))
    assert view.fused == pytest.approx(expected.probabilities) and view.speech == view.fused and view.face is None
    assert len(view.timeline.axes[0].lines) == 8 and view.circumplex is not None
    assert view.analysed == str(media["voice"])


def test_a_talking_face_video_shows_both_modalities(handlers, talking_face):
    view = handlers.analyse_file(str(talking_face))
    text, style = status_of(view)
    assert style == ["avemo-ok"] and "voice + face" in text
    assert set(view.fused) == set(label_set("fer7")) and set(view.speech) == set(label_set("ravdess8"))
    assert set(view.face) == set(label_set("fer7"))


@pytest.mark.parametrize("key, message", [
    ("text", r"notes\.txt: \.txt files are not supported"),
    ("empty", r"empty\.wav: the file is empty"),
    ("corrupt", r"corrupt\.wav: not a readable audio or video file"),
])
def test_bad_uploads_show_one_clear_line(handlers, media, key, message):
    import re

    view = handlers.analyse_file(str(media[key]))
    text, style = status_of(view)
    assert style == ["avemo-error"] and text.startswith(f"### Could not analyse `{media[key].name}`")
    assert re.search(message, text) and "Traceback" not in text
    assert str(media[key].parent) not in text                  # the server's temporary path is not shown
    assert view.fused is view.speech is view.face is view.timeline is view.analysed is None


def test_a_photo_without_a_face_is_a_warning_not_a_crash(handlers, media):
    view = handlers.analyse_file(str(media["blank"]))
    text, style = status_of(view)
    assert style == ["avemo-warning"] and text.startswith("### No emotion: no face found")
    assert view.fused is None and view.analysed is None


def test_nothing_uploaded_and_no_photo(handlers):
    assert "no file yet" in status_of(handlers.analyse_file(None))[0]
    assert "no photo yet" in status_of(handlers.analyse_photo(None))[0]


def test_a_webcam_photo_is_analysed_as_a_file(handlers, face_frame):
    view = handlers.analyse_photo(np.asarray(Image.open(face_frame).convert("RGB")))
    text, style = status_of(view)
    assert style == ["avemo-ok"] and "`webcam photo` · face" in text and view.face == view.fused
    assert view.analysed.endswith(".png")


def test_old_work_files_are_removed(handlers, face_frame):
    import os
    import time

    stale = handlers.work_dir / "explain-old"
    stale.mkdir()
    (stale / "a.png").write_bytes(b"x")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    handlers.analyse_photo(np.asarray(Image.open(face_frame).convert("RGB")))
    assert not stale.exists() and len(list(handlers.work_dir.glob("webcam-*.png"))) == 1


def test_an_unexpected_exception_is_one_line(handlers, media, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(handlers.engine, "predict_file", broken)
    text, style = status_of(handlers.analyse_file(str(media["voice"])))
    assert style == ["avemo-error"] and "unexpected error (RuntimeError: boom second line)" in text
    assert "Traceback" not in text and "\n" not in text.split("\n\n", 1)[1]


def test_explanations_missing_failing_and_present(handlers, media, monkeypatch):
    path = str(media["voice"])
    assert handlers.explain(None, True) == (None, "")
    assert handlers.explain(path, False)[1].startswith("Explanations are off")
    monkeypatch.setitem(sys.modules, "avemo.explain", None)            # the package is not installed
    assert handlers.explain(path, True) == (None, NO_EXPLAIN_NOTE)

    def explain_file(engine, path, out_dir):
        (out_dir / "speech_relevance.png").write_bytes(b"\x89PNG fake")
        return {"pictures": ["speech_relevance.png", "never_written.png"], "numbers": {}}

    monkeypatch.setitem(sys.modules, "avemo.explain", types.SimpleNamespace(explain_file=explain_file))
    pictures, note = handlers.explain(path, True)
    assert [caption for _, caption in pictures] == ["speech relevance"] and note == "1 explanation picture."
    assert pictures[0][0].startswith(str(handlers.work_dir))

    def failing(engine, path, out_dir):
        raise ValueError("no saliency for this model")

    monkeypatch.setitem(sys.modules, "avemo.explain", types.SimpleNamespace(explain_file=failing))
    assert handlers.explain(path, True) == (None, "No explanation: unexpected error (ValueError: no saliency for "
                                                  "this model)")


def test_live_frames_track_the_face_and_smooth_the_label(handlers, face_frame, media):
    rgb = np.asarray(Image.open(face_frame).convert("RGB"))
    label, text, live = handlers.live_frame(rgb, None)
    assert isinstance(live, LiveFaces) and text.startswith("1 face — face 0: ")
    face = handlers.engine.face
    image_tta, face.tta = face.tta, face.video_tta  # the live view classifies its frames as video frames
    try:
        single = handlers.engine.predict_image(rgb)
    finally:
        face.tta = image_tta
    assert max(label, key=label.get) == single.emotion
    for _ in range(2):
        label, text, same = handlers.live_frame(rgb, live)
    assert same is live and live.session.stream_options.smoothing == LIVE_SMOOTHING_S  # one session, smoothing
    assert sum(label.values()) == pytest.approx(1.0)
    blank = np.asarray(Image.open(media["blank"]).convert("RGB"))
    label, text, _ = handlers.live_frame(blank, live)
    assert label is None and text.startswith("No face in view")
    assert handlers.live_frame(None, live)[1].startswith("Start the webcam")
    live.close()
    assert live.session is None


def test_build_app_has_the_inputs_and_outputs(demo_engine):
    app = build_app(demo_engine)
    ids = {block.elem_id for block in app.blocks.values() if getattr(block, "elem_id", None)}
    assert {"avemo-upload", "avemo-analyse", "avemo-emotion", "avemo-speech", "avemo-face", "avemo-timeline",
            "avemo-circumplex", "avemo-explanations", "avemo-status"} <= ids
    streaming = [b for b in app.blocks.values() if getattr(b, "streaming", False)]
    assert len(streaming) == 1 and streaming[0].sources == ["webcam"]
    assert app.analytics_enabled is False
