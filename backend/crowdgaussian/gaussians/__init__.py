"""Per-person Gaussians anchored on the fitted body: coloured, completed, photometrically fitted."""
from __future__ import annotations

import numpy as np

from crowdgaussian import types
from crowdgaussian.gaussians.anchor import skin_points
from crowdgaussian.gaussians.build import build_gaussians
from crowdgaussian.gaussians.render import render_people, to_torch


def pose_gaussians(g: types.Gaussians, rest_to_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(means [N, 3], quats [N, 4] w x y z) of the rest Gaussians posed by LBS matrices [B, 4, 4]."""
    return skin_points(np.asarray(g.means_rest, np.float64), np.asarray(g.quats_rest, np.float64),
                       np.asarray(rest_to_world, np.float64), g.skin_indices, g.skin_weights)


__all__ = ["build_gaussians", "pose_gaussians", "render_people", "to_torch"]
