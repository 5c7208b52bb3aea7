"""Per-person masks that never overlap: landmark segmentation split by ownership of visible limbs.

The landmark model's segmentation covers everybody inside its crop, so it is not an
instance mask. A pixel goes to the person whose *visible* skeleton (torso polygon, limbs
with both ends visible) is nearest in units of that person's torso size; hidden limbs claim
nothing, which is what makes the front person win where people overlap.
"""
from __future__ import annotations

import cv2
import numpy as np

from .draw import EDGES

VISIBLE = 0.5
REACH = 0.6  # a person's pixels lie within this many torso sizes of their visible skeleton
TORSO = (11, 12, 24, 23)  # shoulders and hips, polygon order
MIN_PIECE = 0.02  # drop mask fragments smaller than this share of the mask


def skeleton_distance(points: np.ndarray, visibility: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """[H, W] float32 pixel distance to the visible skeleton (inf where nothing is visible)."""
    h, w = shape
    canvas = np.full((h, w), 255, np.uint8)
    pts = np.round(points[:33]).astype(np.int32)
    seen = visibility[:33] >= VISIBLE
    if all(seen[list(TORSO)]):
        cv2.fillPoly(canvas, [pts[list(TORSO)]], 0)
    drawn = False
    for a, b in EDGES:
        if seen[a] and seen[b]:
            cv2.line(canvas, tuple(pts[a]), tuple(pts[b]), 0, 1)
            drawn = True
    for i in np.flatnonzero(seen):
        cv2.circle(canvas, tuple(pts[i]), 1, 0, -1)
        drawn = True
    if not drawn or canvas.min() > 0:
        return np.full((h, w), np.inf, np.float32)
    return cv2.distanceTransform(canvas, cv2.DIST_L2, 5)


def assign_masks(supports: list[np.ndarray], points: list[np.ndarray], visibility: list[np.ndarray],
                 scales: list[float]) -> list[np.ndarray]:
    """Disjoint bool masks: pixel -> supporting person with the nearest visible skeleton (torso units)."""
    if not supports:
        return []
    shape = supports[0].shape
    cost = np.full((len(supports),) + shape, np.inf, np.float32)
    for i, (sup, pts, vis, scale) in enumerate(zip(supports, points, visibility, scales)):
        d = skeleton_distance(pts, vis, shape) / max(scale, 1.0)
        cost[i] = np.where((sup >= 0.5) & (d <= REACH), d, np.inf)
    owner = np.argmin(cost, axis=0)
    owned = np.isfinite(np.min(cost, axis=0))
    return [_drop_fragments(owned & (owner == i)) for i in range(len(supports))]


def _drop_fragments(mask: np.ndarray) -> np.ndarray:
    """Remove connected pieces smaller than MIN_PIECE of the mask (stray pixels from other people)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, bool)
    keep[1:] = areas >= MIN_PIECE * areas.sum()
    return keep[labels]
