"""Differentiable Gaussian splatting: gsplat on CUDA, a numba tile rasterizer on CPU.

Use `rasterization(...)` exactly like `gsplat.rasterization`; `camera_matrices(camera)`
turns a `types.Camera` into (viewmat, K, width, height) in gsplat's conventions.
"""
from .camera import camera_matrices
from .cpu import warmup
from .rasterize import RENDER_MODES, rasterization

__all__ = ["RENDER_MODES", "camera_matrices", "rasterization", "warmup"]
