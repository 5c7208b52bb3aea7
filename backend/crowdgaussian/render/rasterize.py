"""`rasterization()`: gsplat-shaped differentiable Gaussian splatting, gsplat on CUDA, numba on CPU.

Arguments and outputs follow `gsplat.rasterization` (pinhole cameras, classic or
antialiased mode): means [N,3], quats [N,4] (w,x,y,z, normalised inside), scales [N,3]
(linear), opacities [N] (0..1), colors [N,D] / [C,N,D] or SH coefficients [N,K,3] /
[C,N,K,3] with `sh_degree`, viewmats [C,4,4] world->camera (OpenCV), Ks [C,3,3] in
gsplat's pixel convention (pixel (x, y) is sampled at (x + 0.5, y + 0.5); see
`camera.camera_matrices` for our `types.Camera`). Returns (render_colors [C,H,W,D(+1)],
render_alphas [C,H,W,1], meta) where meta holds at least radii [C,N] int32, means2d
[C,N,2] (in the autograd graph: call `.retain_grad()` for densification), depths,
conics, opacities, width, height, n_cameras, tile_size.
"""
from __future__ import annotations

import functools
import importlib.util
import logging
from typing import Any

import torch
from torch import Tensor

from .cpu import RasterizeToPixels, intersect_tiles
from .projection import project_gaussians, spherical_harmonics

log = logging.getLogger(__name__)

RENDER_MODES = ("RGB", "D", "ED", "RGB+D", "RGB+ED")


def _evaluate_colors(colors: Tensor, means: Tensor, viewmats: Tensor, n_cams: int,
                     sh_degree: int | None) -> Tensor:
    """Per-camera colours [C,N,D]: as given, or SH toward each camera centre, +0.5, clamped >= 0."""
    if sh_degree is None:
        return colors.expand(n_cams, -1, -1) if colors.dim() == 2 else colors
    cam_centres = -torch.einsum("cji,cj->ci", viewmats[:, :3, :3], viewmats[:, :3, 3])
    dirs = means[None, :, :] - cam_centres[:, None, :]  # [C,N,3]
    rgb = spherical_harmonics(sh_degree, dirs, colors)
    return torch.clamp_min(rgb + 0.5, 0.0)


@functools.cache
def gsplat_available() -> bool:
    """True when gsplat is installed and its CUDA kernels load (gsplat 1.5 compiles them on
    first import and leaves `_C` None when it cannot, e.g. without the CUDA toolkit)."""
    if importlib.util.find_spec("gsplat") is None:
        return False
    try:
        from gsplat.cuda._backend import _C
    except Exception as exc:  # noqa: BLE001 - any build or load failure means "use the CPU path"
        log.warning("gsplat failed to load (%s): using the CPU rasterizer", exc)
        return False
    if _C is None:
        log.warning("gsplat's CUDA kernels could not be built: using the CPU rasterizer")
    return _C is not None


@functools.cache
def _warn_cpu_fallback() -> None:
    """Say once per process that CUDA tensors are rendered on the CPU."""
    log.warning("gsplat is not available: rendering CUDA tensors on the CPU")


def _use_gsplat(means: Tensor) -> bool:
    """True when the tensors live on CUDA and gsplat's kernels are available."""
    return means.is_cuda and gsplat_available()


