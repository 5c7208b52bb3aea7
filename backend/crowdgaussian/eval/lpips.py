"""LPIPS (VGG16 variant, Zhang et al. 2018) from local weight files only; skipped with a reason otherwise.

Two files are needed, never downloaded: the ImageNet VGG16 weights in torchvision's
state-dict layout (`features.<i>.weight/bias`), found at $CROWDGAUSSIAN_LPIPS_VGG or
<models_dir>/lpips/vgg16.pth, and LPIPS's linear layers (`lin<k>.model.1.weight`, v0.1),
found at $CROWDGAUSSIAN_LPIPS_LIN, <models_dir>/lpips/vgg_lin.pth, or inside an installed
`lpips` package (lpips/weights/v0.1/vgg.pth).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from crowdgaussian.models import models_dir

# torchvision vgg16.features: conv layer indices, and the ReLU outputs LPIPS taps (relu1_2 ... relu5_3)
_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
_POOL_AFTER = (2, 7, 14, 21)  # a 2x2 max-pool follows the ReLU of these convs
_TAPS = (2, 7, 14, 21, 28)
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


def _vgg_path() -> Path | None:
    """The VGG16 checkpoint, if present locally."""
    env = os.environ.get("CROWDGAUSSIAN_LPIPS_VGG")
    candidates = [Path(env)] if env else []
    candidates.append(models_dir() / "lpips" / "vgg16.pth")
    return next((p for p in candidates if p.is_file()), None)


def _lin_path() -> Path | None:
    """LPIPS's linear-layer weights, if present locally (env, models dir or the lpips package)."""
    env = os.environ.get("CROWDGAUSSIAN_LPIPS_LIN")
    candidates = [Path(env)] if env else []
    candidates.append(models_dir() / "lpips" / "vgg_lin.pth")
    spec = importlib.util.find_spec("lpips")
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "weights" / "v0.1" / "vgg.pth")
    return next((p for p in candidates if p.is_file()), None)


def lpips_status() -> tuple[bool, str]:
    """(available, message): whether LPIPS can run here, and what is missing if not."""
    vgg, lin = _vgg_path(), _lin_path()
    if vgg is None:
        return False, ("LPIPS skipped: no local VGG16 checkpoint (set CROWDGAUSSIAN_LPIPS_VGG to a torchvision "
                       f"vgg16 state dict, or put it at {models_dir() / 'lpips' / 'vgg16.pth'})")
    if lin is None:
        return False, ("LPIPS skipped: no LPIPS linear weights (set CROWDGAUSSIAN_LPIPS_LIN, put vgg_lin.pth in "
                       f"{models_dir() / 'lpips'}, or install the `lpips` package)")
    return True, f"LPIPS (VGG16) with {vgg} and {lin}"


class Lpips:
    """LPIPS-VGG distance between float images in 0..1, [H, W, 3] (lower is more similar)."""

    def __init__(self, vgg_path: Path | None = None, lin_path: Path | None = None, device: str = "cpu") -> None:
        import torch

        vgg_path, lin_path = vgg_path or _vgg_path(), lin_path or _lin_path()
        if vgg_path is None or lin_path is None:
            raise FileNotFoundError(lpips_status()[1])
        vgg = torch.load(vgg_path, map_location=device, weights_only=True)
        lin = torch.load(lin_path, map_location=device, weights_only=True)
        vgg = {k.removeprefix("features."): v for k, v in vgg.items() if k.startswith("features.") or k[0].isdigit()}
        self.convs = [(vgg[f"{i}.weight"].float(), vgg[f"{i}.bias"].float()) for i in _CONVS]
        self.lins = [lin[f"lin{k}.model.1.weight"].float() for k in range(len(_TAPS))]
        self.shift = torch.tensor(_SHIFT, device=device).view(1, 3, 1, 1)
        self.scale = torch.tensor(_SCALE, device=device).view(1, 3, 1, 1)
        self.device = device

    def _features(self, x):
        """The five tapped, channel-normalised VGG16 feature maps of a [1, 3, H, W] batch."""
        import torch.nn.functional as F

        x = (x * 2.0 - 1.0 - self.shift) / self.scale
        feats = []
        for conv_index, (w, b) in zip(_CONVS, self.convs):
            x = F.relu(F.conv2d(x, w, b, padding=1))
            if conv_index in _TAPS:
                feats.append(x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10))
            if conv_index in _POOL_AFTER:
                x = F.max_pool2d(x, 2, 2)
        return feats

    def __call__(self, pred: np.ndarray, truth: np.ndarray) -> float:
        """LPIPS distance of two images."""
        import torch

        def batch(a: np.ndarray):
            return torch.as_tensor(np.asarray(a, np.float32), device=self.device).permute(2, 0, 1)[None]

        with torch.no_grad():
            total = 0.0
            for fa, fb, w in zip(self._features(batch(pred)), self._features(batch(truth)), self.lins):
                total += float(((fa - fb) ** 2 * w).sum(dim=1).mean())
        return total
