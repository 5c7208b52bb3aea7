"""Camera poses for previews and evaluation: look-at and the paper's 24-view orbit (OpenCV)."""
from __future__ import annotations

import numpy as np


def look_at(eye: np.ndarray, target: np.ndarray, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """World-to-camera 4x4 (OpenCV: x right, y down, z forward) looking from eye at target."""
    eye = np.asarray(eye, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-8:  # looking straight along `up`: pick any perpendicular
        x = np.cross(z, np.array([0.0, 1.0, 0.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    w2c = np.eye(4)
    w2c[:3, :3] = np.stack([x, y, z])
    w2c[:3, 3] = -w2c[:3, :3] @ eye
    return w2c


def orbit_views(center: np.ndarray, radius: float, n: int = 24, elevation_deg: float = 0.0,
                start_azimuth_deg: float = -90.0) -> np.ndarray:
    """[n, 4, 4] world-to-camera matrices on a horizontal orbit around `center` (Z up).

    Azimuth 0 is the +X axis; the default start (-90 deg) puts the first camera on -Y,
    i.e. in front of a body facing -Y (the rest-pose convention).
    """
    center = np.asarray(center, dtype=np.float64)
    el = np.deg2rad(elevation_deg)
    mats = []
    for k in range(n):
        az = np.deg2rad(start_azimuth_deg + 360.0 * k / n)
        eye = center + radius * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        mats.append(look_at(eye, center))
    return np.stack(mats)
