"""Face confirmation: a real face of the right size must sit on a skeleton's nose; faces as person seeds.

The pose detector and landmark model also fire on hands, flowers and buildings; both
BlazeFace models looking at the head crop reject those. Two crops / two models give a
profile or shouting face (weak for one model) a second chance. The tests are scaled by the
face box (the nose inside its inscribed circle) and by the skeleton's larger head yardstick
(neck length or ear span), so a partly hidden person's squashed skeleton still passes.
Faces found over the whole photo seed crops for people the pose detector misses; those need
both models to agree, since the full-range model alone fires on fists and clothing patterns.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ssd, tflite
from .detect import by_width, detect_faces
from .geometry import Roi, crop, square_tiles, to_photo

MIN_FACE_SCORE = 0.6  # at 0.5 a flower and a pagoda roof passed; real faces scored >= 0.7
MAX_OFFSET = 0.5  # the nose lies within this x face width of the face centre (the box's inscribed circle)
FACE_WIDTH = (0.5, 1.6)  # plausible face width in head sizes
HEAD_PATCH = 0.5  # a face under this x a found face's width, on that face's head, is part of it
HEAD_MARGIN = 0.25  # the head (ears, hair) reaches this x face width beyond the face box
NOSE, L_EAR, R_EAR, L_SHOULDER, R_SHOULDER = 0, 7, 8, 11, 12


@dataclass
class Face:
    """A detected face in photo px: box x0 y0 x1 y1 and score."""

    box: np.ndarray
    score: float

    @property
    def centre(self) -> np.ndarray:
        """Box centre in px."""
        return (self.box[:2] + self.box[2:]) / 2.0

    @property
    def width(self) -> float:
        """Box width in px."""
        return float(self.box[2] - self.box[0])


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


def head_size(points: np.ndarray) -> float:
    """A skeleton's head size in px: the larger of its neck length and its ear span.

    Each alone shrinks on real people: the neck when the head leans forward or the shoulders
    are placed high (seen on partly hidden people), the ear span when the head turns.
    """
    return max(neck_length(points), float(np.linalg.norm(points[L_EAR] - points[R_EAR])))


def find_face(rgb: np.ndarray, points: np.ndarray) -> Face | None:
    """The best face of plausible size on a skeleton's nose."""
    return face_near(rgb, points[NOSE], head_size(points))


def face_near(rgb: np.ndarray, nose: np.ndarray, head: float) -> Face | None:
    """The best face of plausible size centred near `nose` (short range on a 2x, full range on a 3x head crop)."""
    head = max(float(head), 4.0)
    cx, cy = float(nose[0]), float(nose[1])
    found = [_short_range(rgb, Roi(cx, cy, 2.0 * head))]
    boxes, _, scores = detect_faces(rgb, Roi(cx, cy, 3.0 * head), MIN_FACE_SCORE)
    found.append((boxes, scores))
    best: Face | None = None
    for boxes, scores in found:
        for box, score in zip(boxes, scores):
            face = Face(box, float(score))
            if fits(face, nose, head) and (best is None or face.score > best.score):
                best = face
    return best


def on_nose(face: Face, nose: np.ndarray) -> bool:
    """Whether the nose lies inside the face box's inscribed circle."""
    return bool(np.linalg.norm(face.centre - nose) <= MAX_OFFSET * face.width)


def fits(face: Face, nose: np.ndarray, head: float) -> bool:
    """Whether `face` sits on the nose (on_nose) and has a plausible size for `head`."""
    return on_nose(face, nose) and FACE_WIDTH[0] <= face.width / max(head, 4.0) <= FACE_WIDTH[1]


def second_look(rgb: np.ndarray, face: Face) -> bool:
    """Whether the short-range model, on a crop sized by the face itself, sees a face there too.

    A face found with no pose detection behind it (the full-range model alone) also fires on
    fists and clothing patterns; two models agreeing on it does not.
    """
    boxes, _ = _short_range(rgb, Roi(float(face.centre[0]), float(face.centre[1]), 2.0 * face.width))
    return any(fits(Face(b, 1.0), face.centre, face.width) for b in boxes)


def same_face(a: Face | None, b: Face | None) -> bool:
    """Whether two face boxes are one face (centres within half the smaller width): one face, one
    person. No face (a person seen from behind, or recovered) is nobody's face."""
    return a is not None and b is not None and bool(np.linalg.norm(a.centre - b.centre) < 0.5 * min(a.width, b.width))


def within_head(small: Face, face: Face | None) -> bool:
    """Whether `small` is a face-like patch of `face`'s own head (an ear, an eye, hair), not another
    person: under half its width and centred within a quarter face width of its box. A face that
    small is further away, so behind that head, which would hide it."""
    return face is not None and small.width < HEAD_PATCH * face.width and bool(
        np.all(np.abs(small.centre - face.centre) <= (0.5 + HEAD_MARGIN) * face.width))


def on_head(point: np.ndarray, face: Face | None) -> bool:
    """Whether a photo point lies on `face`'s head: its box grown by HEAD_MARGIN face widths."""
    if face is None:
        return False
    r = HEAD_MARGIN * face.width
    return bool(face.box[0] - r <= point[0] <= face.box[2] + r and face.box[1] - r <= point[1] <= face.box[3] + r)


def faces_in_photo(rgb: np.ndarray) -> list[Face]:
    """Every confident face (full-range model on the whole photo and tiles), one per face, best first.

    Seeds for people the pose detector misses or gives a wrong skeleton: a face is the part of a
    partly hidden person that the face check needs anyway.
    """
    found: list[Face] = []
    for roi in square_tiles(rgb.shape[1], rgb.shape[0]):
        boxes, _, scores = detect_faces(rgb, roi, MIN_FACE_SCORE)
        found += [Face(box, float(score)) for box, score in zip(boxes, scores)]
    unique: list[Face] = []
    for face in sorted(found, key=lambda f: -f.score):
        if not any(same_face(face, u) for u in unique):
            unique.append(face)
    return unique
