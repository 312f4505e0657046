"""The demo's pictures: the timeline's data and lines, the circumplex's anchors and predicted point."""

from __future__ import annotations

import numpy as np
import pytest

from avemo.demo.plots import circumplex_figure, circumplex_points, no_timeline_reason, timeline_figure, timeline_series
from avemo.inference.results import FaceResult, FrameResult, Modality, ModalityResult, Status, Timeline
from avemo.labels import VALENCE_AROUSAL, label_set, valence_arousal

RAVDESS8, FER7 = label_set("ravdess8"), label_set("fer7")


def speech_with_windows():
    rows = np.full((3, 8), 0.05)
    rows[0, 2], rows[1, 2], rows[2, 4] = 0.65, 0.65, 0.65       # happy, happy, angry
    timeline = Timeline(RAVDESS8, [0.0, 2.0, 4.0], [4.0, 6.0, 8.0], rows)
    return ModalityResult("voice.wav", timeline.mean(), 8.0, timeline=timeline)


def face_video():
    def face(track, top):
        return FaceResult((0, 0, 10, 10), {c: (0.7 if c == top else 0.05) for c in FER7}, track_id=track)
    frames = [FrameResult(0.0, [face(0, "happy"), face(1, "sad")]), FrameResult(0.5, [face(1, "sad")]),
              FrameResult(1.0, [face(0, "angry")])]
    main = FaceResult((0, 0, 10, 10), {c: 1 / 7 for c in FER7}, track_id=0, frames=2)
    return ModalityResult("clip.mp4", dict(main.probabilities), 1.0, modality=Modality.FACE, faces=[main],
                          frames=frames)


def test_timeline_series_of_speech_windows_uses_window_centres():
    series = timeline_series(speech_with_windows())
    assert series.times.tolist() == [2.0, 4.0, 6.0]
    assert series.classes == RAVDESS8 and series.source == "speech windows"
    assert series.probabilities[2, 4] == pytest.approx(0.65)


def test_timeline_series_of_a_face_only_video_follows_the_main_face():
    series = timeline_series(face_video())
    assert series.times.tolist() == [0.0, 1.0]                # track 1's frame at 0.5 s is not the main face
    assert series.probabilities[:, FER7.index("happy")].tolist() == [0.7, 0.05]
    assert series.probabilities[:, FER7.index("angry")].tolist() == [0.05, 0.7]


def test_a_photo_has_no_timeline_and_the_figure_says_why():
    photo = ModalityResult("p.jpg", {c: 1 / 7 for c in FER7}, 0.0, modality=Modality.FACE,
                           faces=[FaceResult((0, 0, 9, 9), {c: 1 / 7 for c in FER7})])
    assert timeline_series(photo) is None
    assert no_timeline_reason(photo) == "a photo has no time axis"
    texts = [t.get_text() for ax in timeline_figure(photo).axes for t in ax.texts]
    assert texts == ["a photo has no time axis"]
    short = ModalityResult("short.wav", {c: 1 / 8 for c in RAVDESS8}, 2.0)
    assert "shorter than one analysis window" in no_timeline_reason(short)
    failed = ModalityResult("x.wav", {}, 2.0, Status.SILENCE)
    assert no_timeline_reason(failed).startswith("no timeline: nothing")


def test_timeline_figure_draws_one_line_per_class_with_the_probabilities():
    result = speech_with_windows()
    (ax,) = timeline_figure(result).axes
    lines = {line.get_label(): line for line in ax.lines}
    assert list(lines) == list(RAVDESS8)
    assert lines["angry"].get_xdata().tolist() == [2.0, 4.0, 6.0]
    assert lines["angry"].get_ydata().tolist() == pytest.approx([0.05, 0.05, 0.65])
    assert ax.get_ylim() == (0, 1) and ax.get_xlabel() == "time (s)"
    assert lines[result.emotion].get_linewidth() > lines["sad"].get_linewidth()   # the top class stands out


def test_circumplex_points_and_figure():
    result = speech_with_windows()
    point, path = circumplex_points(result)
    assert point == pytest.approx(valence_arousal(result.probabilities))
    assert len(path) == 3 and path[2] == pytest.approx(valence_arousal(result.timeline[2].probabilities))
    (ax,) = circumplex_figure(result).axes
    assert sorted(t.get_text() for t in ax.texts) == sorted(RAVDESS8)
    anchors = {tuple(np.round(c.get_offsets()[0], 3)) for c in ax.collections if len(c.get_offsets()) == 1}
    assert tuple(np.round(VALENCE_AROUSAL["angry"], 3)) in anchors
    star = [c for c in ax.collections if c.get_offsets()[0].tolist() == pytest.approx(list(point))]
    assert len(star) == 1
    assert f"{point[0]:+.2f}, {point[1]:+.2f}" in ax.get_title()
    assert ax.get_xlim() == pytest.approx((-1.35, 1.35)) and ax.get_ylim() == pytest.approx((-1.15, 1.15))
