"""Body-anchored Gaussians: surface sampling, the triangle binding, skinning and rig posing.

A Gaussian is bound to a rest-pose body triangle by barycentric coordinates plus an
offset along the interpolated vertex normal; its world pose comes from linear blend
skinning with the bary-interpolated vertex weights, exactly what the Blender rig does.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """[F] triangle areas (m^2)."""
    v = vertices[faces]
    return 0.5 * np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1)


def sample_surface(vertices: np.ndarray, faces: np.ndarray, n: int,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(tri [n] int64, bary [n, 3]) spread evenly by area: systematic sampling over faces.

    Systematic (not i.i.d.) sampling gives each triangle its area share of points, so
    the density is even and the scale-from-spacing rule below closes the surface.
    """
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(face_areas(vertices, faces).astype(np.float64))
    positions = (rng.random() + np.arange(n)) * (cdf[-1] / n)
    tri = np.minimum(np.searchsorted(cdf, positions, side="right"), len(faces) - 1)
    r1, r2 = np.sqrt(rng.random(n)), rng.random(n)
    bary = np.stack([1.0 - r1, r1 * (1.0 - r2), r1 * r2], axis=1)
    return tri.astype(np.int64), bary


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """[V, 3] area-weighted unit vertex normals."""
    v = vertices[faces]
    fn = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    vn = np.zeros_like(vertices, dtype=np.float64)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def anchor_points(vertices: np.ndarray, faces: np.ndarray, tri: np.ndarray, bary: np.ndarray,
                  offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(points [N, 3], unit normals [N, 3]): bary point on the triangle + offset * normal."""
    corners = faces[tri]
    normal = np.einsum("nk,nkc->nc", bary, vertex_normals(vertices, faces)[corners])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    points = np.einsum("nk,nkc->nc", bary, vertices[corners].astype(np.float64))
    return points + offset[:, None] * normal, normal


def anchor_points_torch(vertices: torch.Tensor, vnormals: torch.Tensor, faces: torch.Tensor,
                        tri: torch.Tensor, bary: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Differentiable twin of anchor_points (points only) for the photometric fit."""
    corners = faces[tri]
    normal = torch.einsum("nk,nkc->nc", bary, vnormals[corners])
    normal = normal / normal.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.einsum("nk,nkc->nc", bary, vertices[corners]) + offset[:, None] * normal


def tangent_quats(vertices: np.ndarray, faces: np.ndarray, tri: np.ndarray,
                  normal: np.ndarray) -> np.ndarray:
    """[N, 4] (w, x, y, z) rotations whose local z axis is the surface normal (thin axis)."""
    v = vertices[faces[tri]].astype(np.float64)
    t1 = v[:, 1] - v[:, 0]
    t1 -= np.sum(t1 * normal, axis=1, keepdims=True) * normal
    t1 /= np.maximum(np.linalg.norm(t1, axis=1, keepdims=True), 1e-12)
    t2 = np.cross(normal, t1)
    return matrix_to_quat(np.stack([t1, t2, normal], axis=2))


def spacing_scales(points: np.ndarray, thickness_ratio: float = 0.15, k: int = 4,
                   coverage: float = 0.8) -> np.ndarray:
    """[N, 3] linear scales: in-plane sigma from the local point spacing, thin along z.

    coverage * (mean distance to the k nearest neighbours) makes neighbouring splats
    overlap enough that the surface renders closed (alpha ~1, no holes).
    """
    dist, _ = cKDTree(points).query(points, k=k + 1)
    s = coverage * dist[:, 1:].mean(axis=1)
    s = np.clip(s, 0.5 * np.median(s), 2.0 * np.median(s))
    return np.stack([s, s, thickness_ratio * s], axis=1)


def gaussian_skinning(skin_indices: np.ndarray, skin_weights: np.ndarray, faces: np.ndarray,
                      tri: np.ndarray, bary: np.ndarray, n_bones: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-Gaussian (indices [N, K] int32, weights [N, K] float32): bary blend of corner weights.

    Keeps the K largest blended weights (K = the body's) and renormalises them to sum 1.
    """
    n, kk = len(tri), skin_indices.shape[1]
    dense = np.zeros((n, n_bones), dtype=np.float64)
    rows = np.repeat(np.arange(n), kk)
    for c in range(3):
        vid = faces[tri, c]
        np.add.at(dense, (rows, skin_indices[vid].reshape(-1)),
                  (bary[:, c:c + 1] * skin_weights[vid]).reshape(-1))
    idx = np.argsort(-dense, axis=1)[:, :kk]
    w = np.take_along_axis(dense, idx, axis=1)
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return idx.astype(np.int32), w.astype(np.float32)


def blended_matrices(rest_to_world: np.ndarray, skin_indices: np.ndarray,
                     skin_weights: np.ndarray) -> np.ndarray:
    """[N, 4, 4] per-Gaussian linear-blend matrices sum_k w_k * rest_to_world[idx_k]."""
    return np.einsum("nk,nkij->nij", skin_weights.astype(np.float64), rest_to_world[skin_indices])


def polar_rotation(m: np.ndarray) -> np.ndarray:
    """[N, 3, 3] nearest rotations (polar decomposition via SVD) of [N, 3, 3] matrices."""
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    u[:, :, 2] *= d[:, None]
    return u @ vt


def matrix_to_quat(r: np.ndarray) -> np.ndarray:
    """[N, 4] unit quaternions (w, x, y, z) from [N, 3, 3] rotation matrices."""
    q = Rotation.from_matrix(r).as_quat()  # scipy is (x, y, z, w)
    return np.concatenate([q[:, 3:], q[:, :3]], axis=1)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """[N, 3, 3] rotation matrices from [N, 4] quaternions (w, x, y, z)."""
    return Rotation.from_quat(np.concatenate([q[:, 1:], q[:, :1]], axis=1)).as_matrix()


def skin_points(means_rest: np.ndarray, quats_rest: np.ndarray, rest_to_world: np.ndarray,
                skin_indices: np.ndarray, skin_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LBS of rest Gaussians: (means [N, 3], quats [N, 4]) posed by `rest_to_world` [B, 4, 4].

    Means go through the blended matrix; rotations through its rotation (polar) part.
    """
    m = blended_matrices(rest_to_world, skin_indices, skin_weights)
    means = np.einsum("nij,nj->ni", m[:, :3, :3], means_rest.astype(np.float64)) + m[:, :3, 3]
    rot = polar_rotation(m[:, :3, :3]) @ quat_to_matrix(quats_rest)
    return means, matrix_to_quat(rot)
