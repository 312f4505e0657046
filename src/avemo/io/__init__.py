"""Media input: what kind a file is (:func:`probe_media`), audio from any container as float32 mono at a chosen rate,
images, and video frames (with the audio track in the same pass)."""
from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio, validate_signal
from avemo.io.media import MediaInfo, probe_media

__all__ = ["MediaInfo", "TARGET_SAMPLING_RATE", "load_audio", "probe_media", "validate_signal"]
