"""Differentiable Gaussian splatting: gsplat on CUDA, a numba tile rasterizer on CPU.

Use `rasterization(...)` exactly like `gsplat.rasterization`; `camera_matrices(camera)`
turns a `types.Camera` into (viewmat, K, width, height) in gsplat's conventions;
`warmup()` compiles the CPU kernels ahead of the first render.

CPU backend (what and why). Per-Gaussian work (EWA projection, SH colours) is plain
torch with autograd: it is O(N) and gives gradients for means, quats, scales, opacities,
colours, SH and even cameras for free. The O(fragments x pixels) part, tile compositing,
is numba (`kernels.py`): stable depth sort + counting sort into 16x16 tiles, one thread
per tile front to back, a hand-written back-to-front backward (3DGS/gsplat style) that
writes one gradient row per (Gaussian, tile) fragment and reduces them per Gaussian, so
no atomics and memory proportional to fragments. numba was chosen because it met the
goal with a wide margin on the first implementation and needs no compiler at install
time (a C++/OpenMP extension would, and must match torch's ABI); Warp kernels were not
benchmarked. Measured on the shared 2-core CPU (other jobs running, load 7-11, so
pessimistic): 100k Gaussians at 512x512 forward+backward 0.2 s when the machine was
quiet, 0.6-1.1 s under that load, ~4000x faster than the dense torch reference
(extrapolated; see benchmarks/rasterizer.py). Single-thread CPU time for 100k at 512:
0.37 s (forward kernel 0.12, backward kernel 0.17); 500k at 1024: 1.6 s.
First call compiles the kernels: ~25 s per dtype on the busy machine, then cached by
numba (`cache=True`, in __pycache__ or numba's user cache dir): < 1 s.

Set OMP_WAIT_POLICY=PASSIVE in the environment before torch is imported: torch and
numba share libgomp, whose spinning idle threads made renders 2-5x slower (and tiny
renders 20-40x slower) on the loaded 2-core machine.

Differences from gsplat: radii are [C,N] (one radius, gsplat <= 1.5 style), not [C,N,2];
no packed / sparse-gradient / absgrad / distributed modes, pinhole cameras only on CPU.
"""
from .camera import camera_matrices
from .cpu import warmup
from .rasterize import RENDER_MODES, gsplat_available, rasterization

__all__ = ["RENDER_MODES", "camera_matrices", "gsplat_available", "rasterization", "warmup"]
