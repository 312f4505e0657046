"""`avemo` keeps MediaPipe's and TensorFlow Lite's native log lines off stderr unless --verbose, and its own
messages still reach stderr after the face model loaded (real processes: the lines come from C++ on fd 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import avemo
from avemo.io.native_logs import NATIVE_LOGS_ENV

#: What the native libraries print while the face landmarker loads (absl, TensorFlow Lite).
NATIVE_MARKERS = ("W0000", "XNNPACK", "inference_feedback_manager", "InitGoogle")


def _avemo(*argv: str) -> subprocess.CompletedProcess:
    """``python -m avemo.cli ARGV`` on this checkout's code, quiet by default."""
    env = {k: v for k, v in os.environ.items() if k != NATIVE_LOGS_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(avemo.__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "avemo.cli", *argv], capture_output=True, text=True, env=env,
                          timeout=300)


def _native_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(marker in line for marker in NATIVE_MARKERS)]


def test_predict_on_a_face_keeps_native_logs_off_stderr(face_frame, face_landmarker, tmp_path):
    missing = tmp_path / "missing.jpg"
    result = _avemo("predict", str(face_frame), str(missing))
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(f"{face_frame}: ") and "face box" in result.stdout  # MediaPipe found the face
    assert _native_lines(result.stderr) == []
    assert f"{missing}: error: " in result.stderr and "avemo: 1 of 2 file(s) failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_verbose_lets_native_logs_through(face_frame, face_landmarker):
    result = _avemo("--verbose", "predict", str(face_frame))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{face_frame}: ")  # the lines may appear on stderr (not required)
