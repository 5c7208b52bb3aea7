"""The paper's 24-view evaluation orbit, placed per person for the truth and moved to a reconstruction.

Views are 24 azimuths on a horizontal orbit (fixed elevation) around the true person's root
joint in the true world; azimuth 0 looks at the person from the photo camera's side, so
view 0 is about the input view. Intrinsics come from the true height.

A reconstruction lives in its own world (its own floor and up axis, estimated from the photo)
and a single photo fixes a person only up to a depth/size scale. What both worlds share is the
photo camera, so each orbit camera is carried over through it: its pose relative to the photo
camera is kept, re-centred on the reconstruction's root and with its distance to the root
multiplied by (predicted root depth / true root depth). A person reconstructed twice as far
and twice as large, or in a world whose up axis or floor is estimated differently, renders the
same; a person turned or leaning wrongly relative to the photo camera does not.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from crowdgaussian.camera import to_camera
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


def person_orbit(root_world: np.ndarray, world_to_camera: np.ndarray, true_height_m: float, size: int,
                 indices: list[int] | None = None, elevation_deg: float = 0.0) -> OrbitViews:
    """Orbit views around the true `root_world`, azimuth 0 toward the photo camera (see module doc)."""
    centre_cam = -world_to_camera[:3, :3].T @ world_to_camera[:3, 3]
    start = float(np.degrees(np.arctan2(centre_cam[1] - root_world[1], centre_cam[0] - root_world[0])))
    mats = orbit_views(np.asarray(root_world, np.float64), RADIUS_M, n=N_VIEWS, elevation_deg=elevation_deg,
                       start_azimuth_deg=start)
    indices = list(range(N_VIEWS)) if indices is None else list(indices)
    f = FILL * size * RADIUS_M / true_height_m
    K = np.array([[f, 0.0, size / 2], [0.0, f, size / 2], [0.0, 0.0, 1.0]])
    return OrbitViews(viewmats=mats[indices], K=K, size=size, indices=indices)


def carry_orbit(orbit: OrbitViews, true_root: np.ndarray, true_w2c: np.ndarray, pred_root: np.ndarray,
                pred_w2c: np.ndarray) -> OrbitViews:
    """The truth's orbit moved into a reconstruction's world through the photo camera (module doc)."""
    root_t, root_p = to_camera(true_root, true_w2c), to_camera(pred_root, pred_w2c)
    scale = root_p[2] / max(root_t[2], 1e-6)
    mats = []
    for view in orbit.viewmats:
        in_photo = view @ np.linalg.inv(true_w2c)  # photo camera -> orbit camera
        rot = in_photo[:3, :3]
        eye = root_p + scale * (-rot.T @ in_photo[:3, 3] - root_t)  # orbit eye, predicted photo-camera frame
        moved = np.eye(4)
        moved[:3, :3], moved[:3, 3] = rot, -rot @ eye
        mats.append(moved @ pred_w2c)
    return replace(orbit, viewmats=np.stack(mats))
