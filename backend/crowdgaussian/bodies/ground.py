"""The world frame from the fitted people: ground plane, camera height, depth order.

The up direction is the mean body up-axis of the fitted people, pulled towards the camera's
-Y (a roughly level camera) so that one leaning person cannot tilt the world. People whose
up-axis leans more than LEAN_LIMIT from the camera's level are bent over, leaning or lying,
and do not count (unless nobody is within it: a camera pitched that steeply): five of six
people leaning over a card table (their pelvises tilted 37-57 degrees) tilted the world 33
degrees, so the floor was a slope and the orbit views looked down on everybody. On the
quality benchmark's tuning crowds (detector, 57 inputs, cameras pitched 14 degrees on
average, 22 at most) the limit moved the mean error of the up direction from 8.3 to 7.9
degrees. Each person's sole is the lowest of their foot landmarks; the camera height is the
median height of the camera over the soles of the people whose feet are seen (over
everybody's modelled feet, i.e. standing legs, when no feet are seen). A common floor then
fixes each person's distance relative to the others: scaling a person's size and distance
together keeps their image, and the scale that puts their feet on the floor is camera
height / their own.
"""
from __future__ import annotations

import numpy as np

LEVEL_PRIOR = 1.0  # weight of the camera's -Y in the up estimate, vs. 1 per person
LEAN_LIMIT = 35.0  # degrees from the camera's level beyond which a person's up-axis is not counted


def up_direction(body_ups: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Unit up vector in camera coordinates from per-person up axes [N,3] and weights [N]."""
    level = np.array([0.0, -1.0, 0.0])
    upright = weights * (np.asarray(body_ups) @ level >= np.cos(np.radians(LEAN_LIMIT)))
    use = upright if upright.sum() > 0 else weights
    up = (body_ups * use[:, None]).sum(0) + LEVEL_PRIOR * level
    return up / np.linalg.norm(up)


def camera_heights(soles: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Height of the camera above each person's sole [N] (positive when the feet are below)."""
    return -(soles @ up)


def floor_scales(heights: np.ndarray, feet_seen: np.ndarray) -> tuple[float, np.ndarray]:
    """Common camera height and per-person scales putting the seen feet on one floor."""
    ref = heights[feet_seen] if feet_seen.any() else heights
    ref = ref[ref > 0.05]
    camera_height = float(np.median(ref)) if len(ref) else 1.6
    scales = np.where(feet_seen & (heights > 0.05), camera_height / np.maximum(heights, 0.05), 1.0)
    return camera_height, scales


def camera_to_world(up: np.ndarray, camera_height: float) -> np.ndarray:
    """4x4 camera->world: Z = up, X = camera x on the floor, the camera at (0, 0, height)."""
    ex = np.array([1.0, 0.0, 0.0]) - up[0] * up
    ex /= np.linalg.norm(ex)
    ey = np.cross(up, ex)
    out = np.eye(4)
    out[:3, :3] = np.stack([ex, ey, up])
    out[2, 3] = camera_height
    return out


def occluders(masks: list[np.ndarray], projected: list[np.ndarray]) -> np.ndarray:
    """[N,N] fraction of person i's projected body points that land on person j's mask.

    A large value means j hides part of i, so j must be nearer the camera than i.
    """
    n = len(masks)
    out = np.zeros((n, n))
    h, w = masks[0].shape
    for i, uv in enumerate(projected):
        px = np.floor(uv).astype(int)
        inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
        px = px[inside]
        for j in range(n):
            if j != i and len(px):
                out[i, j] = masks[j][px[:, 1], px[:, 0]].mean() * inside.mean()
    return out


def order_depths(depths: np.ndarray, occ: np.ndarray, threshold: float = 0.05,
                 gap: float = 0.3) -> np.ndarray:
    """Per-person depth factors pushing each occluded person behind their occluder (+gap m)."""
    factors = np.ones(len(depths))
    for i in np.argsort(depths):
        for j in range(len(depths)):
            hidden_by_j = occ[i, j] > threshold and occ[i, j] > occ[j, i]
            zi, zj = depths[i] * factors[i], depths[j] * factors[j]
            if hidden_by_j and zi < zj + gap:
                factors[i] = (zj + gap) / depths[i]
    return factors
