"""Ground-truth crowd scenes: dressed anny people in one photo with a known camera and background.

`make_crowd(seed, n_people)` is deterministic per seed: it places 1-N people (children too,
standing, or sitting on a stool) on the ground so that they overlap in the photo, renders the photo with
the project rasterizer over a procedural room, and keeps for each person the true Gaussians,
the visible mask (who is in front, from rendered depth), the amodal silhouette and the
33 BlazePose keypoints with honest visibility flags.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from crowdgaussian import types
from crowdgaussian.bodies.landmarks import lift_hips
from crowdgaussian.camera import to_camera
from crowdgaussian.eval.render import render
from crowdgaussian.views import look_at

from .dressing import dress_body
from .garments import Outfit, random_outfit
from .posing import PosedBody, pose_body, random_phenotype, random_pose
from .props import stool, table

KEYPOINT_DEPTH_TOL = 0.12  # meters: a keypoint farther behind its own rendered surface is self-occluded


@dataclass
class SynthPerson:
    """One ground-truth person of a scene."""

    id: int
    body: PosedBody
    outfit: Outfit
    gaussians: types.Gaussians
    keypoints: np.ndarray  # [33, 3] photo pixels (continuous x, y; visibility 0/1)
    mask: np.ndarray  # bool [H, W], visible in the photo
    full_mask: np.ndarray  # bool [H, W], amodal silhouette (as if alone)


@dataclass
class SynthScene:
    """A rendered ground-truth scene (photo at full resolution, scale 1)."""

    seed: int
    photo: types.Photo
    camera: types.Camera
    people: list[SynthPerson]
    background: np.ndarray  # float32 [H, W, 3] the empty room

    def oracle_people(self, occluder: np.ndarray | None = None) -> list[types.Person]:
        """Ground-truth `types.Person` list (masks/keypoints), with pixels under `occluder` hidden.

        Used by the benchmark's explicitly labelled "oracle people" mode.
        """
        out = []
        w2c = self.camera.world_to_camera
        for p in self.people:
            mask = p.mask & ~occluder if occluder is not None else p.mask.copy()
            if not mask.any():
                continue
            kp = p.keypoints.copy()
            if occluder is not None:
                xi = np.clip(np.floor(kp[:, 0]).astype(int), 0, mask.shape[1] - 1)
                yi = np.clip(np.floor(kp[:, 1]).astype(int), 0, mask.shape[0] - 1)
                kp[occluder[yi, xi], 2] = 0.0
            kp[:, :2] = lift_hips(kp[:, :2])  # where BlazePose, which this stands in for, puts them
            ys, xs = np.nonzero(mask)
            cam = to_camera(lift_hips(p.body.keypoints_world), w2c)
            out.append(types.Person(
                id=p.id, bbox=np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64),
                score=1.0, keypoints=kp, mask=mask, keypoints_3d=as_seen_by_a_crop(cam),
                truncated=bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()),
                extra={"oracle": True}))
        return out


def as_seen_by_a_crop(points_cam: np.ndarray) -> np.ndarray:
    """[33, 3] camera-frame landmarks as BlazePose's world landmarks give them: hip-centred, in the
    axes of a view looking straight along the ray to the torso's centre (the landmark crop is
    centred on the person; the body fit turns them back the same way)."""
    hips = 0.5 * (points_cam[23] + points_cam[24])
    centre = points_cam[[11, 12, 23, 24]].mean(axis=0)
    turn = Rotation.align_vectors([[0.0, 0.0, 1.0]], [centre / np.linalg.norm(centre)])[0]
    return turn.apply(points_cam - hips)


def room_background(camera: types.Camera, rng: np.random.Generator, kind: str = "room") -> np.ndarray:
    """[H, W, 3] background: "white", "plain" grey-ish colour, or "room" (tiled floor, shaded wall)."""
    h, w = camera.height, camera.width
    if kind == "white":
        return np.ones((h, w, 3), np.float32)
    wall = rng.uniform(0.35, 0.85, 3)
    if kind == "plain":
        return np.broadcast_to(wall.astype(np.float32), (h, w, 3)).copy()
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = np.stack([(xs + 0.5 - camera.cx) / camera.fx, (ys + 0.5 - camera.cy) / camera.fy, np.ones_like(xs)], -1)
    rot = camera.world_to_camera[:3, :3]
    centre = -rot.T @ camera.world_to_camera[:3, 3]
    dirs = rays @ rot  # world directions (R^T d)
    t = np.where(dirs[..., 2] < -1e-6, -centre[2] / np.minimum(dirs[..., 2], -1e-6), np.inf)
    floor = np.isfinite(t)
    hit = centre + dirs * np.where(floor, t, 0.0)[..., None]
    tile = float(rng.uniform(0.3, 0.6))
    checker = (np.floor(hit[..., 0] / tile) + np.floor(hit[..., 1] / tile)) % 2
    floor_a, floor_b = rng.uniform(0.25, 0.7, 3), rng.uniform(0.25, 0.7, 3)
    floor_rgb = np.where(checker[..., None] == 1, floor_a, floor_b)
    floor_rgb *= np.clip(1.2 - 0.03 * np.where(floor, t, 0.0), 0.5, 1.0)[..., None]
    wall_rgb = wall * (0.8 + 0.2 * (ys / h))[..., None]
    return np.where(floor[..., None], floor_rgb, wall_rgb).astype(np.float32)


def _place_people(rng: np.random.Generator, n: int) -> list[tuple[float, float]]:
    """Ground positions of a group (camera on -Y): most people stand partly behind someone else.

    Each new person goes, with odds 2/3, 0.5-1.3 m behind an earlier one and at most 0.45 m
    to the side (so one hides part of the other), else anywhere in the group's area; nobody
    stands closer than 0.45 m to anyone.
    """
    spots: list[tuple[float, float]] = []
    spread = 0.35 * n + 0.3
    while len(spots) < n:
        for _ in range(200):
            if spots and rng.random() < 2 / 3:
                ref = spots[int(rng.integers(len(spots)))]
                cand = (ref[0] + float(rng.uniform(-0.45, 0.45)), ref[1] + float(rng.uniform(0.5, 1.3)))
            else:
                cand = (float(rng.uniform(-spread, spread)), float(rng.uniform(0.0, 0.3 * n + 0.5)))
            if all(np.hypot(cand[0] - s[0], cand[1] - s[1]) > 0.45 for s in spots):
                break
        spots.append(cand)
    return spots


def _frame_camera(points: np.ndarray, width: int, height: int, fov_deg: float, eye_height: float) -> types.Camera:
    """A camera in front of the group (looking +Y) whose distance makes all `points` fit the frame."""
    fx = 0.5 * width / np.tan(np.deg2rad(fov_deg) / 2)
    lo, hi = points.min(0), points.max(0)
    target = np.array([(lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2])
    dist = 3.0
    for _ in range(8):  # fixed-point iteration on the viewing distance
        eye = np.array([target[0], target[1] - dist, eye_height])
        w2c = look_at(eye, target)
        cam = to_camera(points, w2c)
        x = np.abs(cam[:, 0] / cam[:, 2]) * fx / (0.44 * width)
        y = np.abs(cam[:, 1] / cam[:, 2]) * fx / (0.44 * height)
        dist *= max(float(max(x.max(), y.max())), 0.5) ** 0.8
    return types.Camera(fx=fx, fy=fx, cx=width / 2, cy=height / 2, width=width, height=height,
                        world_to_camera=w2c)


def _keypoints_2d(body: PosedBody, camera: types.Camera, visible: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """[33, 3] projected keypoints with visibility 1 where the person's own surface shows them."""
    w2c = camera.world_to_camera
    cam = to_camera(body.keypoints_world, w2c)
    uv = cam[:, :2] / cam[:, 2:3] * np.array([camera.fx, camera.fy]) + np.array([camera.cx, camera.cy])
    xi, yi = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)  # pixel i covers [i, i+1)
    inside = (xi >= 0) & (yi >= 0) & (xi < camera.width) & (yi < camera.height)
    vis = np.zeros(len(uv))
    xi, yi = np.clip(xi, 0, camera.width - 1), np.clip(yi, 0, camera.height - 1)
    vis[inside & visible[yi, xi] & (depth[yi, xi] > cam[:, 2] - KEYPOINT_DEPTH_TOL)] = 1.0
    return np.concatenate([uv, vis[:, None]], axis=1)


