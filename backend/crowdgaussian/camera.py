"""Photo camera: intrinsics from EXIF when the photo says, else a documented default; world -> camera points.

The default focal length is the image diagonal in pixels (a ~53 degree diagonal field of
view, like a 43 mm lens on full frame): a common choice in multi-person mesh recovery
when nothing is known, and close to phone main cameras (~26-28 mm equiv. in 4:3 crop).
"""
from __future__ import annotations

import math

import numpy as np

from .types import Camera, Photo

FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)


def focal_from_exif(photo: Photo) -> float | None:
    """Focal length in full-resolution pixels from EXIF's 35 mm-equivalent focal, if present."""
    if photo.focal_35mm is None:
        return None
    diagonal_px = math.hypot(photo.full_width, photo.full_height)
    return photo.focal_35mm * diagonal_px / FULL_FRAME_DIAGONAL_MM


def default_camera(photo: Photo) -> Camera:
    """Camera for `photo` in full-resolution pixels; world_to_camera is identity until the body fit."""
    focal = focal_from_exif(photo) or math.hypot(photo.full_width, photo.full_height)
    return Camera(fx=focal, fy=focal, cx=photo.full_width / 2.0, cy=photo.full_height / 2.0,
                  width=photo.full_width, height=photo.full_height, world_to_camera=np.eye(4))


def to_camera(points_world: np.ndarray, world_to_camera: np.ndarray) -> np.ndarray:
    """[..., 3] world points in camera coordinates (OpenCV axes: z is the depth)."""
    m = np.asarray(world_to_camera, np.float64)
    return np.asarray(points_world, np.float64) @ m[:3, :3].T + m[:3, 3]
