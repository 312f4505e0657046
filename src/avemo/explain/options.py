"""The settings of one explanation (:class:`ExplainOptions`)."""

from __future__ import annotations

import dataclasses

from avemo.errors import ParameterError
from avemo.inference.engine import PredictOptions


@dataclasses.dataclass(frozen=True)
class ExplainOptions:
    """How much work an explanation does.

    Args:
        predict: the prediction's own settings (``None``: the engine's).
        span: occlusion window of the speech in seconds (0.5); ``hop`` its step (``None``: half the window).
        max_spans: most occlusion windows per input (each is one more prediction); longer audio gets longer
            windows, so that a minute of speech costs as much as ``max_spans`` predictions.
        fill_db: what replaces an occluded span: ``None`` (default) silence (zeros: of the fillers tried, it changed
            the prediction least where a recording already pauses); a level in dBFS: seeded white noise of that RMS.
        face_steps: integration steps of the integrated gradients over each face crop.
        max_faces: most faces explained per input (the largest first).
        top_groups: feature groups shown in the bar chart (all of them are in the JSON).
        dpi: resolution of the pictures.

    Raises:
        ParameterError: for a non-positive span, hop, count or resolution, or a hop longer than the span.
    """

    predict: PredictOptions | None = None
    span: float = 0.5
    hop: float | None = None
    max_spans: int = 16
    fill_db: float | None = None
    face_steps: int = 32
    max_faces: int = 4
    top_groups: int = 12
    dpi: int = 100

    def __post_init__(self) -> None:
        if self.predict is not None and not isinstance(self.predict, PredictOptions):
            raise ParameterError(f"predict must be PredictOptions or None, got {type(self.predict).__name__}")
        if not self.span > 0:
            raise ParameterError(f"span must be > 0 seconds, got {self.span}")
        if self.hop is not None and not 0 < self.hop <= self.span:
            raise ParameterError(f"hop must be in (0, span={self.span}] seconds, got {self.hop}")
        for name in ("max_spans", "face_steps", "max_faces", "top_groups", "dpi"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ParameterError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if self.fill_db is not None and self.fill_db >= 0:
            raise ParameterError(f"fill_db must be below 0 dBFS, got {self.fill_db}")

    def windows(self, duration: float) -> tuple[float, float]:
        """The occlusion ``(window, hop)`` in seconds for audio of ``duration`` seconds: ``span`` and ``hop``, both
        stretched when that would give more than ``max_spans`` windows."""
        window = self.span
        hop = self.hop if self.hop is not None else window / 2
        count = max(1.0, (duration - window) / hop + 1)
        if count > self.max_spans:  # (duration - s * window) / (s * hop) + 1 = max_spans
            stretch = duration / (hop * (self.max_spans - 1) + window)
            window, hop = window * stretch, hop * stretch
        return window, hop
