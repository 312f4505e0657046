"""The running mode of an inference call, in the manner of MediaPipe Tasks: what kind of input it reads and how its
results come back."""

from __future__ import annotations

import enum


class RunningMode(enum.StrEnum):
    """How an input is analysed; compares equal to its string value.

    - ``IMAGE``: one picture, every face in it (``predict_image``; an image file).
    - ``VIDEO``: a whole video, faces tracked across its frames and pooled, fused with its audio track
      (``predict_frames``; a video file).
    - ``AUDIO_CLIP``: a whole recording, the speech model on its windows (``predict_signal``; an audio file, or a
      video with ``modality="speech"``).
    - ``STREAM``: a live stream of audio chunks and frames; a result each time a window completes, returned and
      passed to a callback (``open_session``).
    """

    IMAGE = "image"
    VIDEO = "video"
    AUDIO_CLIP = "audio_clip"
    STREAM = "stream"
