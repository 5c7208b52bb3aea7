"""CPU tile rasterizer: intersections + numba compositing wrapped in a torch.autograd.Function.

The differentiable inputs are gsplat's 2D quantities (means2d, conics, colours, opacities,
backgrounds); the backward is the hand-written tile pass in `kernels.py`, so memory is
proportional to the fragments (Gaussian-tile pairs), never to Gaussians x pixels.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
import torch
from torch import Tensor

from . import kernels


@dataclass
class Intersections:
    """Per-tile depth-ordered Gaussian lists for C cameras (see kernels.py for the layout)."""

    offsets: np.ndarray  # [C * tiles_y * tiles_x + 1] int64
    flat_ids: np.ndarray  # [n_fragments] int32, camera * N + gaussian
    gauss_start: np.ndarray  # [C * N + 1] int64, per-Gaussian slice of gauss_frags
    gauss_frags: np.ndarray  # [n_fragments] int32, fragment slots of each Gaussian
    tiles_x: int
    tiles_y: int
    tile_size: int

    @property
    def n_fragments(self) -> int:
        """Number of (Gaussian, tile) pairs."""
        return int(self.flat_ids.shape[0])


def intersect_tiles(means2d: Tensor, radii: Tensor, depths: Tensor, width: int, height: int,
                    tile_size: int = 16) -> Intersections:
    """Tile lists for [C,N] projected Gaussians: footprint-square culling, front-to-back order."""
    n_cams, n = radii.shape
    tiles_x = (width + tile_size - 1) // tile_size
    tiles_y = (height + tile_size - 1) // tile_size
    m2d = means2d.detach().reshape(-1, 2).contiguous().numpy()
    rad = radii.reshape(-1).contiguous().numpy()
    rects = kernels.tile_rects(m2d, rad, tile_size, tiles_x, tiles_y)
    visible = np.flatnonzero(rad > 0)
    dep = depths.detach().reshape(-1).numpy()[visible]
    order = visible[np.argsort(dep, kind="stable")]
    offsets, flat_ids, gauss_start, gauss_frags = kernels.build_intersections(
        order, rects, n, tiles_x, tiles_x * tiles_y, n_cams * tiles_x * tiles_y)
    return Intersections(offsets, flat_ids, gauss_start, gauss_frags, tiles_x, tiles_y, tile_size)


@contextmanager
def _dynamic_tiles() -> Iterator[None]:
    """Hand tiles to threads TILE_CHUNK at a time (uneven tiles, cores shared with others)."""
    old = numba.set_parallel_chunksize(kernels.TILE_CHUNK)
    try:
        yield
    finally:
        numba.set_parallel_chunksize(old)


def _np(t: Tensor) -> np.ndarray:
    """Contiguous numpy view of a detached CPU tensor."""
    return t.detach().contiguous().numpy()


class RasterizeToPixels(torch.autograd.Function):
    """Composite [C,N] 2D Gaussians into [C,H,W,D] colours and [C,H,W,1] alphas."""

    @staticmethod
    def forward(ctx, means2d: Tensor, conics: Tensor, colors: Tensor, opacities: Tensor,
                backgrounds: Tensor | None, isect: Intersections, width: int,
                height: int) -> tuple[Tensor, Tensor]:
        n_cams, n, n_ch = colors.shape
        dtype = colors.dtype
        args = (_np(means2d.reshape(-1, 2)), _np(conics.reshape(-1, 3)),
                _np(colors.reshape(-1, n_ch)), _np(opacities.reshape(-1)))
        out_color = np.zeros((n_cams, height, width, n_ch), dtype=args[2].dtype)
        out_trans = np.ones((n_cams, height, width), dtype=np.float64)
        out_last = np.full((n_cams, height, width), -1, dtype=np.int64)
        with _dynamic_tiles():
            kernels.rasterize_forward(*args, isect.offsets, isect.flat_ids, width, height,
                                      isect.tile_size, isect.tiles_x,
                                      isect.tiles_x * isect.tiles_y, out_color, out_trans, out_last)
        trans = torch.from_numpy(out_trans)
        color = torch.from_numpy(out_color)
        if backgrounds is not None:
            color = color + trans.to(dtype)[..., None] * backgrounds[:, None, None, :]
        ctx.isect, ctx.size, ctx.args, ctx.last = isect, (width, height), args, out_last
        ctx.trans = out_trans
        ctx.has_bg = backgrounds is not None
        ctx.save_for_backward(backgrounds if backgrounds is not None else torch.empty(0))
        ctx.shapes = (n_cams, n, n_ch, dtype)
        return color.to(dtype), (1.0 - trans).to(dtype)[..., None]

    @staticmethod
    def backward(ctx, v_color: Tensor, v_alpha: Tensor):
        (backgrounds,) = ctx.saved_tensors
        n_cams, n, n_ch, dtype = ctx.shapes
        isect: Intersections = ctx.isect
        width, height = ctx.size
        v_color = v_color.to(torch.float64)
        v_trans = -v_alpha[..., 0].to(torch.float64)
        v_bg = None
        if ctx.has_bg:
            trans = torch.from_numpy(ctx.trans)
            v_trans = v_trans + (v_color * backgrounds.to(torch.float64)[:, None, None, :]).sum(-1)
            v_bg = (v_color * trans[..., None]).sum(dim=(1, 2)).to(dtype)
        frag = np.zeros((isect.n_fragments, kernels.GRAD_COLS + n_ch), dtype=ctx.args[2].dtype)
        with _dynamic_tiles():
            kernels.rasterize_backward(*ctx.args, isect.offsets, isect.flat_ids, width, height,
                                       isect.tile_size, isect.tiles_x,
                                       isect.tiles_x * isect.tiles_y, ctx.trans, ctx.last,
                                       _np(v_color), _np(v_trans), frag)
        per_gauss = np.zeros((n_cams * n, kernels.GRAD_COLS + n_ch), dtype=np.float64)
        kernels.reduce_fragments(frag, isect.gauss_start, isect.gauss_frags, per_gauss)
        grads = torch.from_numpy(per_gauss).to(dtype).reshape(n_cams, n, -1)
        return (grads[..., 0:2], grads[..., 2:5], grads[..., kernels.GRAD_COLS:], grads[..., 5],
                v_bg, None, None, None)


def warmup(dtype: torch.dtype = torch.float32) -> None:
    """Compile the numba kernels for `dtype` (or load them from numba's on-disk cache).

    A cold compile takes ~25 s on a busy 2-core machine, a cached load well under 1 s;
    call this from install/doctor steps so the first real render does not pay for it.
    """
    from .rasterize import rasterization

    params = [torch.tensor([[0.0, 0.0, 2.0]], dtype=dtype),
              torch.tensor([[1.0, 0, 0, 0]], dtype=dtype), torch.full((1, 3), 0.1, dtype=dtype),
              torch.ones(1, dtype=dtype), torch.ones(1, 3, dtype=dtype)]
    for p in params:
        p.requires_grad_(True)
    Ks = torch.tensor([[[16.0, 0, 8], [0, 16, 8], [0, 0, 1]]], dtype=dtype)
    img, alpha, _ = rasterization(*params, torch.eye(4, dtype=dtype)[None], Ks, 16, 16)
    (img.sum() + alpha.sum()).backward()
