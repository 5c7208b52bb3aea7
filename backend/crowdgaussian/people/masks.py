"""Per-person masks that never overlap: landmark segmentation split by ownership of visible limbs.

The landmark model's segmentation covers everybody inside its crop, so it is not an
instance mask. A pixel goes to the person whose *visible* skeleton (torso polygon, limbs
with both ends visible) is nearest in units of that person's torso size; hidden limbs claim
nothing, which is what makes the front person win where people overlap. A confirmed face is
part of its person's visible skeleton, and a face seen inside another person's torso tells who
is in front: that torso is not claimed whole, nor from its hips (invented behind the face).
"""
from __future__ import annotations

import cv2
import numpy as np

from .draw import EDGES

VISIBLE = 0.5
REACH = 0.6  # a person's pixels lie within this many torso sizes of their visible skeleton
TORSO = (11, 12, 24, 23)  # shoulders and hips, polygon order
HIPS_DOWN = np.arange(23, 33)  # hips, legs and feet
FACE_ON_TORSO = 0.25  # share of a face box on another's torso that puts its person in front of that torso
MIN_PIECE = 0.02  # drop mask fragments smaller than this share of the mask


def skeleton_distance(points: np.ndarray, visibility: np.ndarray, shape: tuple[int, int],
                      face: np.ndarray | None = None, whole_torso: bool = True) -> np.ndarray:
    """[H, W] float32 pixel distance to the visible skeleton (inf where nothing is visible): its
    torso polygon, limbs with both ends seen, seen points and the confirmed face box (x0 y0 x1
    y1 px); with `whole_torso` False, shoulders, arms and head only (someone is in front)."""
    h, w = shape
    canvas = np.full((h, w), 255, np.uint8)
    pts = np.round(points[:33]).astype(np.int32)
    seen = visibility[:33] >= VISIBLE
    if not whole_torso:
        seen[HIPS_DOWN] = False
    if all(seen[list(TORSO)]):
        cv2.fillPoly(canvas, [pts[list(TORSO)]], 0)
    if face is not None:
        cv2.rectangle(canvas, tuple(np.round(face[:2]).astype(int)), tuple(np.round(face[2:]).astype(int)), 0, -1)
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
                 scales: list[float], faces: list[np.ndarray | None] | None = None) -> list[np.ndarray]:
    """Disjoint bool masks: pixel -> supporting person with the nearest visible skeleton (torso
    units); `faces`: each person's confirmed face box or None."""
    if not supports:
        return []
    faces = faces if faces is not None else [None] * len(supports)
    shape = supports[0].shape
    cost = np.full((len(supports),) + shape, np.inf, np.float32)
    for i, (sup, pts, vis, scale) in enumerate(zip(supports, points, visibility, scales)):
        fronts = [f for j, f in enumerate(faces) if j != i and f is not None]
        d = skeleton_distance(pts, vis, shape, faces[i], not any(_inside_torso(pts, vis, f) for f in fronts))
        d = d / max(scale, 1.0)
        cost[i] = np.where((sup >= 0.5) & (d <= REACH), d, np.inf)
    owner = np.argmin(cost, axis=0)
    owned = np.isfinite(np.min(cost, axis=0))
    return [_drop_fragments(owned & (owner == i)) for i in range(len(supports))]


def _inside_torso(points: np.ndarray, visibility: np.ndarray, face: np.ndarray) -> bool:
    """Whether at least FACE_ON_TORSO of a face box lies inside the seen torso polygon of a skeleton."""
    if not all(visibility[list(TORSO)] >= VISIBLE):
        return False
    polygon = points[list(TORSO)].astype(np.float32)
    grid = np.linspace(0.1, 0.9, 5)
    inside = [cv2.pointPolygonTest(polygon, (float(face[0] + u * (face[2] - face[0])),
                                             float(face[1] + v * (face[3] - face[1]))), False) > 0
              for u in grid for v in grid]
    return float(np.mean(inside)) >= FACE_ON_TORSO


def _drop_fragments(mask: np.ndarray) -> np.ndarray:
    """Remove connected pieces smaller than MIN_PIECE of the mask (stray pixels from other people)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, bool)
    keep[1:] = areas >= MIN_PIECE * areas.sum()
    return keep[labels]
