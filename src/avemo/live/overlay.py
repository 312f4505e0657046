"""Drawing a live stream's results on its frame, and the OpenCV window that shows them.

:func:`draw_overlay` is pure (an annotated copy of the frame): each face's box, its emotion and probability, and
a bar per class beside the box; the voice's and the fused emotion of the latest window in a banner at the top.
:class:`LiveWindow` shows the result with ``cv2.imshow``; ``q`` or Esc (or closing the window) stops.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

import numpy as np

from avemo.errors import AvemoError
from avemo.inference.results import PREDICTED, FaceResult, FrameResult, ModalityResult, Status
from avemo.inference.session import WindowResult

BOX_COLOUR = (60, 220, 60)          # RGB
BAR_COLOUR = (255, 170, 40)
TEXT_COLOUR = (255, 255, 255)
BANNER_COLOUR = (30, 30, 30)
#: The canvas of a voice-only stream (no frames): height, width.
BLANK_SIZE = (360, 640)
BAR_WIDTH, BAR_HEIGHT, BAR_GAP = 60, 9, 3


def blank_canvas() -> np.ndarray:
    return np.full((*BLANK_SIZE, 3), 40, np.uint8)


def draw_overlay(image: np.ndarray | None, faces: Sequence[FaceResult], window: WindowResult | None,
                 time_s: float) -> np.ndarray:
    """An annotated RGB copy of ``image`` ``(H, W, 3)`` uint8 (a blank canvas when ``None``): the ``faces`` of the
    latest frame, the voice and fused result of the latest ``window``, the stream time ``time_s`` in seconds."""
    import cv2

    canvas = np.ascontiguousarray(image if image is not None else blank_canvas(), dtype=np.uint8).copy()
    h, w = canvas.shape[:2]
    scale = max(0.35, min(0.6, w / 1000))
    for face in faces:
        x0, y0, x1, y1 = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), BOX_COLOUR, 2)
        _text(canvas, f"{face.emotion} {max(face.probabilities.values()):.2f}", (x0, max(y0 - 6, 12)), scale,
              BOX_COLOUR)
        room = BAR_WIDTH + 76  # bars and their labels
        bars_x = x1 + 6 if x1 + room <= w else (x0 - room if x0 >= room else max(w - room, 0))
        for i, (label, p) in enumerate(sorted(face.probabilities.items(), key=lambda kv: -kv[1])):
            y = y0 + i * (BAR_HEIGHT + BAR_GAP)
            if y + BAR_HEIGHT >= h:
                break
            cv2.rectangle(canvas, (bars_x, y), (bars_x + BAR_WIDTH, y + BAR_HEIGHT), BANNER_COLOUR, -1)
            cv2.rectangle(canvas, (bars_x, y), (bars_x + int(BAR_WIDTH * p), y + BAR_HEIGHT), BAR_COLOUR, -1)
            _text(canvas, label, (bars_x + BAR_WIDTH + 4, y + BAR_HEIGHT), scale * 0.7, TEXT_COLOUR)
    banner = 22
    cv2.rectangle(canvas, (0, 0), (w, banner), BANNER_COLOUR, -1)
    fused = window.result if window is not None else None
    _text(canvas, f"voice: {_voice(window)}   fused: {_label(fused)}   t={time_s:.1f}s", (6, 16), scale,
          TEXT_COLOUR)
    return canvas


def _voice(window: WindowResult | None) -> str:
    speech = window.speech if window is not None else None
    if speech is None:
        return "-"
    if speech.status in PREDICTED:
        return _label(speech)
    return "silence" if speech.status == Status.SILENCE else "-"


def _label(result: ModalityResult | None) -> str:
    return f"{result.emotion} {result.confidence:.2f}" if result is not None and result.emotion else "-"


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour) -> None:
    import cv2

    cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def display_available() -> bool:
    """Whether a window can be opened (on Linux: an X11 or Wayland display is set; elsewhere assumed)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class LiveWindow:
    """The OpenCV window of ``avemo live``; call it with each result of the loop (see
    :data:`avemo.live.loop.UpdateCallback`).

    Raises:
        AvemoError: when there is no display to open a window on.
    """

    TITLE = "avemo live (q or Esc quits)"

    def __init__(self) -> None:
        if not display_available():
            raise AvemoError("no display to show the live window on (DISPLAY is not set); use --headless for JSON "
                             "lines")
        self._opened = False
        self.faces: list[FaceResult] = []      # of the latest frame
        self.window: WindowResult | None = None
        self.time = 0.0

    def __call__(self, result: FrameResult | WindowResult, latency_ms: dict[str, float],
                 image: np.ndarray | None) -> bool:
        """Show the latest frame's faces and window's result on ``image``; ``False`` once the user quits."""
        import cv2

        if isinstance(result, FrameResult):
            self.faces, self.time = result.faces, max(self.time, result.time)
        else:
            self.window, self.time = result, max(self.time, result.end)
        canvas = draw_overlay(image, self.faces, self.window, self.time)
        cv2.imshow(self.TITLE, cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        self._opened = True
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return False
        return cv2.getWindowProperty(self.TITLE, cv2.WND_PROP_VISIBLE) >= 1

    def close(self) -> None:
        if self._opened:
            import cv2

            cv2.destroyAllWindows()
            self._opened = False
