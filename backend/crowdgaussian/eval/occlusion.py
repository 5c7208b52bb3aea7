"""The paper's occlusion simulator (Appendix A), driven to a target occlusion ratio, and degraded inputs.

Appendix A builds a mask from keypoint-centred ellipses (semi-axes U(30, 100) px, up to 5,
head landmarks excluded), quadratic Bezier bands (U{0..5}), a straight cut with p = 0.5
(at most 70 % of the area), their union closed and then dilated with a 5x5 kernel, 3
iterations. Pixel sizes (and the smoothing iterations) are the paper's for a ~512-px person
crop and are scaled by the person's box size here. To reach a *target* ratio of each person's region we add primitives
greedily, each at the size that best approaches the target (see `simulate_occlusion`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from crowdgaussian import types

PAPER_CROP_PX = 512.0  # person size the paper's pixel ranges refer to
KERNEL = np.ones((5, 5), np.uint8)
MORPH_ITERATIONS = 3
MAX_CUT_FRACTION = 0.7
HEAD_LANDMARKS = 11  # BlazePose indices 0..10 are the face


def smooth(mask: np.ndarray, iterations: int = MORPH_ITERATIONS) -> np.ndarray:
    """The paper's post-processing: 5x5 closing then dilation, 3 iterations each at paper scale."""
    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, KERNEL, iterations=iterations)
    return cv2.dilate(m, KERNEL, iterations=iterations).astype(bool)


def _person_scale(region: np.ndarray) -> float:
    """Person size in units of the paper's 512-px crop (largest side of the region's box)."""
    ys, xs = np.nonzero(region)
    return max(int(np.ptp(ys)) + 1, int(np.ptp(xs)) + 1) / PAPER_CROP_PX


Primitive = Callable[[float], np.ndarray]  # size factor in (0, 1] -> bool mask


def _ellipse(shape: tuple[int, int], centre: np.ndarray, axes: np.ndarray, angle: float) -> Primitive:
    """Filled rotated ellipse scaled by the size factor."""
    def draw(s: float) -> np.ndarray:
        m = np.zeros(shape, np.uint8)
        ax = tuple(int(max(1, round(a * s))) for a in axes)
        cv2.ellipse(m, (int(centre[0]), int(centre[1])), ax, angle, 0, 360, 1, -1)  # pixel holding the centre
        return m.astype(bool)
    return draw


def _bezier_band(shape: tuple[int, int], ctrl: np.ndarray, thickness: float) -> Primitive:
    """Quadratic Bezier curve thickened into a filled band; the size factor scales its width."""
    t = np.linspace(0.0, 1.0, 48)[:, None]
    curve = (1 - t) ** 2 * ctrl[0] + 2 * (1 - t) * t * ctrl[1] + t ** 2 * ctrl[2]
    tangent = np.gradient(curve, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1) / (np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9)

    def draw(s: float) -> np.ndarray:
        half = 0.5 * thickness * s
        poly = np.concatenate([curve + half * normal, (curve - half * normal)[::-1]])
        m = np.zeros(shape, np.uint8)
        cv2.fillPoly(m, [np.floor(poly).astype(np.int32)], 1)
        return m.astype(bool)
    return draw


def _line_cut(shape: tuple[int, int], p1: np.ndarray, p2: np.ndarray, region: np.ndarray) -> Primitive:
    """Half-plane on one side of the line p1-p2 (eq. 9); the size factor slides its edge outward.

    At s = 1 the edge passes through p1-p2, limited so at most 70 % of `region` is cut.
    """
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]] + 0.5  # pixel centres
    side = (ys - p1[1]) * (p2[0] - p1[0]) - (xs - p1[0]) * (p2[1] - p1[1])
    side = side / (np.hypot(*(p2 - p1)) + 1e-9)
    inside = side[region] if region.any() else side.ravel()
    cap = np.quantile(inside, 1.0 - MAX_CUT_FRACTION)  # threshold that cuts 70 % of the region
    far = inside.max()
    start = max(0.0, cap)

    def draw(s: float) -> np.ndarray:
        return side > far - s * (far - start)
    return draw


@dataclass
class Occlusion:
    """A simulated occluder mask and the ratio it hides of each target region."""

    mask: np.ndarray  # bool [H, W]
    ratios: list[float]
    n_primitives: int


def _sample_primitives(rng: np.random.Generator, shape: tuple[int, int], region: np.ndarray,
                       keypoints: np.ndarray | None, first: bool) -> list[Primitive]:
    """One round of the paper's primitives (in random order) around `region`."""
    ys, xs = np.nonzero(region)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    px = _person_scale(region)
    prims: list[Primitive] = []
    if keypoints is not None:
        body = keypoints[HEAD_LANDMARKS:]
        body = body[(body[:, 2] > 0.5) & region[np.clip(np.floor(body[:, 1]).astype(int), 0, shape[0] - 1),
                                                 np.clip(np.floor(body[:, 0]).astype(int), 0, shape[1] - 1)]]
    else:
        body = np.zeros((0, 3))
    if len(body) == 0:  # no visible body keypoint: centre ellipses on region pixels
        pick = rng.integers(len(xs), size=5)
        body = np.stack([xs[pick] + 0.5, ys[pick] + 0.5, np.ones(5)], 1).astype(np.float64)
    for k in rng.choice(len(body), size=int(rng.integers(1, 6)), replace=True):
        prims.append(_ellipse(shape, body[k, :2], rng.uniform(30, 100, 2) * px, float(rng.uniform(0, 360))))
    pad = 0.2 * np.array([x1 - x0, y1 - y0])
    lo, hi = np.array([x0, y0]) - pad, np.array([x1, y1]) + pad
    for _ in range(int(rng.integers(0, 6))):
        prims.append(_bezier_band(shape, rng.uniform(lo, hi, (3, 2)), float(rng.uniform(40, 120) * px)))
    if first and rng.random() < 0.5:
        prims.append(_line_cut(shape, rng.uniform(lo, hi), rng.uniform(lo, hi), region))
    order = rng.permutation(len(prims))
    return [prims[i] for i in order]


