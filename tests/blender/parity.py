"""Compare a Blender render of a bundle with the backend rasterizer of the same Gaussians."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

BACKGROUND = 0.5  # both images are composited over this grey before comparing


def rasterize_bundle(bundle: Path, scale: float, gaussians: list[dict] | None = None) -> np.ndarray:
    """RGBA float [H,W,4] of all persons' world Gaussians rendered by crowdgaussian.render."""
    import torch

    from crowdgaussian.gaussians.tint import render_colors
    from crowdgaussian.ply import read_gaussians_ply
    from crowdgaussian.render import rasterization
    from crowdgaussian.types import Camera

    manifest = json.loads((bundle / "manifest.json").read_text())
    if gaussians is None:
        gaussians = [read_gaussians_ply(bundle / p["files"]["gaussians"]) for p in manifest["persons"]]
    cat = {k: torch.tensor(np.concatenate([g[k] for g in gaussians]), dtype=torch.float32)
           for k in ("means", "quats", "scales", "opacities")}
    # with the photo tint (SH bands 1-2) where the bundle has it, as a 3DGS viewer draws it
    coeffs, sh_degree = render_colors([SimpleNamespace(**g) for g in gaussians])
    colors = torch.tensor(coeffs, dtype=torch.float32)
    if sh_degree is None:
        colors = colors.clamp(0, 1)
    c = manifest["camera"]
    cam = Camera(fx=c["fx"], fy=c["fy"], cx=c["cx"], cy=c["cy"], width=manifest["image"]["width"],
                 height=manifest["image"]["height"], world_to_camera=np.array(c["world_to_camera"]))
    # docs/ARCHITECTURE.md: continuous pixels (gsplat's convention), so Camera.K(scale) is gsplat's K
    K = torch.tensor(cam.K(scale), dtype=torch.float32)
    viewmat = torch.tensor(cam.world_to_camera, dtype=torch.float32)
    w, h = round(cam.width * scale), round(cam.height * scale)
    torch.set_num_threads(2)
    with torch.no_grad():
        rgb, alpha, _ = rasterization(cat["means"], cat["quats"], cat["scales"], cat["opacities"],
                                      colors, viewmat[None], K[None], w, h, sh_degree=sh_degree)
    return np.concatenate([rgb[0].numpy(), alpha[0].numpy()], axis=-1)


def turn_sh(sh_rest: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """SH bands 1-2 [N, 8, 3] of functions f turned by per-splat rotations [N, 3, 3]: the
    coefficients of d -> f(R^T d), fitted on sampled directions with the backend's own SH basis
    (independent of the add-on's numpy one)."""
    import torch

    from crowdgaussian.gaussians.tint import _sh_least_squares
    from crowdgaussian.render.projection import spherical_harmonics

    dirs, solve = _sh_least_squares()  # sample directions and the map from their values to degree-2 SH
    coeffs = torch.from_numpy(np.concatenate([np.zeros((len(sh_rest), 1, 3)), sh_rest], axis=1))
    source = np.einsum("nji,kj->nki", rotations, dirs)  # R^T d for every sample d
    values = spherical_harmonics(2, torch.from_numpy(source), coeffs[:, None].expand(-1, len(dirs), -1, -1)).numpy()
    return np.einsum("bk,nkc->nbc", solve, values)[:, 1:]  # bands 1-2 (a turn leaves the DC at 0)


def load_render(png: str | Path) -> np.ndarray:
    """RGBA float [H,W,4] (straight alpha, sRGB colour) of a Blender PNG render."""
    return np.asarray(Image.open(png).convert("RGBA"), dtype=np.float64) / 255.0


def over_grey(rgba: np.ndarray, premultiplied: bool) -> np.ndarray:
    """Composite over BACKGROUND grey; colours above 1 clipped as in the render's 8-bit PNG."""
    a = rgba[..., 3:4]
    rgb = np.minimum(rgba[..., :3], a) if premultiplied else rgba[..., :3] * a
    return rgb + (1.0 - a) * BACKGROUND


def people_psnr(render: np.ndarray, reference: np.ndarray, threshold: float = 0.02) -> tuple[float, float, int]:
    """(RGB PSNR, alpha PSNR, pixel count) over pixels where either image has alpha > threshold."""
    mask = (render[..., 3] > threshold) | (reference[..., 3] > threshold)
    mse_alpha = float(np.mean((render[..., 3][mask] - reference[..., 3][mask]) ** 2))
    return psnr_where(render, reference, mask), 10 * np.log10(1.0 / max(mse_alpha, 1e-12)), int(mask.sum())


def psnr_where(render: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
    """RGB PSNR over grey on the pixels of `mask`."""
    mse = float(np.mean((over_grey(render, premultiplied=False)[mask] - over_grey(reference, premultiplied=True)[mask]) ** 2))
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def side_by_side(render: np.ndarray, reference: np.ndarray, path: Path) -> None:
    """Blender | rasterizer | 4x abs difference, for looking at with one's own eyes."""
    a, b = over_grey(render, False), over_grey(reference, True)
    diff = np.clip(4 * np.abs(a - b), 0, 1)
    Image.fromarray((np.concatenate([a, b, diff], axis=1) * 255).round().astype(np.uint8)).save(path)
