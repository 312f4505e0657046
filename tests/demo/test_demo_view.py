"""The demo's formatting helpers (no Gradio, no browser): upload checks, Label values, Markdown boxes."""

from __future__ import annotations

import pytest

from avemo.demo.view import (check_upload, error_markdown, label_value, live_faces_markdown, modality_parts,
                             one_line, summary_markdown)
from avemo.errors import MediaDecodeError
from avemo.inference.results import (FaceResult, FusedResult, FusionInfo, Modality, ModalityResult, Status,
                                     Timeline)
from avemo.labels import label_set

RAVDESS8, FER7 = label_set("ravdess8"), label_set("fer7")


def distribution(classes, top, p=0.7):
    rest = (1 - p) / (len(classes) - 1)
    return {c: (p if c == top else rest) for c in classes}


def speech_result(top="happy", seconds=6.0):
    probabilities = distribution(RAVDESS8, top)
    timeline = Timeline(RAVDESS8, [0.0, 2.0], [4.0, 6.0], [[probabilities[c] for c in RAVDESS8]] * 2)
    return ModalityResult("voice.wav", probabilities, seconds, timeline=timeline)


def face_result(top="sad"):
    face = FaceResult((10, 10, 60, 70), distribution(FER7, top, 0.6))
    return ModalityResult("photo.jpg", dict(face.probabilities), 0.0, modality=Modality.FACE, faces=[face],
                          box=face.box)


def test_check_upload_refuses_what_cannot_be_media(tmp_path):
    with pytest.raises(MediaDecodeError, match="no file yet"):
        check_upload(None)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(MediaDecodeError, match=r"notes\.txt: \.txt files are not supported; upload audio"):
        check_upload(tmp_path / "notes.txt")
    (tmp_path / "README").write_text("hello")
    with pytest.raises(MediaDecodeError, match="files without an extension are not supported"):
        check_upload(tmp_path / "README")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(MediaDecodeError, match=r"shown\.wav: the file is empty \(0 bytes\)"):
        check_upload(tmp_path / "empty.wav", name="shown.wav")
    with pytest.raises(MediaDecodeError, match="did not arrive"):
        check_upload(tmp_path / "gone.wav")
    (tmp_path / "Clip.MP4").write_bytes(b"\0" * 10)
    assert check_upload(str(tmp_path / "Clip.MP4")) == tmp_path / "Clip.MP4"


def test_label_value_and_modality_parts():
    speech, face = speech_result(), face_result()
    assert label_value({"happy": 0.25, "sad": 0.75}) == {"happy": 0.25, "sad": 0.75}
    assert label_value({}) is None
    assert modality_parts(speech) == {"speech": speech, "face": None}
    assert modality_parts(face) == {"speech": None, "face": face}
    fused = FusedResult("clip.mp4", distribution(FER7, "sad"), 2.0, modalities={"speech": speech, "face": face})
    assert modality_parts(fused) == {"speech": speech, "face": face}


def test_summary_of_a_speech_result():
    text = summary_markdown(speech_result("angry"), "voice.wav")
    lines = text.split("\n\n")
    assert lines[0] == "### angry — 70%"
    assert lines[1].startswith("`voice.wav` · voice · 6.0 s · valence -")
    assert lines[2] == "**Speech**: angry (70%) · **Face**: not in this input"


def test_summary_of_a_fused_result_names_both_modalities_and_the_note():
    speech, face = speech_result("happy"), face_result("sad")
    fusion = FusionInfo("log", "fer7", {"speech": 0.5, "face": 0.5}, {}, ["face", "speech"], note="speech: quiet")
    fused = FusedResult("clip.mp4", distribution(FER7, "sad", 0.5), 1.9, modalities={"speech": speech, "face": face},
                        fusion=fusion)
    text = summary_markdown(fused, "clip.mp4")
    assert text.startswith("### sad — 50%\n\n`clip.mp4` · voice + face · 1.9 s")
    assert "**Speech**: happy (70%) · **Face**: sad (60%), 1 face" in text
    assert text.endswith("*Note: speech: quiet*")


def test_summary_of_a_photo_without_a_face_says_so_and_how_to_fix_it():
    empty = ModalityResult("blank.png", {}, 0.0, Status.NO_FACE, "no face found", modality=Modality.FACE)
    text = summary_markdown(empty, "blank.png")
    assert text.startswith("### No emotion: no face found\n\n`blank.png`: no face found; use a photo with a clearly")
    assert "**Face**: no face found" in text


def test_error_box_is_one_line_without_a_traceback():
    text = error_markdown("clip.wav: cannot decode\n  (bad header)\n", "clip.wav")
    assert text == "### Could not analyse `clip.wav`\n\nclip.wav: cannot decode (bad header)"
    assert one_line("a\n\tb  c ") == "a b c"


def test_live_faces_line():
    assert live_faces_markdown([]).startswith("No face in view")
    faces = [FaceResult((0, 0, 9, 9), distribution(FER7, "happy", 0.8), track_id=3),
             FaceResult((20, 0, 29, 9), distribution(FER7, "neutral", 0.5), track_id=None)]
    assert live_faces_markdown(faces) == "2 faces — face 3: happy (80%) · face 1: neutral (50%)"
