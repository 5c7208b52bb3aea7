"""Camera matrices for `rasterization()` from our `types.Camera`.

Our cameras use the OpenCV frame and integer pixel centres (`Camera.K(scale)`); gsplat
samples pixel (x, y) at (x + 0.5, y + 0.5), so its principal point is ours + 0.5.
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
    K[0, 2] += 0.5
    K[1, 2] += 0.5
    viewmat = torch.tensor(camera.world_to_camera, dtype=dtype)
    return viewmat, K, int(round(camera.width * scale)), int(round(camera.height * scale))
