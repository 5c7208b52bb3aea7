"""Preview pictures of a reconstruction: overlay through the photo camera, orbit views per person."""
from __future__ import annotations

import cv2
import numpy as np

from .bundle import SceneResult
from .gaussians import render_people
from .image_io import MAX_FRAME_ASPECT, working_scale
from .types import Body
from .views import orbit_views

OVERLAY_MAX_SIDE = 1024
VIEW_SIZE = 192


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(img) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def render_photo_view(scene: SceneResult, max_side: int = OVERLAY_MAX_SIDE,
                      device: str = "cpu") -> tuple[np.ndarray, np.ndarray, float]:
    """Render all people through the photo camera: (rgb [H,W,3] 0..1, alpha [H,W], scale vs full res)."""
    cam = scene.camera
    scale = working_scale(cam.width, cam.height, max_side)  # a panorama keeps its height readable
    w, h = max(1, round(cam.width * scale)), max(1, round(cam.height * scale))
    rgb, alpha = render_people(scene.gaussians, cam.world_to_camera[None], cam.K(scale)[None], w, h,
                               background=(0.0, 0.0, 0.0), device=device)
    return np.asarray(rgb[0]), np.asarray(alpha[0, ..., 0]), scale


def overlay(scene: SceneResult, device: str = "cpu") -> np.ndarray:
    """The reconstruction composited over the photo, beside the photo itself (below it, for a
    photo wider than 16:9)."""
    rgb, alpha, _ = render_photo_view(scene, device=device)
    h, w = alpha.shape
    photo = cv2.resize(scene.photo.rgb, (w, h), interpolation=cv2.INTER_AREA).astype(np.float64) / 255.0
    comp = rgb + (1.0 - alpha[..., None]) * photo * 0.35  # dim the photo where nothing was rendered
    return np.concatenate([_to_uint8(photo), _to_uint8(comp)], axis=0 if w > MAX_FRAME_ASPECT * h else 1)


def orbit_grid(scene: SceneResult, n_views: int = 8, size: int = VIEW_SIZE, device: str = "cpu") -> np.ndarray:
    """One row per person, `n_views` views around them (front first), white background."""
    rows = []
    for body, gs in zip(scene.bodies, scene.gaussians):
        center = np.asarray(gs.means, dtype=np.float64).mean(0)
        extent = float(np.ptp(np.asarray(gs.means), axis=0).max())
        fov_focal = size * 1.1
        radius = max(extent, 0.5) * fov_focal / size * 1.15
        facing = _facing_azimuth(body)
        viewmats = orbit_views(center, radius, n=n_views, elevation_deg=5.0, start_azimuth_deg=facing)
        K = np.array([[fov_focal, 0, size / 2], [0, fov_focal, size / 2], [0, 0, 1]], dtype=np.float64)
        rgb, _ = render_people([gs], viewmats, np.repeat(K[None], n_views, 0), size, size,
                               background=(1.0, 1.0, 1.0), device=device)
        rows.append(np.concatenate(list(_to_uint8(rgb)), axis=1))
    return np.concatenate(rows, axis=0) if rows else np.full((size, size * n_views, 3), 255, np.uint8)


def _facing_azimuth(body: Body) -> float:
    """Azimuth (deg) of the point in front of the body: the root bone's rest -Y axis in the world."""
    front = np.asarray(body.rest_to_world[0])[:3, :3] @ np.array([0.0, -1.0, 0.0])
    return float(np.degrees(np.arctan2(front[1], front[0])))
