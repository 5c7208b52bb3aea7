"""The detections picture: tinted masks, boxes, skeletons and ids over the photo."""
from __future__ import annotations

import cv2
import numpy as np

from ..image_io import frame_side
from ..types import Person, Photo

VISIBLE = 0.5
# BlazePose skeleton edges (POSE_LANDMARKS indices)
EDGES = ((0, 2), (0, 5), (2, 7), (5, 8), (9, 10), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
         (15, 17), (15, 19), (15, 21), (16, 18), (16, 20), (16, 22), (11, 23), (12, 24), (23, 24),
         (23, 25), (25, 27), (27, 29), (27, 31), (24, 26), (26, 28), (28, 30), (28, 32))


def palette(i: int) -> tuple[int, int, int]:
    """A distinct, saturated RGB colour for person i: hues a golden-ratio turn apart, so any
    first n people stay far apart (the first six at least 32 degrees; a 94-degree step gave 16)."""
    hue = int((i * 0.618034 % 1.0) * 180)
    hsv = np.array([[[hue, 220, 255]]], np.uint8)
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def draw_skeleton(img: np.ndarray, keypoints: np.ndarray, colour: tuple[int, int, int], thick: int) -> None:
    """Draw visible bones as solid lines and hidden ones thin, keypoints as dots (in place)."""
    pts = np.round(keypoints[:, :2]).astype(int)
    for a, b in EDGES:
        seen = min(keypoints[a, 2], keypoints[b, 2]) >= VISIBLE
        cv2.line(img, tuple(pts[a]), tuple(pts[b]), colour if seen else (128, 128, 128),
                 thick if seen else max(1, thick // 2), cv2.LINE_AA)
    for p, v in zip(pts, keypoints[:, 2]):
        cv2.circle(img, tuple(p), thick + 1, colour if v >= VISIBLE else (128, 128, 128), -1, cv2.LINE_AA)


def draw_detections(photo: Photo, people: list[Person]) -> np.ndarray:
    """uint8 RGB picture of the working image with each person's mask tinted, bbox, skeleton and id."""
    img = photo.rgb.astype(np.float32)
    for p in people:
        col = np.array(palette(p.id), np.float32)
        img[p.mask] = img[p.mask] * 0.55 + col * 0.45
    img = np.clip(img, 0, 255).astype(np.uint8)
    thick = max(1, round(frame_side(img.shape[1], img.shape[0]) / 400))
    for p in people:
        col = palette(p.id)
        x0, y0, x1, y1 = np.round(p.bbox).astype(int)
        cv2.rectangle(img, (x0, y0), (x1, y1), col, thick, cv2.LINE_AA)
        draw_skeleton(img, p.keypoints, col, thick)
        label = f"{p.id} {p.score:.2f}" + (" cut" if p.truncated else "")
        cv2.putText(img, label, (x0 + 3, max(y0 - 4, 12 * thick)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thick, col, thick, cv2.LINE_AA)
    return img
