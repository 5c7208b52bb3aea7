"""Baked lighting for ground-truth bodies: a soft sky light from above plus ambient, darkened in hollows.

Photographed people are shaded (eye sockets, under the nose and chin, armpits), and face and
person detectors trained on photos rely on it; flat colours do not read as people to them. The
light is an overcast sky (surfaces facing up are brightest, facing down darkest), the same all
round: a person's back is lit like the front, as in the near-uniform capture light of scanned
people (THuman2.1), so the orbit views do not judge a light the photo cannot show. It is a
deterministic function of the posed body.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from crowdgaussian.gaussians.anchor import vertex_normals

UP = np.array([0.0, 0.0, 1.0])  # toward the sky
AMBIENT, DIFFUSE = 0.5, 0.6  # facing up 1.1, sideways (front, back, sides) 0.8, facing down 0.5
FINE_HOLLOW, COARSE_HOLLOW = 0.015, 0.05  # meters: eye sockets, nostrils; armpits, under the chin, between legs
COARSE_OCCLUDERS = 4000  # surface samples the coarse hollows are measured against (bounds the cost)
HOLLOW_DARKENING = 1.6  # shade x (1 - this x mean elevation of the neighbours above the tangent plane)


def hollowness(vertices: np.ndarray, normals: np.ndarray, occluders: np.ndarray, radius: float,
               weights: np.ndarray | None = None) -> np.ndarray:
    """[V] 0..1 mean sine of the elevation above each vertex's tangent plane of the `occluders` within
    `radius` (weighted by `weights`, e.g. the surface area each stands for).

    0 on flat or convex surface, larger in hollows, where the surrounding surface hides part of
    the sky: a cheap ambient-occlusion proxy.
    """
    near = cKDTree(vertices).sparse_distance_matrix(cKDTree(occluders), radius, output_type="ndarray")
    i, j, dist = near["i"], near["j"], near["v"]
    sine = np.clip(np.einsum("nd,nd->n", occluders[j] - vertices[i], normals[i]) / np.maximum(dist, 1e-9), 0.0, 1.0)
    w = np.ones(len(occluders)) if weights is None else weights
    total = np.bincount(i, weights=w[j], minlength=len(vertices))
    return np.bincount(i, weights=sine * w[j], minlength=len(vertices)) / np.maximum(total, 1e-12)


def vertex_shading(vertices: np.ndarray, faces: np.ndarray, surface_points: np.ndarray,
                   point_areas: np.ndarray) -> np.ndarray:
    """[V] brightness factor of a posed mesh: sky light plus ambient, darkened in hollows.

    Fine hollows are measured against the mesh vertices (dense on the face), coarse ones against
    `surface_points` weighted by the surface area each stands for (the vertex density varies too much).
    """
    normals = vertex_normals(vertices, faces)
    sky = AMBIENT + DIFFUSE * 0.5 * (1.0 + normals @ UP)
    every = -(-len(surface_points) // COARSE_OCCLUDERS)  # the samples are random: a strided subset is too
    hollow = 0.5 * (hollowness(vertices, normals, vertices, FINE_HOLLOW)
                    + hollowness(vertices, normals, surface_points[::every], COARSE_HOLLOW, point_areas[::every]))
    return sky * np.clip(1.0 - HOLLOW_DARKENING * hollow, 0.3, 1.0)
