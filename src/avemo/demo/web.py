"""``avemo demo``: the Gradio web demo, a thin page over one :class:`~avemo.inference.engine.InferenceEngine`.

Inputs: an uploaded file (audio, video or photo), a microphone recording, a webcam photo, and the live webcam
(faces per frame, a smoothed live label). Outputs: the fused emotion, each modality's probabilities, the
timeline, valence / arousal on the circumplex, and the explanation pictures of :mod:`avemo.explain` (when that
package is installed). Every failure is shown as a one-line message in the page, never a traceback. Runs
offline: no share link, no analytics.

>>> app = build_app(InferenceEngine())
>>> app.launch(server_name="127.0.0.1", server_port=7860)
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr
import numpy as np

from avemo.demo.plots import circumplex_figure, timeline_figure
from avemo.demo.view import (check_upload, error_markdown, label_value, live_faces_markdown,
                             modality_parts, one_line, summary_markdown)
from avemo.errors import AvemoError, ParameterError
from avemo.inference.engine import InferenceEngine
from avemo.inference.results import PREDICTED, Status
from avemo.inference.session import StreamOptions

log = logging.getLogger(__name__)

TITLE = "avemo — emotion from voice and face"
INTRO = ("Upload an audio clip, a video or a photo, record your voice, or use the webcam. avemo recognises the "
         "emotion from the voice (8 classes), the face (7 classes) or both (fused on 7 classes). "
         "Everything runs on this machine; nothing is sent anywhere.")
GUIDE = """**Reading the results**

- *Emotion (fused)*: for a video, the voice and the face combined (each calibrated, then a weighted geometric
  mean); for audio or a photo, that modality's own result.
- *Speech*: 8 classes (RAVDESS: calm included); *Face*: 7 classes (FER2013).
- *Timeline*: the probability of each class per 4 s window of speech (1 s of video frames for short clips).
- *Valence / arousal*: each class at its place on Russell's circumplex (NRC VAD lexicon); the star is the
  probability-weighted mean.
