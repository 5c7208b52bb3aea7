"""Dress a posed anny body as ground-truth Gaussians: flat splats sampled on the skin surface.

Splats are area-uniform samples on the triangles (denser and smaller on the head, so faces keep
their features at photo resolution), oriented with the surface (thin along the normal),
coloured by the outfit at their rest-pose position and lit as posed (shading.py); they are filled
into a complete `types.Gaussians` (rest pose, skinning, triangle binding) so other stages can
reuse the truth, e.g. to re-pose it.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from crowdgaussian import types
from crowdgaussian.gaussians.parts import dominant_bones

from .garments import HEAD_PARTS, Outfit, part_labels
from .posing import PosedBody
from .shading import vertex_shading

SKIN_K = 4  # bone influences kept per Gaussian
SPLAT_SIZE = 0.9  # splat sigma in sample spacings: few holes, so the dark far side of a body never shows through
HEAD_DETAIL = 4.0  # splats per m^2 on the head, relative to the body: faces need it to read as faces


def _frames(tri_vertices: np.ndarray) -> np.ndarray:
    """[N, 3, 3] right-handed frames (columns: tangent, bitangent, normal) of triangles [N, 3, 3]."""
    e1 = tri_vertices[:, 1] - tri_vertices[:, 0]
    e2 = tri_vertices[:, 2] - tri_vertices[:, 0]
    n = np.cross(e1, e2)
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    t = e1 / (np.linalg.norm(e1, axis=1, keepdims=True) + 1e-12)
    b = np.cross(n, t)
    return np.stack([t, b, n], axis=2)


def _quats_wxyz(frames: np.ndarray) -> np.ndarray:
    """[N, 4] (w, x, y, z) quaternions of rotation matrices [N, 3, 3]."""
    xyzw = Rotation.from_matrix(frames).as_quat()
    return np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1)


def _skin(body: PosedBody, tri: np.ndarray, bary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-Gaussian top-K bone indices and renormalised weights interpolated from the vertices."""
    n_bones = len(body.bone_labels)
    dense = np.zeros((len(tri), n_bones), dtype=np.float32)
    rows = np.arange(len(tri))
    for corner in range(3):
        v = body.faces[tri, corner]
        for k in range(body.skin_indices.shape[1]):
            np.add.at(dense, (rows, body.skin_indices[v, k]), bary[:, corner] * body.skin_weights[v, k])
    idx = np.argsort(-dense, axis=1)[:, :SKIN_K].astype(np.int32)
    w = np.take_along_axis(dense, idx, axis=1)
    return idx, (w / np.maximum(w.sum(axis=1, keepdims=True), 1e-8)).astype(np.float32)


def _sample(area: np.ndarray, detail: np.ndarray, n: int, rng: np.random.Generator,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangle, barycentric coordinates and splats per m^2 of `n` samples, `detail` times denser per triangle."""
    weight = area * detail
    tri = rng.choice(len(area), size=n, p=weight / weight.sum()).astype(np.int32)
    r1, r2 = np.sqrt(rng.random(n)), rng.random(n)
    bary = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], axis=1)
    return tri, bary, n * detail[tri] / weight.sum()


def dress_body(body: PosedBody, outfit: Outfit, n_gaussians: int, rng: np.random.Generator,
               thickness: float = 0.002, opacity: float = 0.97) -> types.Gaussians:
    """Ground-truth Gaussians of one dressed body (world and rest pose, skinning, binding)."""
    faces = body.faces
    world = body.vertices_world.astype(np.float64)[faces]
    rest = body.vertices_rest.astype(np.float64)[faces]
    area = 0.5 * np.linalg.norm(np.cross(rest[:, 1] - rest[:, 0], rest[:, 2] - rest[:, 0]), axis=1)
    vertex_parts = part_labels(body.vertices_rest, dominant_bones(body.skin_indices, body.skin_weights),
                               body.bone_labels)
    detail = np.where(np.isin(vertex_parts[faces], HEAD_PARTS).any(axis=1), HEAD_DETAIL, 1.0)
    tri, bary, density = _sample(area, detail, n_gaussians, rng)
    means = np.einsum("nk,nkd->nd", bary, world[tri])
    means_rest = np.einsum("nk,nkd->nd", bary, rest[tri])

    parts = vertex_parts[faces[tri, np.argmax(bary, axis=1)]]
    light = vertex_shading(body.vertices_world.astype(np.float64), faces, means, 1.0 / density)
    shade = np.einsum("nk,nk->n", bary, light[faces[tri]])
    # baked light, and a little variation so surfaces are not perfectly flat colour
    colours = outfit.colours(means_rest, parts) * shade[:, None]
    colours = np.clip(colours * rng.uniform(0.94, 1.04, size=(n_gaussians, 1)), 0.0, 1.0)

    sigma = SPLAT_SIZE / np.sqrt(density)
    scales = np.stack([sigma, sigma, np.full(n_gaussians, thickness)], axis=1)
    skin_idx, skin_w = _skin(body, tri, bary)
    return types.Gaussians(
        means=means.astype(np.float32), quats=_quats_wxyz(_frames(world[tri])).astype(np.float32),
        scales=scales.astype(np.float32), opacities=np.full(n_gaussians, opacity, np.float32),
        colors=colours.astype(np.float32), means_rest=means_rest.astype(np.float32),
        quats_rest=_quats_wxyz(_frames(rest[tri])).astype(np.float32), skin_indices=skin_idx,
        skin_weights=skin_w, tri=tri, bary=bary.astype(np.float32),
        offset=np.zeros(n_gaussians, np.float32), visible=np.ones(n_gaussians, dtype=bool))
