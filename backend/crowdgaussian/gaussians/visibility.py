"""Which Gaussians the photo sees: a triangle z-buffer of every body, then a depth + mask test.

An occluded arm must not take the colour of the person in front: a Gaussian counts as
seen only if it lies in its own person's mask, faces the camera and is not behind any
body surface (its own or another person's) in the z-buffer. `behind_own_arms` adds what the
2D landmarks know better than the fitted body: where the photo shows a person's arm, the rest
of that person's body is behind it.
"""
from __future__ import annotations

import cv2
import numba
import numpy as np

from crowdgaussian import types

# A seen arm in the photo is in front of the rest of its own body wherever it lies (a body fit's
# arm a few centimetres off, or a torso fitted a little too far forward, would otherwise let the
# hips or chest behind a forearm take the forearm's colour). Each side's chain of landmarks,
# from a third of the way down the upper arm (the shoulder itself is the torso's) to the hand.
ARM_CHAINS = (("left_shoulder", "left_elbow", "left_wrist", "left_index"),
              ("right_shoulder", "right_elbow", "right_wrist", "right_index"))
ARM_START = 0.33  # fraction of shoulder -> elbow where the cover starts
ARM_SEEN = 0.6  # visibility from which BlazePose's arm landmarks are reliable (wrists turn so at 0.6)
ARM_RADIUS_M = 0.05  # half-width of the cover: a forearm's radius plus a sleeve
# A seen wrist's hand: a disc round its seen landmarks' centre. BlazePose's index point often lies at
# the wrist, and the fingers past it let a seated thigh behind a hand on the table take the hand's skin
# (t1.jpg: the man behind Lisa, once his hidden legs were kept behind her).
HAND_POINTS = {"left_wrist": ("left_pinky", "left_index", "left_thumb"),
               "right_wrist": ("right_pinky", "right_index", "right_thumb")}
HAND_RADIUS_M = 0.09  # about half a hand's length, wrist to fingertips


