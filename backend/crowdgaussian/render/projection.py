"""EWA projection of 3D Gaussians to the image plane and SH colours, in plain torch (O(N)).

Matches gsplat's `fully_fused_projection` (pinhole) and `spherical_harmonics`: world ->
camera with the viewmat, covariance R S S^T R^T, the perspective Jacobian evaluated at
the mean with x/z, y/z clamped to 1.3x the field of view, `eps2d` added to the 2D
covariance diagonal, gsplat's opacity-aware extent (the footprint reaches as far as
alpha >= 1/255: k = sqrt(2 ln(255 opacity)) <= 3.33 standard deviations, Gaussians under
1/255 culled; k = 3.33 without opacities) with radius = ceil(k sqrt(largest eigenvalue)),
near/far culling on the camera z and culling of footprints entirely outside the image.
gsplat bounds each axis separately; the circle holds the same contributing pixels, so
both render the same fragments. Gradients come from torch autograd; this part is per
Gaussian, so it is cheap next to the rasterizer.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from .kernels import ALPHA_MIN

MAX_EXTEND = 3.33  # gsplat's largest footprint, in standard deviations


@dataclass
class Projected:
    """Per-camera 2D Gaussians: means2d [C,N,2], conics [C,N,3] (a,b,c of the inverse 2D
    covariance), depths [C,N] (camera z), radii [C,N] int32 (0 = culled) and
    compensations [C,N] (sqrt(det before eps2d / det after), used by antialiased mode)."""

    means2d: Tensor
    conics: Tensor
    depths: Tensor
    radii: Tensor
    compensations: Tensor


def quat_to_rotmat(quats: Tensor) -> Tensor:
    """Rotation matrices [...,3,3] from quaternions (w, x, y, z), normalised here."""
    w, x, y, z = F.normalize(quats, dim=-1).unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(quats.shape[:-1] + (3, 3))


def project_gaussians(means: Tensor, quats: Tensor, scales: Tensor, viewmats: Tensor,
                      Ks: Tensor, width: int, height: int, eps2d: float = 0.3,
                      near_plane: float = 0.01, far_plane: float = 1e10,
                      radius_clip: float = 0.0, opacities: Tensor | None = None,
                      antialiased: bool = False) -> Projected:
    """Project N world Gaussians into C pinhole cameras the way gsplat does (see module doc).

    `opacities` [N] bound each footprint to where alpha can reach 1/255 (times the
    compensation when `antialiased`, since that mode scales opacity by it)."""
    rot_scale = quat_to_rotmat(quats) * scales[..., None, :]  # [N,3,3] = R S
    cam_rot, cam_t = viewmats[:, :3, :3], viewmats[:, :3, 3]
    means_c = torch.einsum("cij,nj->cni", cam_rot, means) + cam_t[:, None, :]  # [C,N,3]
    m_c = torch.einsum("cij,njk->cnik", cam_rot, rot_scale)  # [C,N,3,3]
    covars_c = m_c @ m_c.transpose(-1, -2)
    x, y, z = means_c.unbind(-1)
    in_depth = (z > near_plane) & (z < far_plane)
    zs = torch.where(in_depth, z, torch.ones_like(z))  # keeps culled entries finite
    fx, fy = Ks[:, 0, 0, None], Ks[:, 1, 1, None]
    cx, cy = Ks[:, 0, 2, None], Ks[:, 1, 2, None]
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    tx = zs * torch.clamp(x / zs, min=-(cx / fx + 0.3 * tan_x),
                          max=(width - cx) / fx + 0.3 * tan_x)
    ty = zs * torch.clamp(y / zs, min=-(cy / fy + 0.3 * tan_y),
                          max=(height - cy) / fy + 0.3 * tan_y)
    zero = torch.zeros_like(zs)
    jac = torch.stack([fx / zs, zero, -fx * tx / (zs * zs),
                       zero, fy / zs, -fy * ty / (zs * zs)], dim=-1).reshape(z.shape + (2, 3))
    cov2d = jac @ covars_c @ jac.transpose(-1, -2)
    det_orig = cov2d[..., 0, 0] * cov2d[..., 1, 1] - cov2d[..., 0, 1] * cov2d[..., 1, 0]
    c00 = cov2d[..., 0, 0] + eps2d
    c11 = cov2d[..., 1, 1] + eps2d
    c01 = 0.5 * (cov2d[..., 0, 1] + cov2d[..., 1, 0])
    det = c00 * c11 - c01 * c01
    valid = in_depth & (det > 0)
    det_s = torch.where(valid, det, torch.ones_like(det))
    conics = torch.stack([c11 / det_s, -c01 / det_s, c00 / det_s], dim=-1)
    compensations = torch.sqrt(torch.clamp(det_orig / det_s, min=0.0))
    means2d = torch.stack([fx * x / zs + cx, fy * y / zs + cy], dim=-1)
    means2d = torch.where(valid[..., None], means2d, torch.zeros_like(means2d))
    with torch.no_grad():
        b = 0.5 * (c00 + c11)
        extend: Tensor | float = MAX_EXTEND
        if opacities is not None:
            opac = opacities[None, :] * (compensations if antialiased else 1.0)
            valid = valid & (opac >= ALPHA_MIN)
            extend = torch.sqrt(2.0 * torch.log(torch.clamp(opac / ALPHA_MIN, min=1.0))).clamp(max=MAX_EXTEND)
        radius = torch.ceil(extend * torch.sqrt(b + torch.sqrt(torch.clamp(b * b - det, min=0.01))))
        mx, my = means2d[..., 0], means2d[..., 1]
        inside = ((mx + radius > 0) & (mx - radius < width)
                  & (my + radius > 0) & (my - radius < height))
        keep = valid & inside & (radius > radius_clip)
        radii = torch.where(keep, radius, torch.zeros_like(radius)).to(torch.int32)
    return Projected(means2d, conics, z, radii, compensations)


_SH_C0 = 0.28209479177387814


def _sh_bases(n_bases: int, dirs: Tensor) -> Tensor:
    """Real SH basis values [..., n_bases] (degree <= 4) in gsplat's order and signs."""
    x, y, z = dirs.unbind(-1)
    out = [torch.full_like(x, _SH_C0)]
    if n_bases > 1:
        out += [-0.48860251190292 * y, 0.48860251190292 * z, -0.48860251190292 * x]
    if n_bases > 4:
        z2 = z * z
        c1, s1 = x * x - y * y, 2 * x * y
        out += [0.5462742152960395 * s1, -1.092548430592079 * z * y,
                0.9461746957575601 * z2 - 0.3153915652525201,
                -1.092548430592079 * z * x, 0.5462742152960395 * c1]
    if n_bases > 9:
        tc = -2.285228997322329 * z2 + 0.4570457994644658
        c2, s2 = x * c1 - y * s1, x * s1 + y * c1
        out += [-0.5900435899266435 * s2, 1.445305721320277 * z * s1, tc * y,
                z * (1.865881662950577 * z2 - 1.119528997770346), tc * x,
                1.445305721320277 * z * c1, -0.5900435899266435 * c2]
    if n_bases > 16:
        td = z * (-4.683325804901025 * z2 + 2.007139630671868)
        tc4 = 3.31161143515146 * z2 - 0.47308734787878
        c3, s3 = x * c2 - y * s2, x * s2 + y * c2
        out += [0.6258357354491763 * s3, -1.770130769779931 * z * s2, tc4 * s1, td * y,
                1.984313483298443 * z2 * (1.865881662950577 * z2 - 1.119528997770346)
                - 1.006230589874905 * (0.9461746957575601 * z2 - 0.3153915652525201),
                td * x, tc4 * c1, -1.770130769779931 * z * c2, 0.6258357354491763 * c3]
    return torch.stack(out[:n_bases], dim=-1)


def spherical_harmonics(degree: int, dirs: Tensor, coeffs: Tensor) -> Tensor:
    """Colour [..., 3] = sum of SH coeffs [..., K, 3] (first (degree+1)^2 used) at unit(dirs)."""
    if not 0 <= degree <= 4:
        raise ValueError(f"sh_degree must be in 0..4, got {degree}")
    n_bases = (degree + 1) ** 2
    if coeffs.shape[-2] < n_bases:
        raise ValueError(f"sh_degree {degree} needs {n_bases} coefficients, got {coeffs.shape[-2]}")
    bases = _sh_bases(n_bases, F.normalize(dirs, dim=-1))
    return (bases[..., None] * coeffs[..., :n_bases, :]).sum(dim=-2)