def make_crowd(seed: int, n_people: int, width: int = 512, height: int = 384, n_gaussians: int = 20000,
               background: str = "room", child_probability: float = 0.25, sitting_probability: float = 0.2,
               fov_deg: float = 50.0, turn_deg: float = 0.0, behind_table: bool = False) -> SynthScene:
    """A deterministic ground-truth crowd photo of `n_people` dressed anny people (see module doc).

    Each person faces the camera within ±35°, plus `turn_deg` (180: everybody turned away).
    `behind_table`: the same crowd (same people, places, poses, camera) behind a table with a cloth to
    the floor, which hides laps and legs the way a card or dinner table does in real group photos."""
    rng = np.random.default_rng(seed)
    bodies, outfits, props = [], [], []
    for xy in _place_people(rng, n_people):
        posture = "sitting" if rng.random() < sitting_probability else "standing"
        yaw = float(rng.uniform(-35, 35)) + turn_deg
        bodies.append(pose_body(random_phenotype(rng, child_probability), random_pose(rng, posture),
                                yaw_deg=yaw, position_xy=xy, posture=posture))
        outfits.append(random_outfit(rng))
        if bodies[-1].seat is not None:
            forward = np.array([np.sin(np.radians(yaw)), -np.cos(np.radians(yaw)), 0.0])  # rest faces -Y
            props.append(stool(bodies[-1].seat + 0.08 * forward, yaw, rng))
    gaussians = [dress_body(b, o, n_gaussians, rng) for b, o in zip(bodies, outfits)]
    verts = np.concatenate([b.vertices_world for b in bodies])
    camera = _frame_camera(verts, width, height, fov_deg, eye_height=float(rng.uniform(1.2, 1.8)))
    bg = room_background(camera, rng, background)
    if behind_table:  # drawn last, so the crowd is the same with and without it
        props.append(table((float(verts[:, 0].min()) - 0.3, float(verts[:, 0].max()) + 0.3),
                           float(verts[:, 1].min()) - 0.05, rng))

    K = camera.K()
    w2c = camera.world_to_camera[None]
    rgb, alpha_all, _ = render(gaussians + props, w2c, K, width, height, background=(0.0, 0.0, 0.0))
    photo_rgb = rgb[0] + (1.0 - alpha_all[0][..., None]) * bg  # premultiplied people over the room
    solo = [render([g], w2c, K, width, height, background=(0.0, 0.0, 0.0)) for g in gaussians]
    alphas = np.stack([s[1][0] for s in solo])
    depths = np.stack([np.where(s[1][0] > 0.5, s[2][0], np.inf) for s in solo])
    owner = np.argmin(depths, axis=0)
    if props:  # a stool or the table in front of a person hides them too
        _, prop_alpha, prop_depth = render(props, w2c, K, width, height, background=(0.0, 0.0, 0.0))
        owner[(prop_alpha[0] > 0.5) & (prop_depth[0] < depths.min(axis=0))] = -1
    people = []
    for i, (b, o, g) in enumerate(zip(bodies, outfits, gaussians)):
        full = alphas[i] > 0.5
        visible = full & (owner == i)
        people.append(SynthPerson(id=i, body=b, outfit=o, gaussians=g, mask=visible, full_mask=full,
                                  keypoints=_keypoints_2d(b, camera, visible, depths[i])))
    photo = types.Photo(rgb=(np.clip(photo_rgb, 0, 1) * 255 + 0.5).astype(np.uint8), full_width=width,
                        full_height=height, scale=1.0, path=f"synthetic-seed{seed}.png")
    return SynthScene(seed=seed, photo=photo, camera=camera, people=people, background=bg)
