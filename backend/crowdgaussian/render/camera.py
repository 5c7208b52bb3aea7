"""Camera matrices for `rasterization()` from our `types.Camera`.

Our cameras use the OpenCV frame and gsplat's continuous pixel coordinates (pixel x spans
[x, x + 1), sampled at x + 0.5), so `Camera.K(scale)` is gsplat's K unchanged.
`world_to_camera` is already gsplat's viewmat. For C views stack the results:
`viewmats = torch.stack([...])`, `Ks = torch.stack([...])`.
"""
from __future__ import annotations

import torch

from ..types import Camera


def camera_matrices(camera: Camera, scale: float = 1.0, dtype: torch.dtype = torch.float32
                    ) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """(viewmat [4,4], K [3,3], width, height) to render `camera` at `scale` x full resolution."""
    K = torch.tensor(camera.K(scale), dtype=dtype)
    viewmat = torch.tensor(camera.world_to_camera, dtype=dtype)
    return viewmat, K, int(round(camera.width * scale)), int(round(camera.height * scale))