@numba.njit(cache=True)
def _zbuffer(px: np.ndarray, faces: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Nearest depth and its face index per pixel; px [V, 3] = (x, y, camera z) per vertex."""
    depth = np.full((height, width), np.inf, dtype=np.float32)
    face = np.full((height, width), -1, dtype=np.int64)
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        za, zb, zc = px[a, 2], px[b, 2], px[c, 2]
        if za <= 1e-3 or zb <= 1e-3 or zc <= 1e-3:
            continue
        xa, ya, xb, yb, xc, yc = px[a, 0], px[a, 1], px[b, 0], px[b, 1], px[c, 0], px[c, 1]
        area = (xb - xa) * (yc - ya) - (xc - xa) * (yb - ya)
        if abs(area) < 1e-12:
            continue
        x0 = max(int(np.ceil(min(xa, xb, xc))), 0)
        x1 = min(int(np.floor(max(xa, xb, xc))), width - 1)
        y0 = max(int(np.ceil(min(ya, yb, yc))), 0)
        y1 = min(int(np.floor(max(ya, yb, yc))), height - 1)
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                w0 = ((xb - x) * (yc - y) - (xc - x) * (yb - y)) / area
                w1 = ((xc - x) * (ya - y) - (xa - x) * (yc - y)) / area
                w2 = 1.0 - w0 - w1
                if w0 < 0 or w1 < 0 or w2 < 0:
                    continue
                z = 1.0 / (w0 / za + w1 / zb + w2 / zc)  # perspective-correct depth
                if z < depth[y, x]:
                    depth[y, x] = z
                    face[y, x] = f
    return depth, face


def project(points: np.ndarray, world_to_camera: np.ndarray, K: np.ndarray) -> np.ndarray:
    """[N, 3] = (column, row, camera depth) of world points, in pixel-index units.

    K is in continuous pixel coordinates (types.Camera: pixel i spans [i, i + 1)); the
    result is shifted by -0.5 so that pixel i's centre is at i, which is what the z-buffer,
    array indexing and cv2.remap expect.
    """
    cam = points @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
    z = cam[:, 2]
    uv = cam @ K.T
    safe = np.where(np.abs(z) < 1e-9, 1e-9, z)
    return np.stack([uv[:, 0] / safe - 0.5, uv[:, 1] / safe - 0.5, z], axis=1)


def body_zbuffer(bodies: list[types.Body], world_to_camera: np.ndarray, K: np.ndarray,
                 width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(depth [H, W] float32, inf = empty; owner [H, W] body index; face [H, W] its face), -1 = empty."""
    pxs, faces, owners, base = [], [], [], 0
    for i, body in enumerate(bodies):
        pxs.append(project(body.vertices_world.astype(np.float64), world_to_camera, K))
        faces.append(body.faces.astype(np.int64) + base)
        owners.append(np.full(len(body.faces), i, dtype=np.int32))
        base += len(body.vertices_world)
    depth, face = _zbuffer(np.concatenate(pxs), np.concatenate(faces), int(height), int(width))
    face_owner = np.concatenate(owners)
    owner = np.where(face >= 0, face_owner[np.maximum(face, 0)], -1).astype(np.int32)
    starts = np.cumsum([0] + [len(b.faces) for b in bodies])[:-1]
    local = np.where(face >= 0, face - starts[np.maximum(owner, 0)], -1)
    return depth, owner, local


def sample_nearest(image: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values at the nearest pixel, inside-image flag) for [N, 2] pixel positions."""
    h, w = image.shape[:2]
    ix, iy = np.rint(xy[:, 0]).astype(np.int64), np.rint(xy[:, 1]).astype(np.int64)
    inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    return image[np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)], inside


def arm_cover(keypoints: np.ndarray, shape: tuple[int, int], radius_px: float) -> np.ndarray:
    """bool [H, W]: pixels within `radius_px` of a seen arm segment (both ends' visibility >= ARM_SEEN),
    and the hand of a seen wrist (HAND_RADIUS_M, scaled like `radius_px`)."""
    out = np.zeros(shape, np.uint8)
    thickness = max(1, int(round(2 * radius_px)))
    for chain in ARM_CHAINS:
        pts = keypoints[[types.POSE_LANDMARKS.index(n) for n in chain]]
        for k, (a, b) in enumerate(zip(pts[:-1], pts[1:])):
            if not (np.isfinite(a).all() and np.isfinite(b).all()) or min(a[2], b[2]) < ARM_SEEN:
                continue
            start = a[:2] + ARM_START * (b[:2] - a[:2]) if k == 0 else a[:2]
            # pixel indices, kept in cv2's int range (the line itself is clipped to the image)
            ends = [tuple(int(round(v)) for v in np.clip(p - 0.5, -4 * max(shape), 4 * max(shape)))
                    for p in (start, b[:2])]
            cv2.line(out, ends[0], ends[1], 1, thickness, lineType=cv2.LINE_8)
    for wrist, fingers in HAND_POINTS.items():
        pts = keypoints[[types.POSE_LANDMARKS.index(n) for n in (wrist, *fingers)]]
        seen = np.isfinite(pts).all(axis=1) & (pts[:, 2] >= ARM_SEEN)
        if seen[0] and np.abs(pts[seen, :2]).max() < 4 * max(shape):
            centre = tuple(int(round(v)) for v in pts[seen, :2].mean(axis=0) - 0.5)
            cv2.circle(out, centre, max(1, int(round(radius_px * HAND_RADIUS_M / ARM_RADIUS_M))), 1, -1)
    return out.astype(bool)


def behind_own_arms(means: np.ndarray, is_arm: np.ndarray, keypoints: np.ndarray, shape: tuple[int, int],
                    world_to_camera: np.ndarray, K: np.ndarray, depth: float) -> np.ndarray:
    """[N] bool: Gaussians not on an arm whose pixel a seen arm of the same person covers.

    `depth`: the person's distance (m), which sets the arm's width in pixels."""
    cover = arm_cover(keypoints, shape, ARM_RADIUS_M * K[0, 0] / max(depth, 0.1))
    covered, inside = sample_nearest(cover, project(means, world_to_camera, K)[:, :2])
    return covered & inside & ~is_arm


def visible_gaussians(means: np.ndarray, normals: np.ndarray, mask: np.ndarray, depth: np.ndarray,
                      world_to_camera: np.ndarray, K: np.ndarray, depth_tol: float = 0.03,
                      min_facing: float = 0.3) -> np.ndarray:
    """[N] bool: inside the own mask, facing the camera, not behind the z-buffer surface.

    `depth` must be rendered with the same K (so pixels line up with `mask`);
    depth_tol (m) absorbs the splat offset and the z-buffer's pixel discretisation.
    """
    px = project(means, world_to_camera, K)
    in_mask, inside = sample_nearest(mask, px[:, :2])
    zbuf, _ = sample_nearest(depth, px[:, :2])
    cam_pos = -world_to_camera[:3, :3].T @ world_to_camera[:3, 3]
    view = cam_pos[None] - means
    view /= np.maximum(np.linalg.norm(view, axis=1, keepdims=True), 1e-12)
    facing = np.sum(view * normals, axis=1)
    return inside & in_mask.astype(bool) & (px[:, 2] > 0) & (px[:, 2] <= zbuf + depth_tol) & (facing > min_facing)
