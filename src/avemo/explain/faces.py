"""Which pixels of a face crop mattered: integrated gradients (captum) on the face network, over the exact crop it
sees, and the crops themselves (the engine's detector and alignment, redone for the faces being explained).

The face system classifies a ``side x side`` aligned gray crop (FER2013 framing) through its centre ``crop x crop``
window scaled to [0, 1]; the attribution is computed on that window (baseline: a black image) and placed back in
the full crop for display. Test-time views that the prediction may average are not explained separately.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterable

import numpy as np
import torch

from avemo.errors import ParameterError
from avemo.features.face.align import align_face
from avemo.inference.face import is_face_crop
from avemo.inference.results import FaceResult, FrameResult
from avemo.io.video import iter_video_frames
from avemo.train.predict import grouped_softmax

METHOD = ("captum IntegratedGradients on the face network's logit of the explained class, over the centre crop of "
          "the aligned gray face crop the network sees (baseline: black); shown: |attribution|, smoothed")


@dataclasses.dataclass
class FaceCrop:
    """A face to explain: its ``box`` ``(x0, y0, x1, y1)`` in pixels of the input (of the frame, for a video),
    the aligned gray ``crop`` ``(side, side)`` uint8 the network was given, and the video ``time`` (s) it is from."""

    box: tuple[float, float, float, float]
    crop: np.ndarray
    time: float | None = None


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def image_crops(engine: Any, rgb: np.ndarray, boxes: Iterable[tuple[float, ...]]) -> list[FaceCrop | None]:
    """The crop of each face of an image the engine reported (``boxes``, in its order): the detector is run again
    and each box matched to the detection it overlaps most (``None`` where none does); a small square image the
    engine took as a face crop whole (no detection) is resized as the engine did."""
    import cv2

    side = engine.face.system.spec.side
    with engine.image_detectors.borrow() as detector:
        detections = detector.process_image(rgb).faces
    out: list[FaceCrop | None] = []
    for box in boxes:
        scored = [(_iou(tuple(box), tuple(d.box)), d) for d in detections]
        best = max(scored, key=lambda s: s[0], default=(0.0, None))
        if best[1] is not None and best[0] > 0.3:
            out.append(FaceCrop(tuple(float(v) for v in box), align_face(rgb, best[1], size=side, grayscale=True)))
        elif not detections and is_face_crop(rgb):
            gray = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (side, side), interpolation=cv2.INTER_AREA)
            out.append(FaceCrop(tuple(float(v) for v in box), gray))
        else:
            out.append(None)
    return out


def best_frame(frames: list[FrameResult], face: FaceResult, target: str) -> tuple[float, FaceResult] | None:
    """``(time, face in that frame)`` of the frame where the tracked ``face`` gave ``target`` its highest
    probability, or ``None`` when it is in no frame."""
    seen = [(frame.time, f) for frame in frames for f in frame.faces if f.track_id == face.track_id]
    if not seen:
        return None
    return max(seen, key=lambda s: s[1].probabilities.get(target, 0.0))


def video_crop(engine: Any, path: str | os.PathLike, fps: float, time_s: float,
               box: tuple[float, ...]) -> FaceCrop | None:
    """The crop of the face at ``box`` in the frame at ``time_s`` of a video sampled at ``fps`` (as the engine
    sampled it), or ``None`` when the frame or the face is not found again."""
    for frame in iter_video_frames(path, fps=fps):
        if frame.time >= time_s - 1e-6:
            if abs(frame.time - time_s) > 0.5 / fps:
                return None
            crop = image_crops(engine, frame.image, [box])[0]
            if crop is not None:
                crop.time = float(frame.time)
            return crop
    return None


def network_input(system: Any, crop: np.ndarray) -> tuple[torch.Tensor, int]:
    """``(x (1, 1, c, c) in [0, 1], top)`` : the centre window of ``crop`` the face network sees, and its offset."""
    side = system.spec.side
    crop = np.asarray(crop)
    if crop.shape != (side, side):
        raise ParameterError(f"face crop must be ({side}, {side}) gray, got shape {crop.shape}")
    window = system.augment.config.crop or side
    top = (side - window) // 2
    x = torch.from_numpy(crop[top:top + window, top:top + window].astype(np.float32) / 255.0)[None, None]
    return x, top


def face_saliency(system: Any, crop: np.ndarray, target: str, steps: int = 32) -> dict[str, Any]:
    """Integrated gradients of the face network's ``target`` logit over an aligned gray ``crop`` ``(side, side)``.

    Returns:
        ``{"saliency": (side, side) in [0, 1] (|attribution|, smoothed, 0 outside the window the network sees),
        "attribution": (side, side) signed, "probability": the network's softmax probability of target on the
        window, "window": (top, size), "convergence_delta": float}``.

    Raises:
        ParameterError: for a class the system lacks, an untrained system or a crop of the wrong shape.
    """
    import cv2
    from captum.attr import IntegratedGradients

    if target not in system.classes:
        raise ParameterError(f"class {target!r} is not one of the face model's {list(system.classes)}")
    model = system.model_
    if model is None:
        raise ParameterError("the face system is not trained")
    x, top = network_input(system, crop)
    index = list(system.classes).index(target)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            ig = IntegratedGradients(lambda images: model(images))
            attribution, delta = ig.attribute(x, baselines=torch.zeros_like(x), target=index, n_steps=steps,
                                              return_convergence_delta=True)
        with torch.no_grad():
            probability = float(grouped_softmax(model(x), system.output_groups)[0, index])  # the main head's
    finally:
        model.train(was_training)
    side, window = crop.shape[0], x.shape[-1]
    signed = np.zeros((side, side), np.float32)
    signed[top:top + window, top:top + window] = attribution[0, 0].detach().numpy()
    magnitude = cv2.GaussianBlur(np.abs(signed), (0, 0), sigmaX=max(side / 48.0, 0.5))
    peak = float(magnitude.max())
    saliency = magnitude / peak if peak > 0 else magnitude
    return {"saliency": saliency, "attribution": signed, "probability": probability, "window": (top, window),
            "convergence_delta": float(delta.abs().sum())}
