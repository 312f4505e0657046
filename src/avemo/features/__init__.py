"""Feature extractors (one interface, registered by name) and the on-disk feature cache."""
from avemo.features.base import (FeatureExtractor, ExtractorConfig, create_extractor, list_extractors,
                                 register_extractor)
from avemo.features.store import FeatureStore

__all__ = ["FeatureExtractor", "ExtractorConfig", "FeatureStore", "create_extractor", "list_extractors",
           "register_extractor"]
