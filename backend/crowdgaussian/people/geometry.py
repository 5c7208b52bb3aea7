"""Square / rotated crops as 2x3 affines (pixels), so every model output maps back to the photo exactly."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


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

    def corners(self) -> np.ndarray:
        """[4, 2] photo-pixel corners of the region."""
        inv = cv2.invertAffineTransform(self.to_tensor(1))
        unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64)
        return unit @ inv[:, :2].T + inv[:, 2]


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
    src = rgb
    if k < 0.5:  # shrink first with area averaging so the warp does not alias
        f = min(1.0, 2.0 * k)
        src = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        sx, sy = src.shape[1] / rgb.shape[1], src.shape[0] / rgb.shape[0]
        warp_m = m @ np.array([[1 / sx, 0, 0], [0, 1 / sy, 0], [0, 0, 1]])
    else:
        warp_m = m
    img = cv2.warpAffine(src, warp_m, (out, out), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)
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


def square_tiles(width: int, height: int, levels: tuple[int, ...] = (1, 2, 3),
                 overlap: float = 1.3) -> list[Roi]:
    """Square regions: the whole photo, then n x n overlapping tiles of side long/n*overlap per level."""
    long_side = max(width, height)
    rois = []
    for n in levels:
        side = long_side if n == 1 else long_side / n * overlap
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
