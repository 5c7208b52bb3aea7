"""The standard INRIA 3DGS PLY: what every Gaussian-splat viewer reads.

Vertex properties x y z nx ny nz f_dc_0..2 f_rest_0..44 opacity scale_0..2 rot_0..3, binary
little-endian float32; opacity stored as a logit, scales as logs, rotations as w x y z,
colour as the SH DC coefficient (rgb - 0.5) / C0. Always SH degree 3 (higher bands zero where
we have none): the reference viewer (SIBR) reads each vertex as a fixed record of 62 floats and
the reference loader asserts 45 f_rest, so any other count is misread or refused there.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from plyfile import PlyData, PlyElement

SH_C0 = 0.28209479177387814
LAYOUT_SH_DEGREE = 3  # of the reference layout
LAYOUT_SH_REST = (LAYOUT_SH_DEGREE + 1) ** 2 - 1  # 15 higher-band coefficients per channel


def rgb_to_sh_dc(rgb: np.ndarray) -> np.ndarray:
    """RGB in 0..1 -> degree-0 SH coefficient (3DGS convention)."""
    return (np.asarray(rgb, dtype=np.float64) - 0.5) / SH_C0


def sh_dc_to_rgb(dc: np.ndarray) -> np.ndarray:
    """Degree-0 SH coefficient -> RGB (unclamped)."""
    return np.asarray(dc, dtype=np.float64) * SH_C0 + 0.5


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1.0 - 1e-6)
    return np.log(p / (1.0 - p))


def write_gaussians_ply(path: str | Path, means: np.ndarray, quats: np.ndarray, scales: np.ndarray,
                        opacities: np.ndarray, colors: np.ndarray, sh_rest: np.ndarray | None = None) -> None:
    """Write Gaussians (linear scales, opacity 0..1, RGB 0..1, quats wxyz) as a 3DGS PLY.

    sh_rest: optional [N, M, 3] higher-band coefficients (M <= 15: degree 1, 2 or 3), padded
    with zeros to degree 3 and written channel-major (f_rest_0..14 red, then green, then blue)
    as the reference implementation does.
    """
    n = len(means)
    quats = np.asarray(quats, dtype=np.float64)
    quats = quats / np.maximum(np.linalg.norm(quats, axis=1, keepdims=True), 1e-12)
    rest = np.zeros((n, LAYOUT_SH_REST, 3))
    if sh_rest is not None:
        if sh_rest.shape[1] > LAYOUT_SH_REST:
            raise ValueError(f"SH above degree {LAYOUT_SH_DEGREE} does not fit the 3DGS PLY layout")
        rest[:, :sh_rest.shape[1]] = sh_rest
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(3 * LAYOUT_SH_REST)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    cols = [np.asarray(means, dtype=np.float64), np.zeros((n, 3)), rgb_to_sh_dc(colors),
            np.transpose(rest, (0, 2, 1)).reshape(n, 3 * LAYOUT_SH_REST)]
    cols += [_logit(opacities)[:, None], np.log(np.maximum(np.asarray(scales, dtype=np.float64), 1e-12)), quats]
    data = np.concatenate(cols, axis=1).astype(np.float32)
    vertex = np.empty(n, dtype=[(name, "<f4") for name in names])
    for i, name in enumerate(names):
        vertex[name] = data[:, i]
    PlyData([PlyElement.describe(vertex, "vertex")], byte_order="<").write(str(path))


def read_gaussians_ply(path: str | Path) -> dict[str, np.ndarray]:
    """Read a 3DGS PLY back into linear parameters: means, quats, scales, opacities, colors and,
    where the file has f_rest, sh_rest [N, M, 3] trimmed of trailing all-zero bands (ours pad to degree 3)."""
    v = PlyData.read(str(path))["vertex"].data
    names = v.dtype.names
    rest = sorted((n for n in names if n.startswith("f_rest_")), key=lambda s: int(s.split("_")[-1]))
    n = len(v)
    out = {
        "means": np.stack([v["x"], v["y"], v["z"]], 1).astype(np.float64),
        "colors": sh_dc_to_rgb(np.stack([v["f_dc_0"], v["f_dc_1"], v["f_dc_2"]], 1)),
        "opacities": 1.0 / (1.0 + np.exp(-v["opacity"].astype(np.float64))),
        "scales": np.exp(np.stack([v["scale_0"], v["scale_1"], v["scale_2"]], 1).astype(np.float64)),
        "quats": np.stack([v["rot_0"], v["rot_1"], v["rot_2"], v["rot_3"]], 1).astype(np.float64),
    }
    if rest:
        m = len(rest) // 3
        sh = np.stack([v[r] for r in rest], 1).reshape(n, 3, m).transpose(0, 2, 1).astype(np.float64)
        used = np.flatnonzero(np.abs(sh).max(axis=(0, 2)) > 0)
        degree = int(np.ceil(np.sqrt(used[-1] + 2))) - 1 if len(used) else 0
        if degree:
            out["sh_rest"] = sh[:, :(degree + 1) ** 2 - 1]
    return out
