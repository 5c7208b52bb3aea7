"""build_gaussians(): anchor, colour with a cross-person depth test, complete, fit."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from crowdgaussian import types
from crowdgaussian.camera import to_camera
from crowdgaussian.image_io import frame_side
from crowdgaussian.gaussians import anchor, fit, parts, visibility
from crowdgaussian.gaussians.complete import complete_colours
from crowdgaussian.gaussians.tint import tint_sh

log = logging.getLogger(__name__)

DEFAULT_FIT_STEPS = {"cpu": 150, "cuda": 300}  # half of them at each of FIT_SIDES
INIT_OPACITY = 0.95
# Photo sides (px, longer side) the photometric fit judges, in turn: the low one keeps what small
# renders show (orbit views, thumbnails), the high one fits detail finer than 256 px can hold
# (faces); fitted at one scale alone, splats look noisy at the other (classic 3DGS aliasing).
FIT_SIDES = (256, 1024)
OUTLINE_PX = 1.5  # fit pixels: a seen splat this near the outline is fitted to mixed pixels too


@dataclass
class Anchored:
    """One person's Gaussians before colouring: binding, rest and world frames."""

    tri: np.ndarray
    bary: np.ndarray
    offset: np.ndarray
    means_rest: np.ndarray
    quats_rest: np.ndarray
    scales: np.ndarray
    skin_indices: np.ndarray
    skin_weights: np.ndarray
    means: np.ndarray
    quats: np.ndarray
    normals: np.ndarray  # world unit normals


def anchor_body(body: types.Body, n: int, seed: int = 0) -> Anchored:
    """Sample n Gaussians on the rest body surface, skin them and pose them into the world."""
    v_rest = np.asarray(body.vertices_rest, dtype=np.float64)
    faces = np.asarray(body.faces, dtype=np.int64)
    tri, bary = anchor.sample_surface(v_rest, faces, n, seed=seed)
    offset = np.zeros(n)
    means_rest, normals_rest = anchor.anchor_points(v_rest, faces, tri, bary, offset)
    quats_rest = anchor.tangent_quats(v_rest, faces, tri, normals_rest)
    idx, w = anchor.gaussian_skinning(body.skin_indices, body.skin_weights, faces, tri, bary,
                                      len(body.rest_to_world))
    means, quats = anchor.skin_points(means_rest, quats_rest, body.rest_to_world, idx, w)
    normals = anchor.quat_to_matrix(quats)[:, :, 2]
    return Anchored(tri, bary, offset, means_rest, quats_rest, anchor.spacing_scales(means_rest),
                    idx, w, means, quats, normals)


