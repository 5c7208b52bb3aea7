"""Image metrics as the paper defines them (Appendix G): PSNR, SSIM and (when weights exist) LPIPS.

Images are float arrays in 0..1, [H, W, 3]. PSNR uses MAX = 1 over all pixels (eqs. 13-14);
SSIM is the standard Wang et al. 2004 index with an 11x11 Gaussian window (sigma 1.5),
K1 = 0.01, K2 = 0.03, averaged over the window positions and the colour channels (eq. 15).
"""
from __future__ import annotations

import cv2
import numpy as np

SSIM_C1 = 0.01 ** 2
SSIM_C2 = 0.03 ** 2


def psnr(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (MAX = 1); over `mask` pixels only when given."""
    diff = (np.asarray(pred, np.float64) - np.asarray(truth, np.float64)) ** 2
    mse = float(diff[mask].mean()) if mask is not None else float(diff.mean())
    return float(10.0 * np.log10(1.0 / max(mse, 1e-12)))


def ssim(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean structural similarity (Gaussian 11x11 window, sigma 1.5) over pixels and channels."""
    x = np.asarray(pred, np.float64)
    y = np.asarray(truth, np.float64)

    def blur(a: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(a, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    num = (2 * mx * my + SSIM_C1) * (2 * sxy + SSIM_C2)
    den = (mx * mx + my * my + SSIM_C1) * (sxx + syy + SSIM_C2)
    return float((num / den).mean())
