"""Media input: decode any container to float32 mono at a chosen rate, and video frames."""
from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio, validate_signal

__all__ = ["TARGET_SAMPLING_RATE", "load_audio", "validate_signal"]
