"""Models registered by name: speech encoders, face encoders, fusion heads."""
from avemo.models.registry import EmotionModel, ModelConfig, create_model, list_models, register_model

__all__ = ["EmotionModel", "ModelConfig", "create_model", "list_models", "register_model"]
