"""Render lists of people's Gaussians with the gsplat-shaped rasterizer (previews, evaluation)."""
from __future__ import annotations

import numpy as np
import torch

from crowdgaussian import types
from crowdgaussian.gaussians.fit import RASTERIZE_MODE
from crowdgaussian.gaussians.tint import render_colors
from crowdgaussian.render import rasterization


def to_torch(gaussians: list[types.Gaussians], device: str = "cpu") -> tuple[dict[str, torch.Tensor], int | None]:
    """People's world Gaussians concatenated into float32 tensors named like gsplat's arguments,
    and the sh_degree their `colors` need (None: plain RGB; see gaussians.tint)."""
    def cat(name: str) -> torch.Tensor:
        arr = np.concatenate([np.asarray(getattr(g, name), dtype=np.float32) for g in gaussians])
        return torch.from_numpy(arr).to(device)

    colors, sh_degree = render_colors(gaussians)
    return {"means": cat("means"), "quats": cat("quats"), "scales": cat("scales"),
            "opacities": cat("opacities"), "colors": torch.from_numpy(colors).to(device)}, sh_degree


def render_people(gaussians_list: list[types.Gaussians], viewmats: np.ndarray, Ks: np.ndarray,
                  width: int, height: int, background: tuple[float, float, float] = (1.0, 1.0, 1.0),
                  device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(rgb [C, H, W, 3] float 0..1 over `background`, alpha [C, H, W, 1]) of all people together.

    Ks as `Camera.K`: continuous pixel coordinates, which is gsplat's convention too.
    """
    n_cams = len(viewmats)
    if not gaussians_list or sum(len(g.means) for g in gaussians_list) == 0:
        rgb = np.broadcast_to(np.asarray(background, np.float32), (n_cams, height, width, 3)).copy()
        return rgb, np.zeros((n_cams, height, width, 1), np.float32)
    t, sh_degree = to_torch(gaussians_list, device)
    ks = torch.as_tensor(np.asarray(Ks), dtype=torch.float32, device=device)
    bg = torch.tensor(background, dtype=torch.float32, device=device).expand(n_cams, 3)
    with torch.no_grad():
        rgb, alpha, _ = rasterization(
            t["means"], t["quats"], t["scales"], t["opacities"], t["colors"],
            torch.as_tensor(np.asarray(viewmats), dtype=torch.float32, device=device),
            ks,
            int(width), int(height), sh_degree=sh_degree, backgrounds=bg, rasterize_mode=RASTERIZE_MODE)
    return rgb.clamp(0, 1).cpu().numpy(), alpha.cpu().numpy()
