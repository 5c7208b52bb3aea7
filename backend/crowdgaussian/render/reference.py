"""Dense pure-torch reference of the rasterizer's image formula, for tests and benchmarks.

Every pixel looks at every Gaussian of its camera (memory Gaussians x pixels, chunked over
pixels), with the same rules as gsplat: a Gaussian only reaches the pixels of the tiles
its footprint square touches, alpha = min(0.999, o exp(-sigma)), skip sigma < 0 or alpha <
1/255, stop before the transmittance would reach 1e-4, front-to-back by camera depth
(ties in index order). Gradients are plain torch autograd. Slow by design.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .projection import project_gaussians
from .rasterize import _evaluate_colors

ALPHA_MAX, ALPHA_MIN, T_MIN = 0.999, 1.0 / 255.0, 1e-4


def _tile_rects(means2d: Tensor, radii: Tensor, tile_size: int, tiles_x: int,
                tiles_y: int) -> Tensor:
    """[N,4] half-open tile ranges x0, x1, y0, y1 of each footprint square (empty when culled)."""
    tm = means2d.detach() / tile_size
    tr = radii.to(means2d.dtype) / tile_size
    x0 = torch.floor(tm[:, 0] - tr).clamp(0, tiles_x)
    x1 = torch.ceil(tm[:, 0] + tr).clamp(0, tiles_x)
    y0 = torch.floor(tm[:, 1] - tr).clamp(0, tiles_y)
    y1 = torch.ceil(tm[:, 1] + tr).clamp(0, tiles_y)
    x1 = torch.where(radii > 0, x1, x0)
    return torch.stack([x0, x1, y0, y1], dim=-1)


def composite_dense(means2d: Tensor, conics: Tensor, colors: Tensor, opacities: Tensor,
                    radii: Tensor, depths: Tensor, width: int, height: int,
                    window: tuple[int, int, int, int] | None = None, tile_size: int = 16,
                    chunk_elems: int = 1 << 22) -> tuple[Tensor, Tensor]:
    """One camera: colours [h,w,D] and alphas [h,w,1] of the pixel window (y0, y1, x0, x1)
    (default: whole image) from [N] 2D Gaussians; chunk pixels x N <= chunk_elems."""
    y_start, y_end, x_start, x_end = window if window is not None else (0, height, 0, width)
    keep = torch.nonzero(radii > 0).flatten()
    keep = keep[torch.sort(depths.detach()[keep], stable=True).indices]
    m2d, con, col, opa = means2d[keep], conics[keep], colors[keep], opacities[keep]
    tiles_x, tiles_y = math.ceil(width / tile_size), math.ceil(height / tile_size)
    rects = _tile_rects(m2d, radii[keep], tile_size, tiles_x, tiles_y)
    ys, xs = torch.meshgrid(torch.arange(y_start, y_end), torch.arange(x_start, x_end),
                            indexing="ij")
    pix = torch.stack([xs.flatten(), ys.flatten()], dim=-1)
    step = max(1, chunk_elems // max(1, len(keep)))
    out_c, out_a = [], []
    for p in pix.split(step):
        d = m2d[None, :, :] - (p[:, None, :].to(m2d.dtype) + 0.5)  # [P,N,2]
        sigma = (0.5 * (con[:, 0] * d[..., 0] ** 2 + con[:, 2] * d[..., 1] ** 2)
                 + con[:, 1] * d[..., 0] * d[..., 1])
        alpha = torch.clamp_max(opa * torch.exp(-sigma), ALPHA_MAX)
        tile = (p // tile_size).to(rects.dtype)
        in_tile = ((tile[:, None, 0] >= rects[:, 0]) & (tile[:, None, 0] < rects[:, 1])
                   & (tile[:, None, 1] >= rects[:, 2]) & (tile[:, None, 1] < rects[:, 3]))
        with torch.no_grad():
            used = in_tile & (sigma >= 0) & (alpha >= ALPHA_MIN)
            before_stop = torch.cumprod(torch.where(used, 1 - alpha, torch.ones_like(alpha)), 1)
            used &= before_stop > T_MIN
        alpha = torch.where(used, alpha, torch.zeros_like(alpha))
        trans_incl = torch.cumprod(1 - alpha, dim=1)
        trans = torch.cat([torch.ones_like(trans_incl[:, :1]), trans_incl[:, :-1]], dim=1)
        weights = alpha * trans
        out_c.append(weights @ col)
        out_a.append(1 - trans_incl[:, -1:] if len(keep) else torch.zeros(len(p), 1))
    shape = (y_end - y_start, x_end - x_start)
    return (torch.cat(out_c).reshape(*shape, -1),
            torch.cat(out_a).reshape(*shape, 1).to(means2d.dtype))


def rasterization_reference(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor,
                            colors: Tensor, viewmats: Tensor, Ks: Tensor, width: int,
                            height: int, near_plane: float = 0.01, far_plane: float = 1e10,
                            eps2d: float = 0.3, sh_degree: int | None = None,
                            backgrounds: Tensor | None = None, render_mode: str = "RGB",
                            window: tuple[int, int, int, int] | None = None
                            ) -> tuple[Tensor, Tensor]:
    """Dense twin of `rasterization()` (classic mode): same projection, dense compositing,
    optionally only for the pixel window (y0, y1, x0, x1)."""
    n_cams = viewmats.shape[0]
    proj = project_gaussians(means, quats, scales, viewmats, Ks, width, height, eps2d,
                             near_plane, far_plane, opacities=opacities.detach())
    feats = _evaluate_colors(colors, means, viewmats, n_cams, sh_degree)
    if render_mode in ("D", "ED"):
        feats, backgrounds = proj.depths[..., None], None
    elif render_mode in ("RGB+D", "RGB+ED"):
        feats = torch.cat([feats, proj.depths[..., None]], dim=-1)
        if backgrounds is not None:
            backgrounds = torch.cat([backgrounds, backgrounds.new_zeros(n_cams, 1)], dim=-1)
    outs_c, outs_a = [], []
    for c in range(n_cams):
        img, alpha = composite_dense(proj.means2d[c], proj.conics[c], feats[c], opacities,
                                     proj.radii[c], proj.depths[c], width, height, window)
        if backgrounds is not None:
            img = img + (1 - alpha) * backgrounds[c]
        if render_mode in ("ED", "RGB+ED"):
            img = torch.cat([img[..., :-1], img[..., -1:] / alpha.clamp(min=1e-10)], dim=-1)
        outs_c.append(img)
        outs_a.append(alpha)
    return torch.stack(outs_c), torch.stack(outs_a)
