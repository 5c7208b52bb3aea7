"""Square / rotated crops as 2x3 affines (pixels), so every model output maps back to the photo exactly."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..image_io import frame_side


@dataclass(frozen=True)
class Roi:
    """A square region of the photo: centre (px), side (px), rotation (radians, mediapipe's sign)."""

    cx: float
    cy: float
    size: float
    rotation: float = 0.0

    def to_tensor(self, out: int) -> np.ndarray:
        """2x3 affine taking photo pixels to `out`-px tensor pixels."""
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        k = out / self.size
        rot = np.array([[c, s], [-s, c]]) * k  # R(-rotation) scaled
        t = np.array([out / 2.0, out / 2.0]) - rot @ np.array([self.cx, self.cy])
        return np.hstack([rot, t[:, None]])


def roi_from_points(centre: np.ndarray, scale_point: np.ndarray, enlarge: float) -> Roi:
    """Mediapipe's alignment ROI: centred on `centre`, side 2|scale-centre|*enlarge, upright along them."""
    d = np.asarray(scale_point, dtype=np.float64) - np.asarray(centre, dtype=np.float64)
    rotation = np.pi / 2 - np.arctan2(-d[1], d[0])
    rotation = (rotation + np.pi) % (2 * np.pi) - np.pi
    return Roi(float(centre[0]), float(centre[1]), float(2.0 * np.hypot(*d) * enlarge), float(rotation))


def crop(rgb: np.ndarray, roi: Roi, out: int, border: int = cv2.BORDER_CONSTANT) -> tuple[np.ndarray, np.ndarray]:
    """(`out`x`out` float32 RGB crop in 0..1, its photo->tensor affine); big reductions are pre-shrunk (anti-alias)."""
    m = roi.to_tensor(out)
    k = out / roi.size
    if k >= 0.5:
        img = cv2.warpAffine(rgb, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)
        return img.astype(np.float32) / 255.0, m
    # shrink only the ROI's bounding box with area averaging, then warp that (no aliasing, bounded cost)
    h, w = rgb.shape[:2]
    half = roi.size * (abs(np.cos(roi.rotation)) + abs(np.sin(roi.rotation))) / 2 + 2
    x0, y0 = max(0, int(roi.cx - half)), max(0, int(roi.cy - half))
    x1, y1 = min(w, int(np.ceil(roi.cx + half)) + 1), min(h, int(np.ceil(roi.cy + half)) + 1)
    if x1 <= x0 or y1 <= y0:  # the region lies wholly outside the photo
        return np.zeros((out, out, 3), np.float32), m
    sub = rgb[y0:y1, x0:x1]
    f = 2.0 * k
    small = cv2.resize(sub, (max(1, round(sub.shape[1] * f)), max(1, round(sub.shape[0] * f))),
                       interpolation=cv2.INTER_AREA)
    sx, sy = small.shape[1] / sub.shape[1], small.shape[0] / sub.shape[0]
    small_to_photo = np.array([[1 / sx, 0, x0 + 0.5 / sx - 0.5], [0, 1 / sy, y0 + 0.5 / sy - 0.5], [0, 0, 1]])
    img = cv2.warpAffine(small, m @ small_to_photo, (out, out), flags=cv2.INTER_LINEAR, borderMode=border,
                         borderValue=0)
    return img.astype(np.float32) / 255.0, m


def to_photo(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map [..., 2] tensor pixels back to photo pixels through the inverse of affine `m`."""
    inv = cv2.invertAffineTransform(m)
    return pts @ inv[:, :2].T + inv[:, 2]


def tensor_map_to_photo(m: np.ndarray, values: np.ndarray, shape: tuple[int, int], fill: float) -> np.ndarray:
    """Warp a square tensor-space map (any size; `m` is for its own size) back onto the photo grid."""
    return cv2.warpAffine(values.astype(np.float32), m, (shape[1], shape[0]),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def square_tiles(width: int, height: int, levels: tuple[int, ...] = (1, 2, 3, 4),
                 overlap: float = 1.3, min_side: float = 112.0) -> list[Roi]:
    """Square regions: the whole photo, then overlapping tiles of side frame/n*overlap per level,
    where the frame is `frame_side`: the longer side, or 16/9 of the shorter one if less (in a
    panorama or a tall strip people are sized by the short side, as in a 16:9 photo).

    Levels whose tiles would be smaller than `min_side` px are skipped: blowing up a few
    pixels adds cost, not information.
    """
    long_side = max(width, height)
    frame = frame_side(width, height)
    rois = []
    for n in levels:
        side = long_side if n == 1 else frame / n * overlap
        if n > 1 and side < min_side:
            continue
        xs = _centres(width, side)
        ys = _centres(height, side)
        rois += [Roi(float(x), float(y), float(side)) for y in ys for x in xs]
    return rois


def _centres(extent: int, side: float) -> np.ndarray:
    """Evenly spaced tile centres covering 0..extent with tiles of `side` (>= 30 % overlap)."""
    if extent <= side:
        return np.array([(extent - 1) / 2.0])
    count = int(np.ceil((extent - side) / (0.7 * side))) + 1
    return np.linspace(side / 2.0 - 0.5, extent - side / 2.0 - 0.5, count)