SIZES = np.geomspace(1.0, 0.04, 14)  # size factors tried for each primitive


def simulate_occlusion(regions: list[np.ndarray], target: float, rng: np.random.Generator,
                       keypoints: list[np.ndarray | None] | None = None, tol: float = 0.02,
                       max_primitives: int = 80) -> Occlusion:
    """Occluder mask hiding about `target` (0..1) of each bool region (see module doc).

    Greedy and shared between people (occluders in a crowd cover several of them): the
    person furthest below the target gets the next primitive of the paper's kinds around
    them, at the size (of `SIZES`) that most reduces sum (ratio - target)^2 over everyone
    without pushing anyone past target + 2 tol; a primitive that cannot help is dropped. The smoothing's iterations scale with the
    people's size like the primitives (3 at the paper's 512 px, at least 1).
    `keypoints` [33, 3] (x, y, visibility) per region place the ellipses on the body.
    """
    shape = regions[0].shape
    live = [i for i, r in enumerate(regions) if r.any()]
    areas = np.array([max(int(r.sum()), 1) for r in regions], np.float64)
    keypoints = keypoints or [None] * len(regions)

    def ratios(m: np.ndarray) -> np.ndarray:
        return np.array([(m & r).sum() for r in regions], np.float64) / areas

    def error(r: np.ndarray) -> float:
        return float(((r[live] - target) ** 2).sum())

    scales = [_person_scale(regions[i]) for i in live]
    iterations = int(np.clip(round(MORPH_ITERATIONS * float(np.median(scales))), 1, MORPH_ITERATIONS)) if live else 1

    raw = np.zeros(shape, bool)
    current = np.zeros(shape, bool)
    r_now = ratios(current)
    queues: dict[int, list[Primitive]] = {i: [] for i in live}
    first = {i: True for i in live}
    used = 0
    for _ in range(max_primitives):
        if not live or np.all(np.abs(r_now[live] - target) <= tol):
            break
        who = min(live, key=lambda i: r_now[i] - target)
        if r_now[who] - target > tol:
            break  # everyone is at or above the target
        if not queues[who]:
            queues[who] = _sample_primitives(rng, shape, regions[who], keypoints[who], first[who])
            first[who] = False
        prim = queues[who].pop()
        best = (error(r_now), None, None)
        ceiling = np.maximum(r_now, target + 2 * tol)  # never push anyone past the target (+2 tol)
        for s in SIZES:
            drawn = prim(float(s))
            cand = smooth(raw | drawn, iterations)
            r = ratios(cand)
            e = error(r)
            if e < best[0] - 1e-9 and np.all(r[live] <= ceiling[live]):
                best = (e, cand, drawn)
        if best[1] is not None:
            current, raw = best[1], raw | best[2]
            r_now = ratios(current)
            used += 1
    return Occlusion(current, [float(x) for x in r_now], used)


def paint_occluder(rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 photo with `mask` covered by an occluder that looks like one (textured, outlined)."""
    h, w = mask.shape
    base = rng.uniform(0.15, 0.85, 3)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    kind = rng.integers(3)
    if kind == 0:  # wood-like stripes
        tex = 0.85 + 0.15 * np.sin(xs * rng.uniform(0.2, 0.6) + 3 * np.sin(ys * 0.05))
    elif kind == 1:  # smooth blotches
        noise = cv2.GaussianBlur(rng.random((h, w)), (0, 0), sigmaX=6)
        tex = 0.8 + 0.4 * (noise - noise.min()) / (np.ptp(noise) + 1e-9)
    else:  # plain with a vertical light gradient
        tex = 0.8 + 0.2 * (1 - ys / h)
    fill = np.clip(base * tex[..., None], 0, 1) * 255
    out = rgb.copy()
    out[mask] = fill[mask].astype(np.uint8)
    edge = mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    out[edge] = (0.5 * fill[edge]).astype(np.uint8)
    return out


def occlude_people(photo_rgb: np.ndarray, regions: list[np.ndarray], keypoints: list[np.ndarray | None],
                   target: float, rng: np.random.Generator) -> tuple[np.ndarray, Occlusion]:
    """The photo with people occluded to about `target` each (painted occluder) and the occlusion."""
    occ = simulate_occlusion(regions, target, rng, keypoints=keypoints)
    return paint_occluder(photo_rgb, occ.mask, rng), occ


def downsample_photo(photo: types.Photo, factor: int) -> types.Photo:
    """The photo at 1/factor resolution (area filter); full-resolution camera intrinsics stay valid."""
    h, w = photo.rgb.shape[:2]
    small = cv2.resize(photo.rgb, (max(1, round(w / factor)), max(1, round(h / factor))),
                       interpolation=cv2.INTER_AREA)
    return types.Photo(rgb=small, full_width=photo.full_width, full_height=photo.full_height,
                       scale=photo.scale * small.shape[1] / w, path=photo.path,
                       focal_35mm=photo.focal_35mm, focal_mm=photo.focal_mm, sensor_width_mm=photo.sensor_width_mm)
