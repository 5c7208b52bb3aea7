"""Photo masks made to agree with the fitted bodies where people overlap: the nearer body owns the pixel.

The detector splits the people's pixels by 2D skeletons, so a limb its landmark model puts on
the wrong skeleton ends up in the wrong mask. After the bodies are fitted, each body's depth is
rendered through the photo camera, and a mask pixel is proposed to move from its detector owner
to another person who stands in front of the owner and whose body covers the pixel nearer than
the owner's body, both by a clear margin (people side by side, at about the same depth, keep
their pixels). Bodies are fitted only approximately, so each body counts a little beyond its
outline, by a band that is a share of the person's size in pixels. Pixels no other body covers keep their detector owner; only owners
change, never the union of the masks. Bodies can be wrong too (a limb fitted to a wrong landmark,
a child fitted as a distant adult), so a proposed move is kept only where the photo's colours
look more like the receiving person than the giving one, with colour models from the pixels
where detector and bodies already agree.
"""
from __future__ import annotations

import dataclasses
import logging

import cv2
import numpy as np
from scipy import ndimage

from ..camera import to_camera
from ..gaussians.visibility import body_zbuffer, project
from ..types import Body, Camera, Person, Photo

log = logging.getLogger(__name__)

BAND = 0.03  # the owner's body counts this far beyond its outline, as a share of its size in pixels
FRONT_BAND = 0.5  # a nearer body takes pixels up to this share of its band beyond its outline (thin limbs)
DEPTH_MARGIN = 0.05  # the nearer body must be nearer by this share of the owner's body size (~8 cm)
BINS = 8  # colour histogram bins per Lab channel
SMOOTH = 0.25  # colour evidence is averaged with a Gaussian of sigma = this share of the band


def banded_depth(depth: np.ndarray, band_px: float) -> np.ndarray:
    """`depth` (inf = no body) extended by `band_px` pixels with the depth of the nearest covered pixel."""
    empty = ~np.isfinite(depth)
    if empty.all():
        return depth
    dist, (iy, ix) = ndimage.distance_transform_edt(empty, return_indices=True)
    return np.where(dist <= band_px, depth[iy, ix], np.inf).astype(np.float32)


def propose(owner: np.ndarray, depths: list[np.ndarray], bands_px: list[float], margins: list[float],
            centres: list[float]) -> np.ndarray:
    """Owner map (-1 = nobody) the bodies ask for: a pixel of person o goes to the person f whose body
    (within FRONT_BAND of its band) is nearest there, if f's body is nearer than o's body (within its
    band) by more than margins[o], and f stands in front of o (centre depths) by that margin too."""
    out = owner.copy()
    reach = [banded_depth(d, FRONT_BAND * b) for d, b in zip(depths, bands_px)]
    for o, (depth, band, margin) in enumerate(zip(depths, bands_px, margins)):
        takers = [f for f in range(len(depths)) if centres[f] + margin < centres[o]]
        if not takers:
            continue
        mine = owner == o
        near = np.stack([reach[f] for f in takers])
        front = np.asarray(takers)[np.argmin(near, axis=0)]
        move = mine & (np.min(near, axis=0) + margin < banded_depth(depth, band))
        out[move] = front[move]
    return out


def colour_codes(rgb: np.ndarray) -> np.ndarray:
    """[H, W] Lab histogram bin of every pixel (lightly blurred against noise)."""
    lab = cv2.cvtColor(cv2.GaussianBlur(rgb, (3, 3), 0), cv2.COLOR_RGB2LAB) // (256 // BINS)
    return (lab[..., 0].astype(np.int32) * BINS + lab[..., 1]) * BINS + lab[..., 2]


def log_histogram(codes: np.ndarray) -> np.ndarray:
    """Log colour probabilities of the given bin codes (add-one smoothed)."""
    counts = np.bincount(codes, minlength=BINS ** 3).astype(np.float64) + 1.0
    return np.log(counts / counts.sum())


def confirm_by_colour(codes: np.ndarray, owner: np.ndarray, proposed: np.ndarray, nearest: np.ndarray,
                      bands_px: list[float]) -> np.ndarray:
    """`proposed`, kept where the photo's colours agree: a proposed pixel moves only if its colours
    (averaged over nearby proposed pixels) are likelier under the receiver's colour model than the
    giver's, and only in pieces of at least a band squared. The colour models come from the pixels
    where the detector's owner is also the nearest body."""
    n = len(bands_px)
    models = [log_histogram(codes[(owner == i) & (nearest == i)]) for i in range(n)]
    out = owner.copy()
    for giver in range(n):
        for taker in range(n):
            pair = (owner == giver) & (proposed == taker) & (giver != taker)
            if not pair.any():
                continue
            weight = pair.astype(np.float32)
            ratio = (models[taker][codes] - models[giver][codes]).astype(np.float32) * weight
            sigma = max(SMOOTH * bands_px[taker], 0.5)
            support = np.maximum(cv2.GaussianBlur(weight, (0, 0), sigma), 1e-6)
            smooth = cv2.GaussianBlur(ratio, (0, 0), sigma) / support
            labels, count = ndimage.label(pair & (smooth > 0), structure=np.ones((3, 3)))
            area = np.bincount(labels.ravel(), minlength=count + 1)
            big = area >= bands_px[taker] ** 2
            big[0] = False
            out[big[labels]] = taker
    return out


def masks_from_bodies(photo: Photo, people: list[Person], bodies: list[Body], camera: Camera) -> list[Person]:
    """People with masks (working resolution) that agree with the fitted bodies' depth order."""
    by_id = {b.person_id: b for b in bodies}
    fitted = [i for i, p in enumerate(people) if p.id in by_id]
    if len(fitted) < 2:
        return people
    w2c = np.asarray(camera.world_to_camera, dtype=np.float64)
    K = camera.K(photo.scale)
    owner = np.full((photo.height, photo.width), -1, np.int32)
    for k, i in enumerate(fitted):
        owner[people[i].mask] = k
    depths, bands, margins, centres = [], [], [], []
    for i in fitted:
        body = by_id[people[i].id]
        verts = np.asarray(body.vertices_world, dtype=np.float64)
        depths.append(body_zbuffer([body], w2c, K, photo.width, photo.height)[0])
        px = project(verts, w2c, K)
        seen = px[px[:, 2] > 0, :2]
        bands.append(BAND * float(np.ptp(seen, axis=0).max()) if len(seen) else 0.0)
        margins.append(DEPTH_MARGIN * float(np.ptp(verts, axis=0).max()))
        centres.append(float(to_camera(body.root_translation, w2c)[2]))
    proposed = propose(owner, depths, bands, margins, centres)
    stack = np.stack(depths)
    nearest = np.where(np.isfinite(stack.min(axis=0)), np.argmin(stack, axis=0), -1)
    new = confirm_by_colour(colour_codes(photo.rgb), owner, proposed, nearest, bands)
    log.info("masks from bodies: %d mask pixels proposed to move to a nearer body, %d moved",
             int((proposed != owner).sum()), int((new != owner).sum()))
    out = list(people)
    for k, i in enumerate(fitted):
        out[i] = dataclasses.replace(people[i], mask=new == k)
    return out
