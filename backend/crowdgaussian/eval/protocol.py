"""The paper's 24-view evaluation orbit, placed per person for the truth and for a reconstruction.

Views are 24 azimuths on a horizontal orbit (fixed elevation) around the person's root
joint; azimuth 0 looks at the person from the photo camera's side, so view 0 is about the
input view. A single photo fixes a person only up to a depth/size scale, so a
reconstruction's orbit is centred on its *own* root, in its own world, with the radius
multiplied by (its root depth / the true root depth): a person reconstructed twice as far
and twice as large renders the same. Intrinsics come from the true height, identical for
both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crowdgaussian.views import orbit_views

N_VIEWS = 24
RADIUS_M = 3.0
FILL = 0.8  # fraction of the image height the (true) person's height takes


@dataclass
class OrbitViews:
    """World-to-camera matrices of the chosen orbit views and their shared intrinsics."""

    viewmats: np.ndarray  # [V, 4, 4]
    K: np.ndarray  # [3, 3]
    size: int  # square images, pixels
    indices: list[int]  # which of the 24 azimuths


def root_depth(root_world: np.ndarray, world_to_camera: np.ndarray) -> float:
    """Depth (camera z, meters) of a world point."""
    return float((world_to_camera[:3, :3] @ root_world + world_to_camera[:3, 3])[2])


def person_orbit(root_world: np.ndarray, world_to_camera: np.ndarray, true_height_m: float, size: int,
                 indices: list[int] | None = None, elevation_deg: float = 0.0, depth_scale: float = 1.0,
                 ) -> OrbitViews:
    """Orbit views around `root_world`, azimuth 0 toward the photo camera (see module doc)."""
    centre_cam = -world_to_camera[:3, :3].T @ world_to_camera[:3, 3]
    start = float(np.degrees(np.arctan2(centre_cam[1] - root_world[1], centre_cam[0] - root_world[0])))
    radius = RADIUS_M * depth_scale
    mats = orbit_views(np.asarray(root_world, np.float64), radius, n=N_VIEWS, elevation_deg=elevation_deg,
                       start_azimuth_deg=start)
    indices = list(range(N_VIEWS)) if indices is None else list(indices)
    f = FILL * size * RADIUS_M / true_height_m
    K = np.array([[f, 0.0, size / 2], [0.0, f, size / 2], [0.0, 0.0, 1.0]])
    return OrbitViews(viewmats=mats[indices], K=K, size=size, indices=indices)
