"""Scene props as plain Gaussians: a stool under every sitting person (so nobody sits on air), and a
table with a cloth to the floor that hides a group's laps and legs (the benchmark's "table" scenes)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

SPLATS_PER_M2 = 40000.0


@dataclass
class Splats:
    """Unrigged Gaussians of a prop: exactly what the rasterizer needs (quats w, x, y, z)."""

    means: np.ndarray  # [N, 3]
    quats: np.ndarray  # [N, 4]
    scales: np.ndarray  # [N, 3]
    opacities: np.ndarray  # [N]
    colors: np.ndarray  # [N, 3]


def box_splats(centre: np.ndarray, half: np.ndarray, yaw_deg: float, colour: np.ndarray,
               rng: np.random.Generator, density: float = SPLATS_PER_M2) -> Splats:
    """Flat splats (`density` per m²) covering the six faces of a box turned by `yaw_deg` about Z."""
    rot = Rotation.from_euler("z", yaw_deg, degrees=True)
    means, quats, colours = [], [], []
    for axis in range(3):
        u, v = [a for a in range(3) if a != axis]
        area = 4 * half[u] * half[v]
        n = max(8, int(area * density))
        for sign in (-1.0, 1.0):
            p = np.zeros((n, 3))
            p[:, axis] = sign * half[axis]
            p[:, u] = rng.uniform(-half[u], half[u], n)
            p[:, v] = rng.uniform(-half[v], half[v], n)
            frame = np.eye(3)[:, [u, v, axis]]
            if np.linalg.det(frame) < 0:
                frame[:, 0] *= -1
            q = (rot * Rotation.from_matrix(frame)).as_quat()  # x, y, z, w
            means.append(rot.apply(p) + centre)
            quats.append(np.tile(np.r_[q[3], q[:3]], (n, 1)))
            shade = 1.0 if sign > 0 and axis == 2 else 0.8
            colours.append(np.tile(colour * shade, (n, 1)) * rng.uniform(0.93, 1.05, (n, 1)))
    means_all = np.concatenate(means)
    sigma = 0.7 / np.sqrt(density)
    return Splats(means=means_all.astype(np.float32), quats=np.concatenate(quats).astype(np.float32),
                  scales=np.tile([sigma, sigma, 0.001], (len(means_all), 1)).astype(np.float32),
                  opacities=np.full(len(means_all), 0.98, np.float32),
                  colors=np.clip(np.concatenate(colours), 0, 1).astype(np.float32))


def stool(seat: np.ndarray, yaw_deg: float, rng: np.random.Generator) -> Splats:
    """A four-legged stool whose top surface is centred at `seat` (x, y, top z)."""
    colour = rng.uniform(0.25, 0.6) * np.array([1.0, 0.75, 0.5])
    top, side, thick, leg = seat[2], float(rng.uniform(0.17, 0.22)), 0.03, 0.018
    rot = Rotation.from_euler("z", yaw_deg, degrees=True)
    parts = [box_splats(np.array([seat[0], seat[1], top - thick]), np.array([side, side, thick]), yaw_deg, colour,
                        rng)]
    for dx in (-1, 1):
        for dy in (-1, 1):
            corner = seat + rot.apply([dx * (side - leg), dy * (side - leg), 0.0])
            h = (top - 2 * thick) / 2
            parts.append(box_splats(np.array([corner[0], corner[1], h]), np.array([leg, leg, h]), yaw_deg,
                                    colour * 0.8, rng))
    return Splats(*[np.concatenate([getattr(p, f) for p in parts]) for f in
                    ("means", "quats", "scales", "opacities", "colors")])


TABLE_SPLATS_PER_M2 = 8000.0  # a plain cloth needs no fine detail, and the table is large


def table(x_range: tuple[float, float], back_y: float, rng: np.random.Generator) -> Splats:
    """A table covered by a cloth down to the floor, spanning `x_range`, its back edge at `back_y`
    (the camera looks along +Y), 0.6-0.8 m deep and 0.72-0.78 m high: top and cloth in one colour."""
    depth, height = float(rng.uniform(0.6, 0.8)), float(rng.uniform(0.72, 0.78))
    colour = rng.uniform(0.15, 0.85, 3)
    centre = np.array([(x_range[0] + x_range[1]) / 2, back_y - depth / 2, height / 2])
    half = np.array([(x_range[1] - x_range[0]) / 2, depth / 2, height / 2])
    return box_splats(centre, half, 0.0, colour, rng, TABLE_SPLATS_PER_M2)
