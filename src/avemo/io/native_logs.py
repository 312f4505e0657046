"""Third-party native log lines (MediaPipe's absl/glog, TensorFlow Lite) kept off the user's stderr.

MediaPipe and TensorFlow Lite log from C++ straight to file descriptor 2 while their models are created
(``W0000 … inference_feedback_manager.cc …``, ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``), and
neither Python's logging nor their environment variables stop all of it. So the calls that create those models run
inside :func:`native_logs_quieted`, which points fd 2 at ``/dev/null`` for the duration of the call and restores
it afterwards: avemo's own messages and errors still reach stderr. (Measured with mediapipe 1.2: every line comes
while the face landmarker is created; its first and later inferences print nothing.)

Quiet is the default. :func:`show_native_logs` (``avemo --verbose``) lets the lines through; the switch lives in
the environment variable :data:`NATIVE_LOGS_ENV`, so the worker processes of a run (batch, serve) follow it.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

#: Environment variable of the switch: ``"1"`` shows third-party native log lines; unset or anything else hides
#: them.
NATIVE_LOGS_ENV = "AVEMO_NATIVE_LOGS"
#: Log-level variables read by the native libraries when they load: errors and worse only.
QUIET_LEVELS = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}

_lock = threading.Lock()
_depth = 0  # how many threads are inside native_logs_quieted(); fd 2 is restored when the last one leaves
_saved_stderr: int | None = None  # a duplicate of the real fd 2 while it points at /dev/null


def show_native_logs(shown: bool = True) -> None:
    """Let third-party native log lines reach stderr (``shown=True``) or keep them off it (the default).

    Set it before the models load; it holds for this process and the worker processes it starts.
    """
    if shown:
        os.environ[NATIVE_LOGS_ENV] = "1"
    else:
        os.environ.pop(NATIVE_LOGS_ENV, None)


def native_logs_shown() -> bool:
    """Whether third-party native log lines reach stderr (see :func:`show_native_logs`)."""
    return os.environ.get(NATIVE_LOGS_ENV) == "1"


@contextmanager
def native_logs_quieted() -> Iterator[None]:
    """Run the block with third-party native log lines kept off stderr, unless :func:`native_logs_shown`.

    Import the native library and create its models inside the block: on entering, the log-level variables of
    :data:`QUIET_LEVELS` are set (those the user set are kept) and fd 2 points at ``/dev/null``; on leaving, fd 2
    is the real stderr again. Safe to nest and to use from several threads at once (fd 2 is process-wide: for
    the block's duration, writes to stderr from other threads are dropped too).
    """
    if native_logs_shown():
        yield
        return
    for name, level in QUIET_LEVELS.items():
        os.environ.setdefault(name, level)
    _silence_stderr()
    try:
        yield
    finally:
        _restore_stderr()


def _silence_stderr() -> None:
    global _depth, _saved_stderr
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        _flush_stderr()
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 (a daemon): nothing to silence
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            os.close(saved)
            return
        os.dup2(devnull, 2)
        os.close(devnull)
        _saved_stderr = saved


def _restore_stderr() -> None:
    global _depth, _saved_stderr
    with _lock:
        _depth -= 1
        if _depth > 0 or _saved_stderr is None:
            return
        _flush_stderr()
        os.dup2(_saved_stderr, 2)
        os.close(_saved_stderr)
        _saved_stderr = None


def _flush_stderr() -> None:
    """Write out what Python buffered for stderr, so that it lands where fd 2 pointed when it was written."""
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # no stderr, or a closed one
        pass
