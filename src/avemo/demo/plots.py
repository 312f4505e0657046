"""The demo's two pictures, as matplotlib figures (no pyplot, so no global state and safe from any thread):
the probability of each class over time, and valence / arousal on the circumplex."""

from __future__ import annotations

import dataclasses

import numpy as np
from matplotlib.figure import Figure

from avemo.inference.results import FusedResult, ModalityResult, PredictionResult, PREDICTED
from avemo.labels import VALENCE_AROUSAL, canonical_emotion, valence_arousal

#: One colour per canonical emotion, the same in every picture.
EMOTION_COLOURS = {"neutral": "#7f7f7f", "calm": "#17becf", "happy": "#ffb000", "sad": "#1f77b4",
                   "angry": "#d62728", "fearful": "#9467bd", "disgust": "#2ca02c", "surprised": "#ff7f0e",
                   "bored": "#8c564b"}
FIGURE_SIZE = (5.2, 3.0)


@dataclasses.dataclass(frozen=True)
class TimeSeries:
    """Class probabilities over time: ``times`` ``(n,)`` in seconds (window centres or frame times),
    ``probabilities`` ``(n, len(classes))``; ``source`` says what the rows are."""

    times: np.ndarray
    classes: tuple[str, ...]
    probabilities: np.ndarray
    source: str


def timeline_series(result: PredictionResult) -> TimeSeries | None:
    """The time axis of a result: its window timeline, else (a video's faces only) the main face per frame;
    None for a photo or a clip shorter than one window."""
    timeline = result.timeline
    if len(timeline):
        source = "fused windows" if isinstance(result, FusedResult) else f"{result.modality} windows"
        return TimeSeries((timeline.starts + timeline.ends) / 2, timeline.classes, timeline.probabilities, source)
    if isinstance(result, ModalityResult) and result.frames and result.faces:
        main = result.faces[0].track_id
        seen = [(frame.time, face) for frame in result.frames for face in frame.faces if face.track_id == main]
        if seen:
            classes = tuple(seen[0][1].probabilities)
            rows = np.array([[face.probabilities[c] for c in classes] for _, face in seen])
            return TimeSeries(np.array([t for t, _ in seen]), classes, rows, "main face per frame")
    return None


def no_timeline_reason(result: PredictionResult) -> str:
    """Why a result has no timeline, in words."""
    if result.status not in PREDICTED:
        return "no timeline: nothing was recognised"
    if str(result.modality) == "face" and not getattr(result, "frames", None):
        return "a photo has no time axis"
    return "no timeline: the clip is shorter than one analysis window"


def _message_figure(text: str, title: str) -> Figure:
    fig = Figure(figsize=(FIGURE_SIZE[0], 1.2), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="#555555", wrap=True)
    return fig


def colour(emotion: str) -> str:
    """The colour of an emotion (grey for a name outside the taxonomy)."""
    return EMOTION_COLOURS.get(emotion, "#444444")


def timeline_figure(result: PredictionResult) -> Figure:
    """Probability per class over time (one line per class), or a figure saying why there is no timeline."""
    series = timeline_series(result)
    title = "Emotion over time"
    if series is None:
        return _message_figure(no_timeline_reason(result), title)
    fig = Figure(figsize=FIGURE_SIZE, layout="constrained")
    ax = fig.add_subplot()
    marker = "o" if len(series.times) < 12 else None
    for k, name in enumerate(series.classes):
        ax.plot(series.times, series.probabilities[:, k], label=name, color=colour(name), marker=marker,
                linewidth=2 if name == result.emotion else 1.2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.set_title(f"{title} ({series.source})")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return fig


def circumplex_points(result: PredictionResult) -> tuple[tuple[float, float] | None, list[tuple[float, float]]]:
    """The result's (valence, arousal) and, per timeline window, the window's (valence, arousal)."""
    point = result.valence_arousal
    series = timeline_series(result)
    path = []
    if series is not None:
        path = [valence_arousal(dict(zip(series.classes, row))) for row in series.probabilities]
    return point, path


def circumplex_figure(result: PredictionResult) -> Figure:
    """Russell's circumplex: the unit circle, each class of the result at its anchor (:mod:`avemo.labels`),
    the predicted point (probability-weighted mean of the anchors) and, faintly, its path over time."""
    fig = Figure(figsize=(3.9, 3.9), layout="constrained")
    ax = fig.add_subplot()
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(angle), np.sin(angle), color="#bbbbbb", linewidth=1)
    ax.axhline(0, color="#dddddd", linewidth=0.8)
    ax.axvline(0, color="#dddddd", linewidth=0.8)
    classes = list(result.probabilities) or list(VALENCE_AROUSAL)
    for name in classes:
        key = canonical_emotion(name)
        if key not in VALENCE_AROUSAL:
            continue
        v, a = VALENCE_AROUSAL[key]
        size = 30 + 250 * float(result.probabilities.get(name, 0.0))
        ax.scatter([v], [a], s=size, color=colour(key), alpha=0.55, edgecolors="none")
        radius = max(np.hypot(v, a), 1e-6)  # the name goes outwards from the centre, away from its neighbours
        ax.annotate(name, (v, a), textcoords="offset points", xytext=(9 * v / radius, 9 * a / radius),
                    ha="left" if v > 0.1 else "right" if v < -0.1 else "center",
                    va="bottom" if a > 0.1 else "top" if a < -0.1 else "center", fontsize=8)
    point, path = circumplex_points(result)
    if len(path) > 1:
        ax.plot([p[0] for p in path], [p[1] for p in path], color="#333333", alpha=0.3, marker=".", linewidth=1)
    if point is not None:
        ax.scatter([point[0]], [point[1]], marker="*", s=320, color="black", zorder=5)
    ax.set_xlim(-1.35, 1.35)  # room for the names beside the anchors at |valence| = 1
    ax.set_ylim(-1.15, 1.15)
    ax.set_aspect("equal")
    ax.set_xlabel("valence (unpleasant → pleasant)")
    ax.set_ylabel("arousal (calm → excited)")
    ax.set_title("Valence / arousal" + (f": {point[0]:+.2f}, {point[1]:+.2f} (★)" if point is not None else ""))
    return fig
