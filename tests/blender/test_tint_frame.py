"""The add-on turns the photo tint (SH bands 1-2, world directions in gaussians.ply) into each
splat's own frame, so that it turns with the splat when a rig poses it (numpy only, no render)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from crowdgaussian.render.projection import spherical_harmonics

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from crowdgaussian_addon.bundle import quat_to_matrix, sh_to_splat_frame  # noqa: E402


def _colour(bands: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Bands 1-2 of SH at unit directions, with the backend's basis (gsplat's)."""
    coeffs = np.concatenate([np.zeros((len(bands), 1, 3)), bands], axis=1)
    return spherical_harmonics(2, torch.from_numpy(dirs), torch.from_numpy(coeffs)).numpy()


def test_a_splat_frame_tint_read_at_the_turned_direction_is_the_world_tint() -> None:
    rng = np.random.default_rng(3)
    n = 500
    bands = rng.normal(size=(n, 8, 3))
    quats = rng.normal(size=(n, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    local = sh_to_splat_frame(bands, quats, chunk=128)
    dirs = rng.normal(size=(n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    frames = quat_to_matrix(quats)
    turned = np.einsum("nji,nj->ni", frames, dirs)  # R^T d: the direction in the splat's frame
    np.testing.assert_allclose(_colour(local, turned), _colour(bands, dirs), atol=1e-9)
    # not the identity: read at the world direction, the splat-frame tint is another colour
    assert np.abs(_colour(local, dirs) - _colour(bands, dirs)).mean() > 0.3


def test_the_tint_is_read_from_the_ply_in_each_splats_frame(tmp_path: Path) -> None:
    """read_sh_bands: degree-2 bands of a 3DGS PLY turned by the file's rotations; None where
    they are zero (an untinted bundle) or absent (a DC-only PLY from another tool)."""
    from plyfile import PlyData, PlyElement

    from crowdgaussian.ply import write_gaussians_ply
    from crowdgaussian_addon.bundle import read_sh_bands

    rng = np.random.default_rng(5)
    n = 40
    quats = rng.normal(size=(n, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    g = dict(means=rng.normal(size=(n, 3)), quats=quats, scales=np.full((n, 3), 0.01),
             opacities=np.full(n, 0.9), colors=rng.random((n, 3)))
    bands = rng.normal(size=(n, 8, 3))
    write_gaussians_ply(tmp_path / "tinted.ply", **g, sh_rest=bands)
    np.testing.assert_allclose(read_sh_bands(tmp_path / "tinted.ply", n), sh_to_splat_frame(bands, quats), atol=1e-5)
    write_gaussians_ply(tmp_path / "untinted.ply", **g)
    assert read_sh_bands(tmp_path / "untinted.ply", n) is None
    fields = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
              "rot_0", "rot_1", "rot_2", "rot_3"]
    vertex = np.zeros(n, dtype=[(f, "<f4") for f in fields])
    PlyData([PlyElement.describe(vertex, "vertex")]).write(str(tmp_path / "dc_only.ply"))
    assert read_sh_bands(tmp_path / "dc_only.ply", n) is None
