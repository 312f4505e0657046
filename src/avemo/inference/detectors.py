"""A pool of face detectors for one process: a detector is not safe to call from two threads at once, and
building one costs tens of milliseconds, so threads borrow one, use it for an image or a whole video, and give
it back for the next input to reuse."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from avemo.features.face.detection import create_face_detector


class DetectorPool:
    """Face detectors of one kind and running mode, created on demand and reused.

    Args:
        detector: ``"auto"``, ``"mediapipe"`` or ``"opencv-haar"`` (see
            :func:`avemo.features.face.detection.create_face_detector`).
        max_faces: most faces per image or frame.
        running_mode: ``"image"`` or ``"video"``; a video-mode detector starts a new stream each time it is
            borrowed, so frame times of every video may start from 0.
    """

    def __init__(self, detector: str = "auto", max_faces: int = 4, running_mode: str = "image") -> None:
        self.detector, self.max_faces, self.running_mode = detector, max_faces, running_mode
        self._idle: list = []
        self._lock = threading.Lock()
        self._closed = False

    def _create(self):
        return create_face_detector(self.detector, max_faces=self.max_faces, running_mode=self.running_mode)

    def warm_up(self) -> None:
        """Build one detector now, so a missing model or a bad setting fails here rather than on first use."""
        with self.borrow():
            pass

    @contextlib.contextmanager
    def borrow(self) -> Iterator:
        """A detector for the caller's exclusive use until the ``with`` block ends."""
        with self._lock:
            detector = self._idle.pop() if self._idle else None
        if detector is None:
            detector = self._create()
        elif self.running_mode == "video":
            detector.new_stream()
        try:
            yield detector
        finally:
            with self._lock:
                keep = not self._closed
                if keep:
                    self._idle.append(detector)
            if not keep:
                detector.close()

    def close(self) -> None:
        """Close the idle detectors; those still borrowed close when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for detector in idle:
            detector.close()
