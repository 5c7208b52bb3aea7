"""Render lists of Gaussian sets (people, props) through the project rasterizer into numpy images."""
from __future__ import annotations

from typing import Protocol

import numpy as np

from crowdgaussian.gaussians.tint import render_colors


class SplatSet(Protocol):
    """Anything with Gaussian arrays: `types.Gaussians` or a prop's `synth.props.Splats`."""

    means: np.ndarray
    quats: np.ndarray
    scales: np.ndarray
    opacities: np.ndarray
    colors: np.ndarray

VIEW_CHUNK = 8  # views rasterized per call (bounds CPU memory)


def concat_gaussians(gaussians: list[SplatSet]) -> tuple[dict[str, np.ndarray], int | None]:
    """Means, quats, scales, opacities and colours of several Gaussian sets, concatenated, and
    the sh_degree of the colours (None: RGB; SH when a set carries a photo tint, see gaussians.tint)."""
    keys = ("means", "quats", "scales", "opacities")
    if not gaussians:
        return {k: np.zeros((0, 4 if k == "quats" else 3) if k != "opacities" else (0,), np.float32)
                for k in keys + ("colors",)}, None
    out = {k: np.concatenate([np.asarray(getattr(g, k), np.float32) for g in gaussians]) for k in keys}
    out["colors"], sh_degree = render_colors(gaussians)
    return out, sh_degree


def render(gaussians: list[SplatSet], viewmats: np.ndarray, K: np.ndarray, width: int, height: int,
           background: tuple[float, float, float] = (1.0, 1.0, 1.0), device: str = "cpu",
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB [C,H,W,3] over `background`, alpha [C,H,W] and expected depth [C,H,W] for C views.

    Empty input renders the plain background (alpha 0, depth inf).
    """
    import torch

    from crowdgaussian.render import rasterization

    viewmats = np.asarray(viewmats, np.float64).reshape(-1, 4, 4)
    n_views = len(viewmats)
    arrays, sh_degree = concat_gaussians(gaussians)
    if len(arrays["means"]) == 0:
        rgb = np.broadcast_to(np.asarray(background, np.float32), (n_views, height, width, 3)).copy()
        return rgb, np.zeros((n_views, height, width), np.float32), np.full((n_views, height, width), np.inf,
                                                                            np.float32)
    tensors = {k: torch.as_tensor(v, device=device) for k, v in arrays.items()}
    rgbs, alphas, depths = [], [], []
    for start in range(0, n_views, VIEW_CHUNK):
        mats = viewmats[start:start + VIEW_CHUNK]
        c = len(mats)
        with torch.no_grad():
            colors, alpha, _ = rasterization(
                tensors["means"], tensors["quats"], tensors["scales"], tensors["opacities"], tensors["colors"],
                viewmats=torch.as_tensor(mats, dtype=torch.float32, device=device),
                Ks=torch.as_tensor(np.repeat(np.asarray(K, np.float32)[None], c, axis=0), device=device),
                width=width, height=height, sh_degree=sh_degree,
                backgrounds=torch.as_tensor(np.tile(np.asarray(background, np.float32), (c, 1)), device=device),
                render_mode="RGB+ED")
        colors = colors.cpu().numpy()
        rgbs.append(np.clip(colors[..., :3], 0.0, 1.0))
        a = alpha.cpu().numpy()[..., 0]
        alphas.append(a)
        depths.append(np.where(a > 1e-4, colors[..., 3], np.inf))
    return np.concatenate(rgbs), np.concatenate(alphas), np.concatenate(depths).astype(np.float32)
