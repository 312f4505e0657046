"""Face front end: model assets, detection (MediaPipe FaceLandmarker / OpenCV Haar), alignment, tracking.

MediaPipe itself is imported only when a :class:`FaceLandmarkerDetector` is built.
"""
from avemo.features.face.align import DEFAULT_EYE_Y, DEFAULT_MARGIN, align_face, alignment_matrix
from avemo.features.face.assets import FACE_LANDMARKER, Asset, resolve_asset, resolve_face_landmarker
from avemo.features.face.detection import (FaceAnalysis, FaceDetection, FaceLandmarkerDetector,
                                           create_face_detector)
from avemo.features.face.haar import HaarFaceDetector
from avemo.features.face.tracking import FaceTracker, box_iou

__all__ = ["Asset", "DEFAULT_EYE_Y", "DEFAULT_MARGIN", "FACE_LANDMARKER", "FaceAnalysis", "FaceDetection",
           "FaceLandmarkerDetector", "FaceTracker", "HaarFaceDetector", "align_face", "alignment_matrix", "box_iou",
           "create_face_detector", "resolve_asset", "resolve_face_landmarker"]
