"""BlazePose person detector and BlazeFace face detectors run on square regions of the photo."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ssd, tflite
from .geometry import Roi, crop, to_photo


@dataclass
class PoseDetection:
    """One raw person detection in photo pixels.

    keypoints [4, 2]: mid-hip, full-body scale point, mid-shoulder, upper-body scale point.
    face: the detector's box centre, which is the face centre.
    """

    score: float
    face: np.ndarray
    keypoints: np.ndarray


def detect_poses(rgb: np.ndarray, region: Roi, min_score: float) -> list[PoseDetection]:
    """Run the pose detector on one square region (zeros outside the photo); detections in photo px."""
    spec = ssd.POSE
    tensor, m = crop(rgb, region, spec.input_size)
    raw_boxes, raw_scores = by_width(tflite.run("pose_detection", tensor * 2.0 - 1.0), 12)
    boxes, kps, scores = ssd.decode(spec, raw_boxes, raw_scores, min_score)
    centres = to_photo(m, (boxes[:, :2] + boxes[:, 2:]) / 2.0)
    kps = to_photo(m, kps)
    return [PoseDetection(float(s), c, k) for s, c, k in zip(scores, centres, kps)]


def detect_faces(rgb: np.ndarray, region: Roi, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-range face detector on one square region -> (boxes [M,4], keypoints [M,6,2], scores) in photo px."""
    spec = ssd.FACE_FULL
    tensor, m = crop(rgb, region, spec.input_size)
    raw_boxes, raw_scores = by_width(tflite.run("face_detection_full_range_sparse", tensor * 2.0 - 1.0), 16)
    boxes, kps, scores = ssd.decode(spec, raw_boxes, raw_scores, min_score)
    corners = to_photo(m, boxes.reshape(-1, 2, 2)).reshape(-1, 4)
    return corners, to_photo(m, kps), scores


def by_width(outputs: list[np.ndarray], coords: int) -> tuple[np.ndarray, np.ndarray]:
    """(regressors, score logits) picked by their last dimension, not by output order."""
    boxes = next(o for o in outputs if o.shape[-1] == coords)
    scores = next(o for o in outputs if o.shape[-1] == 1)
    return boxes, scores
