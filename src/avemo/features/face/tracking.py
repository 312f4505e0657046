"""Stable face identities across video frames by box overlap (IoU), greedy matching."""

from __future__ import annotations

import dataclasses
from typing import Sequence

from avemo.errors import ParameterError
from avemo.features.face.detection import FaceDetection


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (0.0 when either is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclasses.dataclass
class _Track:
    track_id: int
    box: tuple[float, float, float, float]
    missed: int = 0


class FaceTracker:
    """Give the faces of consecutive frames stable ``track_id`` values.

    Each call to :meth:`update` matches the new faces to the tracks of earlier frames greedily by IoU of
    their boxes (highest overlap first, at least ``iou_threshold``); unmatched faces start new tracks with
    fresh ids (never reused), and a track unmatched for more than ``max_missed`` consecutive frames ends.

    Args:
        iou_threshold: minimum box IoU in (0, 1] for a face to continue a track.
        max_missed: frames a track survives without a matching face (e.g. a blink of the detector).

    Raises:
        ParameterError: for arguments out of range.
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 5) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ParameterError(f"iou_threshold must lie in (0, 1], got {iou_threshold!r}")
        if not isinstance(max_missed, int) or max_missed < 0:
            raise ParameterError(f"max_missed must be a non-negative integer, got {max_missed!r}")
        self.iou_threshold = float(iou_threshold)
        self.max_missed = max_missed
        self._tracks: list[_Track] = []
        self._next_id = 0

    def update(self, faces: Sequence[FaceDetection]) -> list[FaceDetection]:
        """Assign track ids to one frame's faces.

        Returns:
            Copies of ``faces`` (same order) with ``track_id`` set; the inputs are not changed.
        """
        pairs = sorted(((box_iou(face.box, track.box), i, j) for i, face in enumerate(faces)
                        for j, track in enumerate(self._tracks)), reverse=True)
        face_to_track: dict[int, int] = {}
        used: set[int] = set()
        for iou, i, j in pairs:
            if iou < self.iou_threshold:
                break
            if i in face_to_track or j in used:
                continue
            face_to_track[i] = j
            used.add(j)
        out = []
        for i, face in enumerate(faces):
            if i in face_to_track:
                track = self._tracks[face_to_track[i]]
                track.box, track.missed = tuple(face.box), 0
            else:
                track = _Track(self._next_id, tuple(face.box))
                self._next_id += 1
                self._tracks.append(track)
                used.add(len(self._tracks) - 1)
            out.append(dataclasses.replace(face, track_id=track.track_id))
        for j, track in enumerate(self._tracks):
            if j not in used:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        return out

    def reset(self) -> None:
        """Forget every track (for a new video); ids keep counting up."""
        self._tracks = []

    @property
    def active_ids(self) -> list[int]:
        """Ids of the tracks still alive."""
        return [t.track_id for t in self._tracks]
