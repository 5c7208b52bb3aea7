"""Photometric fit of the anchored Gaussians to the people's visible pixels.

Lean on purpose (CPU budget): one render per step of the union of the people's boxes
(shifted K), the steps taking the targets' resolutions in turn (a low one and the photo's
own, see build.FIT_SIDES), Adam on colours, opacities, log-scale deltas and the normal
offsets (so every mean stays triangle + barycentric + offset), each offset within its reach
(offset_reach: in by the local girth, out by MAX_OFFSET, or half the girth on hands).
Loss: L1 colour over the people's pixels (render composited over the photo, so gaps cost
only through the silhouette term), squared alpha-vs-mask silhouette error on the people's
pixels and a band around them as wide as the offsets can reach (farther out a body may be
hidden by an unknown occluder, and no offset could move it there anyway: judging those
pixels only sank hidden limbs into the body), small penalties on offsets and on colour
drift of splats seen only at grazing angles.
Colours, opacities and sizes of Gaussians the photo does not see are frozen: the completion
is kept.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from scipy.spatial import cKDTree

from crowdgaussian import types
from crowdgaussian.gaussians import parts, visibility
from crowdgaussian.image_io import frame_side
from crowdgaussian.gaussians.anchor import anchor_points_torch
from crowdgaussian.render import rasterization

log = logging.getLogger(__name__)

MAX_OFFSET = 0.06  # m: how far the fit may move a Gaussian along its normal (clothes, hair)
# ...and in by at most the local girth (the body's distance to its bone): pulled in farther, a
# surface comes out on the far side (in by half of it, a fitted limb wider than the photo's could
# not shrink onto its mask: bus.jpg's photo view fell from 26.6 to 24.7 dB where opaque).
GIRTH_SHARE_IN = 1.0
# Hands stand off by at most half their girth (about 1 cm): nothing is worn loosely on them, and 6 cm
# grew radial spikes, a hairy hand wherever the fitted hand missed the photo's (insightface's t1.jpg).
# Everything else may stand off the full MAX_OFFSET: clothes do (half the girth everywhere left
# bus.jpg's fur coat sleeves, trouser legs and shoes uncovered, 3.5 % of the masks against 1.4 %).
HAND_SHARE_OUT = 0.5
MIN_REACH = 0.003  # m
MIN_OPACITY = 0.6  # never make the body see-through
MAX_LOG_SCALE = 0.5  # the fit may grow or shrink a splat by at most e^0.5
# Classic 3DGS image formation (0.3 px^2 screen blur): what INRIA-style viewers and the Blender
# importer render, so the PLY looks in them as it did in the fit (fitting in gsplat's
# "antialiased" mode cost 4-6 dB when the same Gaussians were then rendered classically).
RASTERIZE_MODE = "classic"


@dataclass
class FitTarget:
    """The photo region the fit compares against, at the fit resolution."""

    image: torch.Tensor  # [H, W, 3] photo crop, 0..1
    mask: torch.Tensor  # [H, W] bool: pixels of any person
    judged: torch.Tensor  # [H, W] bool: pixels the silhouette term judges (people + the offsets' reach)
    viewmat: torch.Tensor  # [4, 4]
    K: torch.Tensor  # [3, 3] shifted to the crop, gsplat pixel convention
    width: int
    height: int


@dataclass
class FitParams:
    """Per-Gaussian tensors the fit reads (all people concatenated)."""

    vertices: torch.Tensor  # [Vtot, 3] rest vertices of all bodies (faces offset accordingly)
    vnormals: torch.Tensor  # [Vtot, 3]
    faces: torch.Tensor  # [Ftot, 3]
    tri: torch.Tensor  # [N] into faces
    bary: torch.Tensor  # [N, 3]
    offset: torch.Tensor  # [N]
    reach: torch.Tensor  # [N, 2] m, how far each offset may go in and out (offset_reach)
    linear: torch.Tensor  # [N, 3, 3] blended LBS matrix
    translation: torch.Tensor  # [N, 3]
    quats: torch.Tensor  # [N, 4] world
    scales: torch.Tensor  # [N, 3]
    opacities: torch.Tensor  # [N]
    colors: torch.Tensor  # [N, 3]
    fit_colour: torch.Tensor  # [N] bool: colour may change (the photo sees it)
    anchored_colour: torch.Tensor  # [N] bool: colour pulled back to its start (seen only at grazing angles)
    neighbours: torch.Tensor  # [N, k] indices of each Gaussian's nearest rest-pose neighbours


def offset_reach(vertices_rest: np.ndarray, skin_indices: np.ndarray, skin_weights: np.ndarray,
                 bones: list[types.Bone]) -> np.ndarray:
    """[V, 2] how far (m) the fit may move the surface at each rest vertex along its normal, in and
    out: in by GIRTH_SHARE_IN of its main bone's girth (the median distance of the bone's vertices
    to its segment, so that a fingertip beyond its bone's end counts as wide as the bone), out by
    MAX_OFFSET, or HAND_SHARE_OUT of the girth on a hand (parts.HANDS); within MIN_REACH..MAX_OFFSET."""
    v = np.asarray(vertices_rest, np.float64)
    bone = parts.dominant_bones(np.asarray(skin_indices), np.asarray(skin_weights))
    head = np.array([b.head for b in bones], np.float64)[bone]
    along = np.array([b.tail for b in bones], np.float64)[bone] - head
    t = np.clip(np.einsum("ij,ij->i", v - head, along) / np.maximum(np.einsum("ij,ij->i", along, along), 1e-12),
                0.0, 1.0)
    distance = np.linalg.norm(v - (head + t[:, None] * along), axis=1)
    girth = np.zeros(len(bones))
    for k in np.unique(bone):
        girth[k] = np.median(distance[bone == k])
    hand = np.array([parts.bone_region(b.name) == parts.HANDS for b in bones])[bone]
    outward = np.where(hand, HAND_SHARE_OUT * girth[bone], MAX_OFFSET)
    return np.clip(np.stack([GIRTH_SHARE_IN * girth[bone], outward], axis=1), MIN_REACH, MAX_OFFSET)


def make_target(photo_rgb: np.ndarray, masks: list[np.ndarray], world_to_camera: np.ndarray,
                K: np.ndarray, nearest_depth: float, image_side: int = 256, margin: float = 0.05) -> FitTarget:
    """Crop the union of the masks' boxes (plus a margin) out of the photo resized to a
    `frame_side` of `image_side` px (the resolution the photo view is judged at).

    `nearest_depth` (m, the nearest person's) sets the band the silhouette term judges around
    the masks: MAX_OFFSET seen at that depth, plus a pixel of blur."""
    union = np.any(np.stack(masks), axis=0)
    h, w = union.shape
    ys, xs = np.nonzero(union)
    pad = margin * frame_side(w, h)
    x0, x1 = int(max(0, xs.min() - pad)), int(min(w, xs.max() + 1 + pad))
    y0, y1 = int(max(0, ys.min() - pad)), int(min(h, ys.max() + 1 + pad))
    s = min(1.0, image_side / frame_side(w, h))
    cw, ch = max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s))
    img = cv2.resize(photo_rgb[y0:y1, x0:x1], (cw, ch), interpolation=cv2.INTER_AREA)
    msk = cv2.resize(union[y0:y1, x0:x1].astype(np.uint8), (cw, ch), interpolation=cv2.INTER_NEAREST)
    sx, sy = cw / (x1 - x0), ch / (y1 - y0)  # exact per-axis scales of the resize
    k = K.astype(np.float64).copy()  # continuous pixels (types.Camera): x_crop = (x - x0) * sx
    k[0, 0] *= sx
    k[1, 1] *= sy
    k[0, 2] = (k[0, 2] - x0) * sx
    k[1, 2] = (k[1, 2] - y0) * sy
    reach = MAX_OFFSET * k[0, 0] / max(nearest_depth, 1e-3) + 1.0
    judged = cv2.distanceTransform((msk == 0).astype(np.uint8), cv2.DIST_L2, 3) <= reach
    return FitTarget(torch.from_numpy(img.astype(np.float32) / 255.0), torch.from_numpy(msk > 0),
                     torch.from_numpy(judged),
                     torch.from_numpy(world_to_camera.astype(np.float32)), torch.from_numpy(k.astype(np.float32)),
                     cw, ch)


def outline_distance(target: FitTarget, means: np.ndarray) -> np.ndarray:
    """[N] distance (fit pixels) from each world point's projection to the nearest outline of the
    people's union mask, the pixels whose colour mixes a person with what lies behind."""
    mask = target.mask.cpu().numpy().astype(np.uint8)
    # inside: the distance to the nearest background pixel; outside: to the nearest person pixel
    to_edge = np.maximum(cv2.distanceTransform(mask, cv2.DIST_L2, 3), cv2.distanceTransform(1 - mask, cv2.DIST_L2, 3))
    px = visibility.project(np.asarray(means, np.float64), target.viewmat.cpu().numpy().astype(np.float64),
                            target.K.cpu().numpy().astype(np.float64))
    dist, _ = visibility.sample_nearest(to_edge, px[:, :2])  # beyond the crop: its border pixel
    return np.where(px[:, 2] > 0, dist, np.inf)


def _world_means(p: FitParams, offset: torch.Tensor) -> torch.Tensor:
    """Means through the binding (rest anchor) and the fixed per-Gaussian LBS matrices."""
    rest = anchor_points_torch(p.vertices, p.vnormals, p.faces, p.tri, p.bary, offset)
    return torch.einsum("nij,nj->ni", p.linear, rest) + p.translation


def _bounded_offset(raw: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
    """Offsets from the fit's free parameters, within (-reach[:, 0], reach[:, 1]): near zero a step
    moves every splat as far, whatever its reach (reach * tanh(raw) moved thin limbs' outlines too
    slowly to settle in the fit's steps)."""
    side = torch.where(raw < 0, reach[:, 0], reach[:, 1])
    return side * torch.tanh(raw * MAX_OFFSET / side)


def surface_neighbours(points: np.ndarray, k: int = 8) -> np.ndarray:
    """[N, k] indices of each point's k nearest other points (rest pose: neighbours on the body).

    With fewer than k + 1 points the missing neighbours are the point itself (no pull).
    """
    n = len(points)
    out = np.repeat(np.arange(n, dtype=np.int64)[:, None], k, axis=1)
    if n > 1:
        found = min(k, n - 1)
        out[:, :found] = cKDTree(points).query(points, k=found + 1)[1][:, 1:]
    return out


def fit(p: FitParams, targets: list[FitTarget], steps: int, report: Callable[[float, str], None] | None = None,
        silhouette_weight: float = 20.0, offset_weight: float = 0.02, colour_weight: float = 0.1,
        smooth_weight: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    """Adam fit, step k judged against targets[k % len(targets)]; returns (colors [N,3],
    opacities [N], scales [N,3], offsets [N], stats), stats' PSNR on targets[0]."""
    col_logit = torch.logit(p.colors.clamp(0.01, 0.99)).clone().requires_grad_(True)
    op0 = ((p.opacities.clamp(MIN_OPACITY + 0.01, 0.995) - MIN_OPACITY) / (1 - MIN_OPACITY))
    op_logit = torch.logit(op0).clone().requires_grad_(True)
    side = torch.where(p.offset < 0, p.reach[:, 0], p.reach[:, 1])
    off_raw = (torch.atanh((p.offset / side).clamp(-0.99, 0.99)) * side / MAX_OFFSET).clone().requires_grad_(True)
    dscale = torch.zeros(len(p.scales), 1, device=p.scales.device).requires_grad_(True)
    opt = torch.optim.Adam([{"params": [col_logit], "lr": 0.1}, {"params": [op_logit], "lr": 0.05},
                            {"params": [off_raw], "lr": 0.02}, {"params": [dscale], "lr": 0.02}])
    frozen = ~p.fit_colour
    col0 = col_logit.detach().clone()
    start_rgb, pulled = p.colors.clamp(0.01, 0.99), p.anchored_colour.float()[:, None]
    weights = [(t.mask[..., None].float(), t.judged[..., None].float()) for t in targets]  # (inside, judged)
    stats: dict = {"psnr_before": None, "psnr_after": None}
    t0, cpu0 = time.perf_counter(), time.process_time()

    op_start, dscale_start = op_logit.detach().clone(), dscale.detach().clone()

    def params() -> tuple[torch.Tensor, ...]:
        # what the photo never sees keeps its colour, opacity and size (completion stays whole);
        # offsets move everywhere, held smooth over the surface (see the smoothness term): freezing
        # the unseen ones let a limb's back poke through its pulled-in front (speckles, -7 dB on bus.jpg)
        cols = torch.sigmoid(torch.where(frozen[:, None], col0, col_logit))
        ops = MIN_OPACITY + (1 - MIN_OPACITY) * torch.sigmoid(torch.where(frozen, op_start, op_logit))
        scales = p.scales * torch.exp(MAX_LOG_SCALE * torch.tanh(torch.where(frozen[:, None], dscale_start, dscale)))
        offset = _bounded_offset(off_raw, p.reach)
        return cols, ops, scales, offset

    for step in range(steps + 1):
        k = 0 if step == steps else step % len(targets)
        target, (inside, judged) = targets[k], weights[k]
        cols, ops, scales, offset = params()
        rgb, alpha, _ = rasterization(_world_means(p, offset), p.quats, scales, ops, cols,
                                      target.viewmat[None], target.K[None], target.width, target.height,
                                      rasterize_mode=RASTERIZE_MODE)
        # over the photo itself: a pixel the splats do not cover costs nothing in colour (the
        # silhouette term handles coverage), so colours never brighten to make up for a gap
        rgb, alpha = rgb[0] + (1 - alpha[0]) * target.image, alpha[0]
        mse = (((rgb - target.image) ** 2) * inside).sum() / (3 * inside.sum()).clamp_min(1)
        psnr = float(-10 * torch.log10(mse.detach().clamp_min(1e-10)))
        if step == 0:
            stats["psnr_before"] = psnr
        if step == steps:
            stats["psnr_after"] = psnr
            break
        if step % 25 == 0:
            log.debug("fit step %d: PSNR on person pixels %.2f dB", step, psnr)
        loss = (torch.abs(rgb - target.image) * inside).sum() / (3 * inside.sum()).clamp_min(1)
        # offsets pull the outline onto the mask (within their reach, see the module doc)
        loss = loss + silhouette_weight * (((alpha - inside) ** 2) * judged).mean()
        # keep the surface smooth and grazing splats near their completed colour (no speckles from the side)
        loss = loss + offset_weight * ((offset / MAX_OFFSET) ** 2).mean()
        # offsets vary smoothly over the surface: an outline pulled in shrinks the whole limb
        # instead of sinking single splats into the body (which opened see-through holes)
        rough = offset - offset[p.neighbours].mean(dim=1)
        loss = loss + smooth_weight * ((rough / MAX_OFFSET) ** 2).mean()
        loss = loss + colour_weight * (pulled * torch.abs(cols - start_rgb)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if report is not None:
            report(step / steps, f"photometric fit {step}/{steps}")
    stats["seconds"], stats["cpu_seconds"] = time.perf_counter() - t0, time.process_time() - cpu0
    log.info("photometric fit: %d Gaussians, %d steps at %s, PSNR on person pixels %.2f -> %.2f dB, "
             "%.1f s (%.1f s CPU)", len(p.tri), steps, " / ".join(f"{t.width}x{t.height}" for t in targets),
             stats["psnr_before"], stats["psnr_after"], stats["seconds"], stats["cpu_seconds"])
    cols, ops, scales, offset = (t.detach().cpu().numpy().astype(np.float64) for t in params())
    return cols, ops, scales, offset, stats