def _photo_colours(photo: types.Photo, means: np.ndarray, world_to_camera: np.ndarray,
                   K: np.ndarray) -> np.ndarray:
    """[N, 3] photo colour (0..1, bilinear, lightly blurred) at each Gaussian's projection."""
    img = cv2.GaussianBlur(photo.rgb, (0, 0), sigmaX=max(0.5, 0.0015 * frame_side(photo.width, photo.height)))
    px = visibility.project(means, world_to_camera, K)[:, :2].astype(np.float32)
    n = len(px)
    cols = 1024  # cv2.remap maps must stay below 32767 rows: lay the points out as a 2D grid
    grid = np.zeros((-(-n // cols) * cols, 2), np.float32)
    grid[:n] = px
    grid = grid.reshape(-1, cols, 2)
    out = cv2.remap(img, grid[..., 0].copy(), grid[..., 1].copy(), interpolation=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, 3)[:n].astype(np.float64) / 255.0


def _erode(mask: np.ndarray, frac: float = 0.002) -> np.ndarray:
    """The mask shrunk by ~frac of the image's `frame_side` (keeps edge colours off the background)."""
    r = max(1, round(frac * frame_side(mask.shape[1], mask.shape[0])))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.erode(mask.astype(np.uint8), kernel) > 0


def build_gaussians(photo: types.Photo, people: list[types.Person], bodies: list[types.Body],
                    camera: types.Camera, device: str = "cpu", n_per_person: int = 20000,
                    complete: bool = True, fit_steps: int | None = None, fit_sides: tuple[int, ...] = FIT_SIDES,
                    report: Callable[[float, str], None] | None = None) -> list[types.Gaussians]:
    """Gaussians of every body: anchored, coloured from the photo, completed, photometrically fitted.

    complete=False is the visible-only baseline: Gaussians the photo does not see are
    dropped instead of completed (same fit otherwise).
    """
    report = report or (lambda f, m: None)
    if not bodies:
        return []
    by_id = {p.id: p for p in people}
    persons = [by_id[b.person_id] for b in bodies]
    w2c = np.asarray(camera.world_to_camera, dtype=np.float64)
    K = camera.K(photo.scale)
    report(0.0, "anchoring Gaussians")
    anchored = [anchor_body(b, n_per_person, seed=i) for i, b in enumerate(bodies)]
    report(0.1, "depth test across people")
    depth, owner, _ = visibility.body_zbuffer(bodies, w2c, K, photo.width, photo.height)
    colours, seen, fit_colour = [], [], []
    for i, (person, body, a) in enumerate(zip(persons, bodies, anchored)):
        # colour only from pixels well inside both the mask and the body's own z-buffer region
        core = _erode(person.mask & (owner == i))
        vis = visibility.visible_gaussians(a.means, a.normals, core, depth, w2c, K)
        dominant = parts.dominant_bones(a.skin_indices, a.skin_weights)
        vis &= ~visibility.behind_own_arms(a.means, parts.arm_bones(body.bones)[dominant], person.keypoints,
                                           core.shape, w2c, K, float(to_camera(body.root_translation, w2c)[2]))
        loose = visibility.visible_gaussians(a.means, a.normals, person.mask, depth, w2c, K, min_facing=0.1)
        col = _photo_colours(photo, a.means, w2c, K)
        if complete:
            regions = parts.part_labels(body.bones, a.skin_indices, a.skin_weights)
            limbs = np.where(parts.limb_bones(body.bones)[dominant], dominant, -1)
            col = complete_colours(a.means_rest, col, vis, regions, parts.mirror_partners(a.means_rest), limbs,
                                   parts.thigh_bones(body.bones)[dominant], bool(body.params.get("legs_hidden")))
        colours.append(col)
        seen.append(vis)
        fit_colour.append(loose | vis)
        log.info("person %d: %d / %d Gaussians seen by the photo", body.person_id, int(vis.sum()), len(vis))
    keep = [np.ones(len(v), bool) if complete else v for v in seen]
    steps = DEFAULT_FIT_STEPS.get(device, 50) if fit_steps is None else int(fit_steps)
    report(0.25, "photometric fit")
    targets = _fit_targets(photo, persons, bodies, w2c, K, fit_sides) if any(p.mask.any() for p in persons) else []
    target = targets[0] if targets else None  # the low side: what the outline tint is judged at
    # every kept Gaussian takes part in the fit, so the fitted state is exactly what renders
    # (Gaussians left out kept their start values and stuck out of the outline as opaque rims)
    fitted = _run_fit(bodies, anchored, colours, fit_colour, seen, keep, targets, steps, device,
                      lambda f, m: report(0.25 + 0.7 * f, m))
    camera_centre = -w2c[:3, :3].T @ w2c[:3, 3]
    out = []
    for body, a, vis, kp, start, moved, (cols, ops, scales, offset) in zip(bodies, anchored, seen, keep, colours,
                                                                         fit_colour, fitted):
        tri, bary, offset = a.tri[kp], a.bary[kp], offset[kp]
        means_rest, _ = anchor.anchor_points(np.asarray(body.vertices_rest, np.float64),
                                             np.asarray(body.faces, np.int64), tri, bary, offset)
        idx, w = a.skin_indices[kp], a.skin_weights[kp]
        means, quats = anchor.skin_points(means_rest, a.quats_rest[kp], body.rest_to_world, idx, w)
        # splats the photo sees edge-on, or on the people's outline, keep their start colour (completed,
        # or sampled inside the mask); what the fit changed there to match outline pixels, which mix
        # in the background, becomes a tint seen from the photo camera only (gaussians.tint)
        on_outline = target is not None and fit.outline_distance(target, a.means) <= OUTLINE_PX
        edge_on = ((moved & ~vis) | (vis & on_outline))[kp]
        tint = np.where(edge_on[:, None], cols[kp] - start[kp], 0.0)
        base = np.where(edge_on[:, None], start[kp], cols[kp])
        dc_shift, sh_rest = tint_sh(means, camera_centre, tint)
        out.append(types.Gaussians(
            means=means.astype(np.float32), quats=quats.astype(np.float32), scales=scales[kp].astype(np.float32),
            opacities=ops[kp].astype(np.float32), colors=(base + dc_shift).astype(np.float32),
            means_rest=means_rest.astype(np.float32), quats_rest=a.quats_rest[kp].astype(np.float32),
            skin_indices=idx, skin_weights=w, tri=tri.astype(np.int32), bary=bary.astype(np.float32),
            offset=offset.astype(np.float32), sh_rest=sh_rest.astype(np.float32) if np.any(tint) else None,
            visible=vis[kp]))
    report(1.0, "Gaussians done")
    return out


def _fit_targets(photo: types.Photo, persons: list[types.Person], bodies: list[types.Body], w2c: np.ndarray,
                 K: np.ndarray, sides: tuple[int, ...]) -> list[fit.FitTarget]:
    """The photo region at each resolution the photometric fit judges (on the CPU); sides beyond
    the photo's own (its `frame_side`) are judged at the photo's, once."""
    nearest = min(float(to_camera(b.root_translation, w2c)[2]) for b in bodies)
    own = frame_side(photo.width, photo.height)
    return [fit.make_target(photo.rgb, [p.mask for p in persons], w2c, K, nearest, image_side=s)
            for s in dict.fromkeys(min(s, own) for s in sides)]


def _run_fit(bodies: list[types.Body], anchored: list[Anchored],
             colours: list[np.ndarray], fit_colour: list[np.ndarray], seen: list[np.ndarray],
             active: list[np.ndarray], targets: list[fit.FitTarget], steps: int, device: str,
             report: Callable[[float, str], None]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Fit the `active` Gaussians of all people jointly (they occlude each other).

    Returns per person full-length (colours, opacities, scales, offsets); inactive
    Gaussians keep their initial values, and so does everything without `targets` (no person pixels).
    """
    results = [(c.copy(), np.full(len(c), INIT_OPACITY), a.scales.copy(), a.offset.copy())
               for c, a in zip(colours, anchored)]
    if steps <= 0 or not any(ac.any() for ac in active) or not targets:
        return results
    verts, vnorm, faces, tris, mats, reach, base_v, base_f = [], [], [], [], [], [], 0, 0
    for body, a, ac in zip(bodies, anchored, active):
        v = np.asarray(body.vertices_rest, np.float64)
        f = np.asarray(body.faces, np.int64)
        at_vertex = fit.offset_reach(v, body.skin_indices, body.skin_weights, body.bones)
        reach.append(at_vertex[f[a.tri[ac]]].min(axis=1))  # a triangle touching a hand is a hand
        verts.append(v)
        vnorm.append(anchor.vertex_normals(v, f))
        faces.append(f + base_v)
        tris.append(a.tri[ac] + base_f)
        mats.append(anchor.blended_matrices(body.rest_to_world, a.skin_indices[ac], a.skin_weights[ac]))
        base_v += len(v)
        base_f += len(f)
    m = np.concatenate(mats)

    def cat(items: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.concatenate(items).astype(np.float32)).to(device)

    def pick(name: str) -> torch.Tensor:
        return cat([getattr(a, name)[ac] for a, ac in zip(anchored, active)])

    params = fit.FitParams(
        vertices=cat(verts), vnormals=cat(vnorm), faces=torch.from_numpy(np.concatenate(faces)).to(device),
        tri=torch.from_numpy(np.concatenate(tris)).to(device), bary=pick("bary"), offset=pick("offset"),
        reach=cat(reach),
        linear=torch.from_numpy(m[:, :3, :3].astype(np.float32)).to(device),
        translation=torch.from_numpy(m[:, :3, 3].astype(np.float32)).to(device),
        quats=pick("quats"), scales=pick("scales"),
        opacities=torch.full((int(sum(ac.sum() for ac in active)),), INIT_OPACITY, device=device),
        colors=cat([c[ac] for c, ac in zip(colours, active)]),
        fit_colour=torch.from_numpy(np.concatenate([fc[ac] for fc, ac in zip(fit_colour, active)])).to(device),
        anchored_colour=torch.from_numpy(np.concatenate([~s[ac] for s, ac in zip(seen, active)])).to(device),
        neighbours=torch.from_numpy(np.concatenate(
            [fit.surface_neighbours(a.means_rest[ac]) + base for a, ac, base in
             zip(anchored, active, np.cumsum([0] + [int(ac.sum()) for ac in active])[:-1])])).to(device))
    on_device = [fit.FitTarget(**{k: v.to(device) if isinstance(v, torch.Tensor) else v
                                  for k, v in vars(t).items()}) for t in targets]
    fitted = fit.fit(params, on_device, steps, report)[:4]
    splits = np.cumsum([int(ac.sum()) for ac in active])[:-1]
    for res, ac, *vals in zip(results, active, *(np.split(x, splits) for x in fitted)):
        for dst, val in zip(res, vals):
            dst[ac] = val
    return results