- *Explanations*: which modality, which moments of the voice and which parts of the face made the result.
"""
NO_EXPLAIN_NOTE = "Explanations are not available here (the avemo.explain package is not installed)."
#: Webcam photos and explanation pictures older than this (seconds) are removed from the work folder.
MAX_FILE_AGE_S = 3600
#: Time constant (s) of the live label's smoothing over stream time (a frame every 0.3 s keeps 65% of the label
#: before it).
LIVE_SMOOTHING_S = 0.7
CSS = """
#avemo-status.avemo-error { border-left: 4px solid #d62728; padding-left: 12px; background: #fdecea; }
#avemo-status.avemo-warning { border-left: 4px solid #ff9f1c; padding-left: 12px; background: #fff4e0; }
#avemo-status.avemo-ok { border-left: 4px solid #2ca02c; padding-left: 12px; }
"""


class AnalysisView(NamedTuple):
    """Everything one analysis puts on the page, in the order of :meth:`DemoHandlers.outputs`."""

    status: Any                 # gr.update of the Markdown box (text + its error / warning / ok style)
    fused: dict | None          # gr.Label value
    speech: dict | None
    face: dict | None
    timeline: Any               # matplotlib Figure or None
    circumplex: Any
    analysed: str | None        # the path explanations are made for (None after a failure)


def _status(text: str, kind: str):
    return gr.update(value=text, elem_classes=[f"avemo-{kind}"])


class LiveFaces:
    """The state of one live webcam stream: its engine session (video-mode face detector + tracker, each face's
    probabilities smoothed over stream time) and the stream clock. :meth:`close` frees the detector."""

    def __init__(self, engine: InferenceEngine) -> None:
        self.engine = engine
        self.session = None
        self.start = time.monotonic()
        self.last_time = -1.0

    def add_frame(self, rgb: np.ndarray):
        """Faces of one frame, largest first, each smoothed over its track (a
        :class:`~avemo.inference.results.FrameResult`)."""
        if self.session is None:
            self.session = self.engine.open_session(name="webcam",
                                                    stream_options=StreamOptions(smoothing=LIVE_SMOOTHING_S))
            self.start, self.last_time = time.monotonic(), -1.0
        now = max(time.monotonic() - self.start, self.last_time + 1e-3)
        self.last_time = now
        return self.session.add_frame(now, rgb)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


def _close_live(live: LiveFaces | None) -> None:
    if live is not None:
        live.close()


class DemoHandlers:
    """The page's callbacks over one shared engine; each returns what its outputs show and never raises.

    Args:
        engine: the loaded models (shared by every visitor; it is thread-safe).
        work_dir: where webcam photos and explanation pictures go (default: a temporary folder removed at exit).
    """

    def __init__(self, engine: InferenceEngine, work_dir: str | os.PathLike | None = None) -> None:
        self.engine = engine
        if work_dir is None:
            work_dir = tempfile.mkdtemp(prefix="avemo-demo-")
            atexit.register(shutil.rmtree, work_dir, True)
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)

    # ---- one input -> the result outputs --------------------------------------------------------------

    def analyse_file(self, path: str | None, name: str | None = None) -> AnalysisView:
        """Predict an uploaded or recorded file."""
        name = name or (Path(path).name if path else None)
        try:
            checked = check_upload(path, name)
            result = self.engine.predict_file(checked, name=name)
        except AvemoError as exc:
            message = one_line(exc)
            return self._failed(message.replace(str(path), name) if path and name else message, name)
        except Exception as exc:  # a bug: the page says so in one line, the log keeps the traceback
            log.exception("demo: predicting %s failed", name)
            return self._failed(f"unexpected error ({type(exc).__name__}: {one_line(exc)}); this is a bug in "
                                "avemo, please report it with the file", name)
        parts = modality_parts(result)
        ok = result.status in PREDICTED
        timeline = circumplex = None
        try:
            if ok:
                timeline, circumplex = timeline_figure(result), circumplex_figure(result)
        except Exception:  # a picture that fails must not hide the result
            log.exception("demo: plotting %s failed", name)
        return AnalysisView(_status(summary_markdown(result, name), "ok" if result.status == Status.OK else "warning"),
                            label_value(result.probabilities),
                            label_value(parts["speech"].probabilities) if parts["speech"] else None,
                            label_value(parts["face"].probabilities) if parts["face"] else None,
                            timeline, circumplex, str(checked) if ok else None)

    def analyse_photo(self, rgb: np.ndarray | None) -> AnalysisView:
        """Predict a webcam photo (an RGB array from the page)."""
        if rgb is None:
            return self._failed("no photo yet; click the camera button to take one", "webcam photo")
        from PIL import Image

        path = self._new_path("webcam-", ".png")
        Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(path)
        return self.analyse_file(str(path), "webcam photo")

    def _new_path(self, prefix: str, suffix: str = "", folder: bool = False) -> Path:
        """A new file (or folder) in the work folder, after removing what is older than MAX_FILE_AGE_S."""
        cutoff = time.time() - MAX_FILE_AGE_S
        for old in self.work_dir.iterdir():
            if old.stat().st_mtime >= cutoff:
                continue
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        if folder:
            return Path(tempfile.mkdtemp(prefix=prefix, dir=self.work_dir))
        handle, name = tempfile.mkstemp(suffix=suffix, prefix=prefix, dir=self.work_dir)
        os.close(handle)
        return Path(name)

    def _failed(self, message: str, name: str | None) -> AnalysisView:
        return AnalysisView(_status(error_markdown(message, name), "error"), None, None, None, None, None, None)

    # ---- explanations ---------------------------------------------------------------------------------

    def explain(self, path: str | None, enabled: bool) -> tuple[list[tuple[str, str]] | None, str]:
        """The explanation pictures of the last analysed file, as ``(path, caption)`` pairs, and a note."""
        if not path:
            return None, ""
        if not enabled:
            return None, "Explanations are off (tick *Explain the prediction* to see them)."
        try:
            from avemo.explain import explain_file
        except ImportError:
            return None, NO_EXPLAIN_NOTE
        out_dir = self._new_path("explain-", folder=True)
        try:
            explanation = explain_file(self.engine, path, out_dir)
            pictures = [out_dir / name for name in explanation.get("pictures", [])]
        except AvemoError as exc:
            return None, f"No explanation: {one_line(exc).replace(str(path), Path(path).name)}"
        except Exception as exc:
            log.exception("demo: explaining %s failed", path)
            return None, f"No explanation: unexpected error ({type(exc).__name__}: {one_line(exc)})"
        pictures = [(str(p), p.stem.replace("_", " ")) for p in pictures if p.is_file()]
        if not pictures:
            return None, "The explanation made no pictures for this input."
        return pictures, f"{len(pictures)} explanation picture{'s' if len(pictures) != 1 else ''}."

    # ---- the live webcam ------------------------------------------------------------------------------

    def live_frame(self, rgb: np.ndarray | None, live: LiveFaces | None) -> tuple[dict | None, str, LiveFaces | None]:
        """One frame of the live webcam: the smoothed label of the main face, a line about every face, the
        stream state."""
        if rgb is None:
            return None, "Start the webcam to see the live emotion.", live
        live = live or LiveFaces(self.engine)
        try:
            frame = live.add_frame(np.asarray(rgb))
        except AvemoError as exc:
            return None, f"**Error:** {one_line(exc)}", live
        except Exception as exc:
            log.exception("demo: a live frame failed")
            return None, f"**Error:** unexpected ({type(exc).__name__}: {one_line(exc)})", live
        label = label_value(frame.faces[0].probabilities) if frame.faces else None
        return label, live_faces_markdown(frame.faces), live


def build_app(engine: InferenceEngine) -> gr.Blocks:
    """The demo page over ``engine`` (launch it with ``app.launch(...)``; see :func:`launch_kwargs`)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # gradio's own calls read it, not only the Blocks argument
    handlers = DemoHandlers(engine)
    has_face, has_speech = engine.face is not None, engine.speech is not None
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(f"# {TITLE}\n\n{INTRO}")
        analysed = gr.State(None)
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                with gr.Tabs():
                    with gr.Tab("Upload a file", id="upload"):
                        upload = gr.File(label="Audio (wav, mp3, flac, ogg), video (mp4, webm) or photo (jpg, png)",
                                         type="filepath", elem_id="avemo-upload")
                        upload_button = gr.Button("Analyse the file", variant="primary", elem_id="avemo-analyse")
                    with gr.Tab("Record your voice", id="microphone", visible=has_speech):
                        recording = gr.Audio(sources=["microphone", "upload"], type="filepath", format="wav",
                                             label="Say a sentence (4 s or more gives a timeline)")
                        record_button = gr.Button("Analyse the recording", variant="primary")
                    with gr.Tab("Webcam photo", id="photo", visible=has_face):
                        photo = gr.Image(sources=["webcam", "upload"], type="numpy", label="Take a photo")
                        photo_button = gr.Button("Analyse the photo", variant="primary")
                    with gr.Tab("Live webcam", id="live", visible=has_face):
                        live_image = gr.Image(sources=["webcam"], streaming=True, type="numpy",
                                              label="Live webcam (faces of every frame)", elem_id="avemo-live")
                        live_label = gr.Label(label="Live emotion (main face, smoothed)", num_top_classes=3,
                                              elem_id="avemo-live-emotion")
                        live_faces = gr.Markdown(elem_id="avemo-live-faces")
                        live_state = gr.State(None, delete_callback=_close_live)
                explain_box = gr.Checkbox(value=True, label="Explain the prediction (pictures; a few seconds more)",
                                          elem_id="avemo-explain")
                gr.Markdown(GUIDE)
            with gr.Column(scale=3, min_width=420):
                status = gr.Markdown("Choose an input on the left.", elem_id="avemo-status")
                with gr.Row(equal_height=False):
                    fused = gr.Label(label="Emotion (fused)", num_top_classes=3, elem_id="avemo-emotion")
                    speech = gr.Label(label="Speech (voice)", num_top_classes=8, elem_id="avemo-speech")
                    face = gr.Label(label="Face", num_top_classes=7, elem_id="avemo-face")
                with gr.Row(equal_height=False):
                    timeline = gr.Plot(label="Timeline", show_label=False, format="png", scale=3,
                                       elem_id="avemo-timeline")
                    circumplex = gr.Plot(label="Valence / arousal", show_label=False, format="png", scale=2,
                                         elem_id="avemo-circumplex")
                explain_note = gr.Markdown(elem_id="avemo-explain-note")
                gallery = gr.Gallery(label="Explanations (click a picture to enlarge it)", columns=2, height=560,
                                     preview=True, object_fit="contain", visible=False,
                                     elem_id="avemo-explanations")

        outputs = [status, fused, speech, face, timeline, circumplex, analysed]

        def show_explanations(path, enabled):
            pictures, note = handlers.explain(path, enabled)
            return gr.update(value=pictures, visible=bool(pictures)), note

        def then_explain(event):
            event.then(show_explanations, [analysed, explain_box], [gallery, explain_note], show_progress="minimal")

        then_explain(upload_button.click(handlers.analyse_file, upload, outputs))
        then_explain(record_button.click(handlers.analyse_file, recording, outputs))
        then_explain(recording.stop_recording(handlers.analyse_file, recording, outputs))
        then_explain(photo_button.click(handlers.analyse_photo, photo, outputs))
        live_image.stream(handlers.live_frame, [live_image, live_state], [live_label, live_faces, live_state],
                          stream_every=0.3, time_limit=600, concurrency_limit=4, show_progress="hidden")
    return app


