"""Face confirmation: a real face of the right size must sit on a skeleton's nose.

The pose detector and landmark model also fire on hands, flowers and buildings; both
BlazeFace models looking at the head crop reject those. Two crops / two models give a
profile or shouting face (weak for one model) a second chance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ssd, tflite
from .detect import by_width, detect_faces
from .geometry import Roi, crop, to_photo

MIN_FACE_SCORE = 0.6  # at 0.5 a flower and a pagoda roof passed; real faces scored >= 0.7
MAX_OFFSET = 0.25  # face centre within this x neck length of the nose
FACE_WIDTH = (0.5, 1.6)  # plausible face width in neck lengths (nose to mid-shoulder)
NOSE, L_SHOULDER, R_SHOULDER = 0, 11, 12


@dataclass
class Face:
    """A detected face in photo px: box x0 y0 x1 y1, centre and score."""

    box: np.ndarray
    centre: np.ndarray
    score: float


def neck_length(points: np.ndarray) -> float:
    """Nose to mid-shoulder distance in px: the head-size yardstick of a skeleton."""
    return float(max(np.linalg.norm(points[NOSE] - (points[L_SHOULDER] + points[R_SHOULDER]) / 2), 4.0))


def _short_range(rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, np.ndarray]:
    """Short-range BlazeFace on one square region -> (boxes [M,4] photo px, scores)."""
    spec = ssd.FACE_SHORT
    tensor, m = crop(rgb, roi, spec.input_size)
    raw_boxes, raw_scores = by_width(tflite.run("face_detection_short_range", tensor * 2.0 - 1.0), 16)
    boxes, _, scores = ssd.decode(spec, raw_boxes, raw_scores, MIN_FACE_SCORE)
    return to_photo(m, boxes.reshape(-1, 2, 2)).reshape(-1, 4), scores


def find_face(rgb: np.ndarray, points: np.ndarray) -> Face | None:
    """The best face of plausible size on a skeleton's nose."""
    return face_near(rgb, points[NOSE], neck_length(points))


def face_near(rgb: np.ndarray, nose: np.ndarray, neck: float) -> Face | None:
    """The best face of plausible size centred near `nose` (short range on a 2x, full range on a 3x neck crop)."""
    neck = max(float(neck), 4.0)
    cx, cy = float(nose[0]), float(nose[1])
    found = [_short_range(rgb, Roi(cx, cy, 2.0 * neck))]
    boxes, _, scores = detect_faces(rgb, Roi(cx, cy, 3.0 * neck), MIN_FACE_SCORE)
    found.append((boxes, scores))
    best: Face | None = None
    for boxes, scores in found:
        for box, score in zip(boxes, scores):
            centre = (box[:2] + box[2:]) / 2.0
            width = (box[2] - box[0]) / neck
            if (np.linalg.norm(centre - nose) <= MAX_OFFSET * neck and FACE_WIDTH[0] <= width <= FACE_WIDTH[1]
                    and (best is None or score > best.score)):
                best = Face(box, centre, float(score))
    return best
