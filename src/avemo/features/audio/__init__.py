"""Audio feature extractors; importing this package registers them by name.

``logmel``, ``mfcc``, ``chroma`` (librosa), ``egemaps``, ``egemaps_lld`` (openSMILE) and ``whisper``
(Whisper tiny.en encoder through CTranslate2), ``whisper_layers`` (its hidden states, in PyTorch), ``whisper_stats``
(their clip statistics) and ``whisper_frames`` (their pooled frames, for an attentive head). Build one
with :func:`avemo.features.create_extractor`.
"""

from avemo.features.audio.egemaps import EgemapsConfig, EgemapsExtractor, EgemapsLldExtractor
from avemo.features.audio.spectral import (ChromaConfig, ChromaExtractor, LogMelConfig, LogMelExtractor,
                                           MfccConfig, MfccExtractor)
from avemo.features.audio.whisper import WhisperConfig, WhisperExtractor, whisper_model_dir
from avemo.features.audio.whisper_layers import WhisperLayersConfig, WhisperLayersExtractor

__all__ = ["ChromaConfig", "ChromaExtractor", "EgemapsConfig", "EgemapsExtractor", "EgemapsLldExtractor",
           "LogMelConfig", "LogMelExtractor", "MfccConfig", "MfccExtractor", "WhisperConfig",
           "WhisperExtractor", "WhisperLayersConfig", "WhisperLayersExtractor", "whisper_model_dir"]
