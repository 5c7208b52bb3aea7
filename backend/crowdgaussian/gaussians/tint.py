"""Photo tint: colour that only the photo camera sees, stored as degree-2 spherical harmonics.

A pixel on a person's outline mixes the person with what is behind. The photometric fit
matches such pixels by changing the colour of the splats there, which the photo sees edge-on
(or face-on but right at the outline); other views see them face-on and showed the
background's colour as speckles (blue from the bus on bus.jpg). So the fitted change of those
splats is kept as a tint that fades with the view direction d:
    colour(d) = base + tint * g(d . v),  g(t) = (t + t^2) / 2,
v the direction from the photo camera to the splat: g is 1 from the photo camera, 0 side-on
and 0 from behind. g is a polynomial of degree 2 on the sphere, so SH up to degree 2 (what
INRIA-style viewers and gsplat evaluate) hold it exactly; its mean over the sphere (1/6 of
the tint) goes into the DC colour, which viewers without SH (the Blender add-on) show.
"""
from __future__ import annotations

from functools import cache
from typing import Protocol

import numpy as np
import torch

from crowdgaussian.ply import SH_C0
from crowdgaussian.render.projection import spherical_harmonics

TINT_SH_DEGREE = 2
N_REST = (TINT_SH_DEGREE + 1) ** 2 - 1


class Colored(Protocol):
    """A splat set's colours: RGB (the SH DC term in colour space) and optional higher bands."""

    colors: np.ndarray


def lobe(t: np.ndarray) -> np.ndarray:
    """g(t): 1 towards the photo camera (t = 1), 0 side-on (t = 0) and from behind (t = -1)."""
    return (t + t * t) / 2


@cache
def _sh_least_squares() -> tuple[np.ndarray, np.ndarray]:
    """(sample directions [S, 3], pseudo-inverse [9, S] of the SH basis there): the map from a
    function's values at the samples to its SH coefficients (exact for polynomials of degree <= 2)."""
    k = np.arange(64) + 0.5  # a Fibonacci sphere
    z = 1 - 2 * k / 64
    phi = np.pi * (1 + 5 ** 0.5) * k
    dirs = np.stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z], axis=1)
    d, eye = torch.from_numpy(dirs), torch.eye(N_REST + 1, dtype=torch.float64)
    basis = np.stack([spherical_harmonics(TINT_SH_DEGREE, d, eye[j][None, :, None].expand(len(d), -1, 1))[:, 0].numpy()
                      for j in range(N_REST + 1)], axis=1)  # [S, 9]: basis function j at sample s
    return dirs, np.linalg.pinv(basis)


def tint_sh(means: np.ndarray, camera_centre: np.ndarray, tint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(DC colour shift [N, 3], higher bands [N, 8, 3]) that add tint * g(d . v) to each splat's colour."""
    dirs, pinv = _sh_least_squares()
    v = np.asarray(means, np.float64) - np.asarray(camera_centre, np.float64)[None]
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    coeffs = lobe(v @ dirs.T) @ pinv.T  # [N, 9]: g(d . v) in the SH basis
    tint = np.asarray(tint, np.float64)
    return coeffs[:, :1] * SH_C0 * tint, coeffs[:, 1:, None] * tint[:, None, :]


def render_colors(sets: list[Colored]) -> tuple[np.ndarray, int | None]:
    """The `colors` argument of rasterization() for several splat sets, and its sh_degree:
    RGB [N, 3] and None, or SH coefficients [N, 9, 3] and 2 when any set carries higher bands."""
    rest = [getattr(s, "sh_rest", None) for s in sets]
    if all(r is None for r in rest):
        return np.concatenate([np.asarray(s.colors, np.float32) for s in sets]), None
    coeffs = []
    for s, r in zip(sets, rest):
        dc = (np.asarray(s.colors, np.float64) - 0.5) / SH_C0
        higher = np.zeros((len(dc), N_REST, 3)) if r is None else np.asarray(r, np.float64)[:, :N_REST]
        coeffs.append(np.concatenate([dc[:, None, :], higher], axis=1))
    return np.concatenate(coeffs).astype(np.float32), TINT_SH_DEGREE