def launch_kwargs(host: str, port: int) -> dict[str, Any]:
    """The settings every launch uses: offline (no share link, no server-side rendering through Node), the
    errors shown by the page itself, uploads up to 200 MB."""
    return {"server_name": host, "server_port": port, "share": False, "ssr_mode": False, "show_error": False,
            "max_file_size": "200mb", "css": CSS}


def check_port(host: str, port: int) -> None:
    """Fail now, in one line, when ``host:port`` cannot be listened on.

    Raises:
        ParameterError: for a port outside 1..65535, or an address that is taken or not on this machine.
    """
    if not 0 < port < 65536:
        raise ParameterError(f"--port must be in 1..65535, got {port}")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no reason
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ParameterError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick a free port with "
                                 "--port, or another --host") from None


def run_demo_command(args) -> int:
    """``avemo demo``: load the models once, then serve the page on ``args.host:args.port`` until Ctrl-C.

    Raises:
        ParameterError: when the port is taken or not valid.
        AssetNotFoundError, CheckpointError: when a model cannot be loaded.
    """
    check_port(args.host, args.port)  # before the models load, so a taken port fails at once
    engine = InferenceEngine(args.model, args.face_model)
    app = build_app(engine)
    print(f"avemo demo: open http://{args.host}:{args.port} in a browser (Ctrl-C stops it)", flush=True)
    try:
        app.launch(**launch_kwargs(args.host, args.port))
    except OSError as exc:
        raise ParameterError(f"cannot listen on {args.host}:{args.port} ({one_line(exc)}); pick a free port "
                             "with --port") from None
    finally:
        engine.close()
    return 0


__all__ = ["AnalysisView", "DemoHandlers", "LiveFaces", "build_app", "check_port", "launch_kwargs",
           "run_demo_command"]
