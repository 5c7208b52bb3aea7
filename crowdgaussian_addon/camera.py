"""OpenCV pinhole camera (bundle) -> Blender camera parameters, in plain numpy.

Bundle world == Blender world (meters, Z up), so only the camera axes change: OpenCV looks
along +z with y down, Blender cameras look along -Z with Y up, hence
camera_to_world = inverse(world_to_camera) · diag(1, -1, -1, 1). Intrinsics use a
horizontal sensor fit: lens = fx · sensor_width / W, and the principal point becomes the
lens shift in units of the image width. Bundle pixels are continuous like Blender's sensor
(pixel i covers [i, i+1), docs/ARCHITECTURE.md), so shift_x = (W/2 - cx) / W and
shift_y = (cy - H/2) / W.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SENSOR_WIDTH_MM = 36.0


@dataclass
class BlenderCameraParams:
    """Everything a Blender camera needs to reproduce the photo's projection."""

    matrix_world: np.ndarray  # 4x4 camera-to-world in Blender's camera convention
    lens_mm: float
    sensor_width_mm: float
    shift_x: float
    shift_y: float
    resolution: tuple[int, int]


def opencv_to_blender(fx: float, cx: float, cy: float, width: int, height: int,
                      world_to_camera: np.ndarray, sensor_width_mm: float = SENSOR_WIDTH_MM) -> BlenderCameraParams:
    """Convert full-resolution OpenCV intrinsics + world_to_camera to Blender camera settings.

    Blender cameras have square pixels here: fy is taken equal to fx (the backend writes fx == fy).
    """
    w2c = np.asarray(world_to_camera, dtype=np.float64)
    rot = w2c[:3, :3]
    cam_to_world = np.eye(4)
    cam_to_world[:3, :3] = rot.T @ np.diag([1.0, -1.0, -1.0])
    cam_to_world[:3, 3] = -rot.T @ w2c[:3, 3]
    return BlenderCameraParams(
        matrix_world=cam_to_world, lens_mm=float(fx) * sensor_width_mm / float(width),
        sensor_width_mm=sensor_width_mm, shift_x=(width / 2.0 - float(cx)) / width,
        shift_y=(float(cy) - height / 2.0) / width, resolution=(int(width), int(height)))
