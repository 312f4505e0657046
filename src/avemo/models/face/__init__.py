"""Face encoders over aligned face crops (``input_kind="image"``: ``x`` is ``(batch, channels, height, width)``,
pixel values in [0, 1]).

Importing this package registers ``face_cnn``, ``face_resnet`` and ``face_mobilenet_v2``.
"""
from avemo.models.face.cnn import FaceCNN, FaceCNNConfig
from avemo.models.face.mobilenet_v2 import FaceMobileNetV2, FaceMobileNetV2Config
from avemo.models.face.resnet import FaceResNet, FaceResNetConfig

__all__ = ["FaceCNN", "FaceCNNConfig", "FaceMobileNetV2", "FaceMobileNetV2Config", "FaceResNet", "FaceResNetConfig"]