def rasterization(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor,
                  colors: Tensor, viewmats: Tensor, Ks: Tensor, width: int, height: int,
                  near_plane: float = 0.01, far_plane: float = 1e10,
                  radius_clip: float = 0.0, eps2d: float = 0.3,
                  sh_degree: int | None = None, tile_size: int = 16,
                  backgrounds: Tensor | None = None, render_mode: str = "RGB",
                  rasterize_mode: str = "classic",
                  **gsplat_kwargs: Any) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Render C views of N Gaussians like gsplat.rasterization (see module doc).

    On CUDA with gsplat's kernels available this forwards everything to gsplat; otherwise
    the CPU backend runs (CUDA tensors are moved to the CPU and back).
    Extra keyword arguments only reach gsplat.
    """
    if render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode must be one of {RENDER_MODES}, got {render_mode!r}")
    if _use_gsplat(means):
        import gsplat

        # gsplat 1.5.3 rejects backgrounds in its default packed mode (it checks them against
        # the packed [nnz, ...] shape); its dense mode takes them
        gsplat_kwargs.setdefault("packed", backgrounds is None)
        return gsplat.rasterization(
            means, quats, scales, opacities, colors, viewmats, Ks, width, height,
            near_plane=near_plane, far_plane=far_plane, radius_clip=radius_clip,
            eps2d=eps2d, sh_degree=sh_degree, tile_size=tile_size, backgrounds=backgrounds,
            render_mode=render_mode, rasterize_mode=rasterize_mode, **gsplat_kwargs)
    if gsplat_kwargs:
        log.debug("CPU rasterizer ignores gsplat-only arguments %s", sorted(gsplat_kwargs))
    if means.is_cuda:
        _warn_cpu_fallback()
        tensors = [means, quats, scales, opacities, colors, viewmats, Ks, backgrounds]
        out = rasterization(*[t.cpu() if t is not None else None for t in tensors[:7]],
                            width, height, near_plane, far_plane, radius_clip, eps2d,
                            sh_degree, tile_size,
                            backgrounds.cpu() if backgrounds is not None else None,
                            render_mode, rasterize_mode)
        return out[0].to(means.device), out[1].to(means.device), out[2]
    return _rasterize_cpu(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                          near_plane, far_plane, radius_clip, eps2d, sh_degree, tile_size,
                          backgrounds, render_mode, rasterize_mode)


def _rasterize_cpu(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor,
                   colors: Tensor, viewmats: Tensor, Ks: Tensor, width: int, height: int,
                   near_plane: float, far_plane: float, radius_clip: float, eps2d: float,
                   sh_degree: int | None, tile_size: int, backgrounds: Tensor | None,
                   render_mode: str, rasterize_mode: str
                   ) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """CPU path: torch projection (autograd) + numba tile compositing (hand-written backward)."""
    if rasterize_mode not in ("classic", "antialiased"):
        raise ValueError(
            f"rasterize_mode must be 'classic' or 'antialiased', got {rasterize_mode!r}")
    n_cams = viewmats.shape[0]
    dtype = means.dtype  # one dtype everywhere: one compiled kernel specialisation
    quats, scales, opacities, colors, viewmats, Ks = (
        t.to(dtype) for t in (quats, scales, opacities, colors, viewmats, Ks))
    if backgrounds is not None:
        backgrounds = backgrounds.to(dtype)
    proj = project_gaussians(means, quats, scales, viewmats, Ks, width, height, eps2d,
                             near_plane, far_plane, radius_clip, opacities.detach(),
                             antialiased=rasterize_mode == "antialiased")
    opac = opacities[None, :].expand(n_cams, -1)
    if rasterize_mode == "antialiased":
        opac = opac * proj.compensations
    feats = _evaluate_colors(colors, means, viewmats, n_cams, sh_degree)
    depth = proj.depths[..., None]
    if render_mode in ("D", "ED"):
        feats, backgrounds = depth, None  # depth renders have a zero background
    elif render_mode in ("RGB+D", "RGB+ED"):
        feats = torch.cat([feats, depth], dim=-1)
        if backgrounds is not None:
            backgrounds = torch.cat([backgrounds, backgrounds.new_zeros(n_cams, 1)], dim=-1)
    isect = intersect_tiles(proj.means2d, proj.radii, proj.depths, width, height, tile_size)
    render_colors, render_alphas = RasterizeToPixels.apply(
        proj.means2d, proj.conics, feats, opac, backgrounds, isect, width, height)
    if render_mode in ("ED", "RGB+ED"):
        render_colors = torch.cat([render_colors[..., :-1],
                                   render_colors[..., -1:] / render_alphas.clamp(min=1e-10)], -1)
    meta = {"radii": proj.radii, "means2d": proj.means2d, "depths": proj.depths,
            "conics": proj.conics, "opacities": opac, "width": width, "height": height,
            "n_cameras": n_cams, "tile_size": tile_size, "tile_width": isect.tiles_x,
            "tile_height": isect.tiles_y, "n_fragments": isect.n_fragments}
    return render_colors, render_alphas, meta
