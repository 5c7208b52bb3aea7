"""fit_bodies(): anny fitted to every person of the photo, all in one camera and one world.

Per person the unknowns are the global rotation and root position (camera frame), the pose of
the main bones (rotation vectors in body-local rest axes, as in make_body) and the free shape
phenotypes (weight, muscle, proportions). All persons are optimised together in one batch
with Adam on:
- 2D keypoints (Huber, in units of 10% of the person's size) of the visible landmarks, weighted
  by how far BlazePose's visibility can be trusted for that landmark (TRUST_RAMP: knees only near
  0.9, leg landmarks only on the person's own mask), and at half weight of those hidden only by
  the person's own body (they lie on its own mask; not for hands and legs, which are then wrong);
- BlazePose's 3D landmarks: directions of the limbs and torso (they resolve depth ambiguity),
  turned from the landmark crop's view to the camera's (the crop looks along the person's ray);
- silhouette: projected body points outside the allowed area (own mask, other people's masks
  that may hide the body: all of them in the first pass, in the second only those of people not
  behind it; outside the frame) and own-mask pixels far from the projected body;
  body parts whose nearest landmark is unseen and lies on no person, or belongs to a hidden leg
  (wherever BlazePose guesses it), are exempt from the first (an unknown object may hide them:
  pulling them onto the masks twisted whole bodies, and held standing legs over a table);
- depth order (second pass): a body point projected onto pixels where the photo shows a person
  placed nearer lies behind that person's body surface there (as the first pass left it);
- priors: small angles around a relaxed pose (strong on bones whose far end is not seen, so
  a hidden leg copies the other leg when that one is seen, and hidden arms hang at the sides);
  hidden legs (a leg bone is hidden with everything below it) held along the vertical (both
  thighs hidden: down when started standing, level when started seated; a hidden shin plumb):
  the world's, not the tilted pelvis's of a person leaning over a table; knee hinge, phenotypes near the
  middle, and the orientation held near its start from BlazePose's 3D torso in proportion to
  how little of the person is seen.
Each person is fitted from two starts, standing and seated, keeping the lower final loss, less
the hidden legs' prior and hold (which differ between the starts by construction): where nothing
of the legs shows, the rest of the body decides, with no preference for either posture.
Size and distance are ambiguous in one image: the first pass uses an average adult height;
then ground.py puts the people whose feet are seen on one floor, the depth order is made
consistent with who hides whom, each person's height (and, below 1.45 m, age) phenotype is
set to the implied height, and a second pass refits at those distances.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import logging
from dataclasses import dataclass
from typing import Callable, Iterator

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from ..types import POSE_LANDMARKS, Body, Camera, Person, Photo
from . import ground
from . import model as M
from .landmarks import index, landmark_map
from .make import make_body
from .ownership import banded_depth

log = logging.getLogger(__name__)

ADULT = {"gender": 0.5, "age": 0.5, "height": 0.55}
FREE_PHENOTYPES = ("muscle", "weight", "proportions")
# Fitted bones and the weight of their small-angle prior (others stay at rest).
POSE_PRIOR = {
    "spine03": 2.0, "spine01": 2.0, "neck01": 1.0, "head": 1.0,
    "clavicle.L": 5.0, "clavicle.R": 5.0, "upperarm01.L": 0.2, "upperarm01.R": 0.2,
    "lowerarm01.L": 0.2, "lowerarm01.R": 0.2, "upperleg01.L": 0.5, "upperleg01.R": 0.5,
    "lowerleg01.L": 0.5, "lowerleg01.R": 0.5, "foot.L": 2.0, "foot.R": 2.0,
}
# The pose the prior pulls towards: rest, except the arms, which hang at the sides (about 12
# degrees out from vertical) instead of anny's A-pose (about 42 degrees out), elbows slightly
# bent as relaxed arms are (a negative turn about x bends an elbow forward).
ARMS_DOWN = np.radians(30.0)
ELBOW_RELAXED = np.radians(20.0)
PRIOR_MEAN = {"upperarm01.L": (0.0, ARMS_DOWN, 0.0), "upperarm01.R": (0.0, -ARMS_DOWN, 0.0),
              "lowerarm01.L": (-ELBOW_RELAXED, 0.0, 0.0), "lowerarm01.R": (-ELBOW_RELAXED, 0.0, 0.0)}
# The fit is bistable where little of the legs shows: started standing, a seated person's
# visible thighs and shins were met by a standing body bent at the waist. Every person is
# therefore fitted from two starts, standing (PRIOR_MEAN) and seated (thighs forward, shins
# plumb), and keeps the one that ends with the lower loss.
SEATED = {**PRIOR_MEAN, "upperleg01.L": (-np.pi / 2, 0.0, 0.0), "upperleg01.R": (-np.pi / 2, 0.0, 0.0),
          "lowerleg01.L": (np.pi / 2, 0.0, 0.0), "lowerleg01.R": (np.pi / 2, 0.0, 0.0)}
HIDDEN_PRIOR = 50.0  # prior weight of a bone whose far-end landmarks are all unseen
# A hidden bone of these pairs is pulled to its seen partner's pose, reflected: legs sit or
# stand together far more often than not (arms move independently, so they hang instead).
MIRRORED_LIMBS = ("upperleg01", "foot")
SHIN_IDS = [list(POSE_PRIOR).index(b) for b in ("lowerleg01.L", "lowerleg01.R")]
# Hidden legs are held along the vertical: a hidden thigh whose partner is hidden too points
# down (standing start) or level and forward (seated start); a hidden shin hangs plumb (shins
# carry the weight; a shin not plumb under a seated thigh floats in the air). The vertical is
# the world's: a person leaning over a table tilts the pelvis with the torso, and legs posed
# relative to it leaned with it (on a card-table photo, bodies 30-40 degrees off vertical).
# Only a person whose body is within OWN_VERTICAL of the world's up uses their own vertical:
# it is then the more exact one (the world's is estimated from everybody; with true landmarks
# the quality benchmark lost 0.1-0.2 dB holding everybody to it).
# Each leg bone here is (fitted bone, its head joint, the joint at its far end).
HELD_LEGS = (("upperleg01.L", "upperleg01.L", "lowerleg01.L"), ("upperleg01.R", "upperleg01.R", "lowerleg01.R"),
             ("lowerleg01.L", "lowerleg01.L", "foot.L"), ("lowerleg01.R", "lowerleg01.R", "foot.R"))
LEG_HOLD = 1.0  # weight of (1 - cos) between a held leg bone and its direction
HELD_PRIOR_COLUMNS = [list(POSE_PRIOR).index(b) for b, _, _ in HELD_LEGS]  # their POSE_PRIOR columns
OWN_VERTICAL = 10.0  # degrees between a person's up and the world's within which their own is used
REFLECT = (1.0, -1.0, -1.0)  # a rotation vector reflected across the sagittal plane (x -> -x)


def _below(bone: str) -> tuple[str, ...]:
    """The fitted leg bones below a thigh or shin (none for other bones)."""
    side = bone[-2:]
    return {"upperleg01": ("lowerleg01" + side, "foot" + side), "lowerleg01": ("foot" + side,)}.get(bone[:-2], ())


def _other_side(bone: str) -> str:
    """The other side's twin of an .L / .R bone."""
    return bone[:-1] + {"L": "R", "R": "L"}[bone[-1]]


# per fitted bone, the bone whose pose it copies when hidden: its other-side twin in MIRRORED_LIMBS, else itself
MIRROR_PARTNER = [list(POSE_PRIOR).index(_other_side(b)) if b.split(".")[0] in MIRRORED_LIMBS
                  else i for i, b in enumerate(POSE_PRIOR)]
# The landmarks that show where each fitted bone points (its far end).
BONE_ENDS = {
    "spine03": ("nose", "left_shoulder", "right_shoulder"), "spine01": ("left_shoulder", "right_shoulder"),
    "neck01": ("nose", "left_ear", "right_ear"), "head": ("nose", "left_ear", "right_ear", "left_eye", "right_eye"),
    "clavicle.L": ("left_shoulder",), "clavicle.R": ("right_shoulder",),
    "upperarm01.L": ("left_elbow",), "upperarm01.R": ("right_elbow",),
    "lowerarm01.L": ("left_wrist",), "lowerarm01.R": ("right_wrist",),
    "upperleg01.L": ("left_knee", "left_ankle"), "upperleg01.R": ("right_knee", "right_ankle"),
    "lowerleg01.L": ("left_ankle", "left_heel"), "lowerleg01.R": ("right_ankle", "right_heel"),
    "foot.L": ("left_foot_index", "left_heel"), "foot.R": ("right_foot_index", "right_heel"),
}
SEGMENTS = [("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
            ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
            ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
            ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
            ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
            ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip")]
# Segments whose BlazePose 3D direction the fit follows: the limbs and torso, plus spans over a
# hidden joint between two seen ones: shoulder to knee tells a seated person's knees (in front
# of the torso) from a standing person's (below it) when an object hides the hip.
# Each spans a joint and is used only where that joint is hidden (else its two segments say it).
SPANS = {("left_shoulder", "left_knee"): "left_hip", ("right_shoulder", "right_knee"): "right_hip",
         ("left_shoulder", "left_wrist"): "left_elbow", ("right_shoulder", "right_wrist"): "right_elbow",
         ("left_hip", "left_ankle"): "left_knee", ("right_hip", "right_ankle"): "right_knee"}
DIRECTIONS = SEGMENTS + list(SPANS)
# Head landmark pairs that size a person whose torso is hidden (only the head shows).
HEAD_SEGMENTS = [("left_ear", "right_ear"), ("left_eye", "right_eye"), ("nose", "left_ear"), ("nose", "right_ear")]
BELOW_SHOULDERS = np.arange(13, 33)  # BlazePose landmarks from the elbows down
FEET = ("left_heel", "right_heel", "left_foot_index", "right_foot_index")
TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
# Facing the camera upright: body-local x, y (back), z (up) -> camera x, z (away), -y.
FACING_CAMERA = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
SIL_STRIDE = 9  # every 9th vertex (~1500) for the silhouette terms
COVER_SAMPLES = 400
COVER_WEIGHT = 1.5  # own-mask pixels far from the body (clothes and hair widen the mask)
VISIBLE = 0.5
SELF_HIDDEN = 0.5  # weight of a landmark hidden only by the person's own body
# BlazePose's visibility is not equally trustworthy everywhere. Measured on the quality benchmark's
# tuning crowds (seeds 0-23, 0-60 % occlusion, 1,700 matched limb landmarks): on the person's own
# mask a knee is within 5 % of the body's height of the truth in 18 % of cases at visibility
# 0.5-0.7 and 94 % at >= 0.95 (median error 9 % vs 1 %); an ankle turns reliable at 0.8, heels and
# toes at 0.5-0.7, wrists at 0.5. Elbows, shoulders, hips and the face are close at any visibility.
# A limb landmark's weight therefore ramps from 0 to its visibility over (start, full) visibility.
# This is BlazePose's calibration: it applies to the people the people stage found (they carry
# Person.extra["source"]); keypoints a caller gives (the benchmark's oracle) count as given.
TRUST_RAMP = {"knee": (0.7, 0.9), "ankle": (0.6, 0.8), "heel": (0.4, 0.6), "foot_index": (0.4, 0.6),
              "wrist": (0.4, 0.6), "pinky": (0.4, 0.6), "index": (0.4, 0.6), "thumb": (0.4, 0.6)}
# Off the person's own mask (more than a quarter sigma away) leg landmarks are wrong more often
# than right at every visibility (knees: 20 % within 5 %), so they are not used there (wrists are:
# thin forearms often miss the mask). Unseen landmarks with a ramp are not used as "hidden by the
# own body" either (a self-hidden knee or wrist was off by 12-25 % of the height), while a
# self-hidden elbow (3-5 %) or hip is.
LEGS = ("knee", "ankle", "heel", "foot_index")
# Pull of the orientation towards its start (BlazePose's 3D torso), scaled by the share of
# landmarks not seen: with little seen, 2D keypoints alone let the body lean or turn freely.
ROT_PRIOR = 1.0
HEIGHT_RANGE = (0.8, 2.1)  # m: the heights a fitted person may be given (a small child to a very tall adult)
BEHIND_MARGIN = 0.25  # m: a person whose root is this much farther than another's cannot hide the other's body
SURFACE_SPACING = 0.04  # m: a little over the spacing of the fitting model's vertices (3.3 cm on an adult)
ORDER_SCALE = 0.05  # m: depth by which a body part in front of a seen person costs as much as one sigma off
ORDER_INSET = 0.1  # of sigma: a seen person's pixels this close to their outline do not count (a seen hand
# fitted a few pixels off, onto a neighbour in front, pushed a whole man 23 cm back)
ORDER_WEIGHT = 4.0  # of that term against the others (at 1.0 t1.jpg's man behind Lisa still covered 10 % of her)


@dataclass
class Targets:
    """Per-person observations as batched tensors (working pixels)."""

    kp: torch.Tensor  # [N,33,2]
    kp_w: torch.Tensor  # [N,33]
    sigma: torch.Tensor  # [N] 10% of the person's size, px
    dirs: torch.Tensor  # [N,S,3] BlazePose 3D segment directions
    dirs_w: torch.Tensor  # [N,S]
    outside: torch.Tensor  # [N,1,H,W] distance (px) to the nearest pixel where the person's body may project
    cover: torch.Tensor  # [N,C,2] own-mask pixel samples
    cover_w: torch.Tensor  # [N,C]
    rot_w: torch.Tensor  # [N] share of landmarks not seen (weight of the orientation prior)
    sil_w: torch.Tensor  # [N,S] 0 where a silhouette vertex's nearest landmark may be behind a non-person
    prior: torch.Tensor  # [N,J] pose prior weights
    held: torch.Tensor  # [N,4] HELD_LEGS bones held along the vertical (hidden, see HELD_LEGS)
    feet_seen: np.ndarray  # [N] bool
    front: torch.Tensor | None = None  # [N,1,H,W] camera depth (m) the body must lie behind there; 0 = free

    def tiled(self, k: int) -> Targets:
        """The same targets repeated k times along the person axis (one copy per fit start)."""
        def rep(x):
            if x is None:
                return None
            if x is self.outside and x.stride(0) == 0:  # one map shared by everybody: a view, not k copies
                return x[:1].expand(k * x.shape[0], *x.shape[1:])
            if isinstance(x, np.ndarray):
                return np.tile(x, k)
            return x.repeat(k, *[1] * (x.dim() - 1))
        return Targets(**{f.name: rep(getattr(self, f.name)) for f in dataclasses.fields(self)})


@functools.lru_cache(maxsize=2)
def _fit_model(device: str):
    """A float32 view of the body model restricted to the fitted vertices.

    Its vertices are the landmark regressor's (first) then every SIL_STRIDE-th one, so that
    rest shape and skinning cost a fraction of the full mesh. The body-local floor shift it
    computes is wrong (soles not sampled) but cancels in the camera-frame placement.
    """
    full = M.load_body_model(device)
    lmap = landmark_map(full)
    ids = torch.cat([lmap.vertex_ids, torch.arange(0, full.template_vertices.shape[0], SIL_STRIDE)])
    sub = copy.copy(full)
    sub._buffers = dict(full._buffers)
    sub._modules = {k: copy.deepcopy(v) for k, v in full._modules.items()}
    sub.template_vertices = full.template_vertices[ids]
    sub.blendshapes = full.blendshapes[:, ids]
    sub.vertex_bone_weights = full.vertex_bone_weights[ids]
    sub.vertex_bone_indices = full.vertex_bone_indices[ids]
    return sub.to(torch.float32)


def fit_bodies(photo: Photo, people: list[Person], camera: Camera, device: str = "cpu",
               report: Callable[[float, str], None] | None = None) -> tuple[list[Body], Camera]:
    """Fit anny to each person; returns their Bodies and the camera placed in the world.

    The fit always runs on the CPU whatever `device` says: it is thousands of tiny tensor ops
    (about 1 s per person on one core), which a GPU would not speed up.
    """
    del device  # part of the stage interface; see the docstring
    with _one_thread():
        return _fit_bodies(photo, people, camera, "cpu", report or (lambda f, m: None))


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one CPU thread: the fit is thousands of tiny ops, and with 2 threads on a
    busy 2-core machine it measured 6x slower (19 s vs 3 s wall for 2 persons)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit_bodies(photo: Photo, people: list[Person], camera: Camera, device: str,
                report: Callable[[float, str], None]) -> tuple[list[Body], Camera]:
    """fit_bodies without the thread setting."""
    if not people:
        return [], _with_world(camera, ground.camera_to_world(np.array([0.0, -1.0, 0.0]), 1.6))
    model = _fit_model(device)
    K = camera.K(photo.scale)
    targets = _targets(photo, people, model, device, K)
    names = list(model.bone_labels)
    fitted = torch.tensor([names.index(b) for b in POSE_PRIOR])
    adult = [dict(ADULT) for _ in people]
    report(0.05, "fitting bodies")
    n = len(people)
    state = _initial_state(people, model, K, adult, starts=(PRIOR_MEAN, SEATED))
    level = np.array([0.0, 1.0, 0.0])  # "down" before the floor is known: a roughly level camera
    loss = _optimise(model, state, targets.tiled(2), K, fitted, iters=(30, 110), report=report,
                     span=(0.05, 0.6), shape_steps=40, down=level)
    seated = loss[n:] < loss[:n]
    log.info("seated start kept for persons %s", np.flatnonzero(seated.numpy()).tolist())
    state = state.select(torch.arange(n) + n * seated.long())

    report(0.6, "placing people on the floor")
    up, scales, _ = _floor(model, state, targets, fitted, K, people)
    scales, phens = _heights_on_floor(M.load_body_model(device), state, scales)
    state.rescale(scales, phens)
    targets = _kept_off_people_behind(targets, people, state.translation()[:, 2].detach().numpy())
    targets = _behind_the_seen(model, state, targets, fitted, K, people)
    _optimise(model, state, targets, K, fitted, iters=(0, 60), report=report, span=(0.6, 0.95),
              depth_prior=True, down=-up)
    up, _, cam_height = _floor(model, state, targets, fitted, K, people, reorder=False)
    cam_to_world = ground.camera_to_world(up, cam_height)
    bodies = _export(model, state, targets, fitted, K, people, cam_to_world)
    report(1.0, "bodies fitted")
    return bodies, _with_world(camera, np.linalg.inv(cam_to_world))


def _with_world(camera: Camera, world_to_camera: np.ndarray) -> Camera:
    """A copy of `camera` with a new world_to_camera."""
    out = copy.copy(camera)
    out.world_to_camera = world_to_camera
    return out


# ----------------------------------------------------------------------------- observations
def world_points_in_camera(person: Person, K: np.ndarray) -> np.ndarray:
    """BlazePose's 3D landmarks turned from the crop's view (looking straight at the person)
    to the camera's axes: rotated by the turn from the optical axis to the person's ray."""
    anchors = [index(n) for n in TORSO if person.keypoints[index(n), 2] > VISIBLE]
    centre = person.keypoints[anchors or [0], :2].mean(0)
    ray = np.linalg.inv(K) @ np.r_[centre, 1.0]
    turn = Rotation.align_vectors([ray / np.linalg.norm(ray)], [[0.0, 0.0, 1.0]])[0]
    return turn.apply(person.keypoints_3d)


def _targets(photo: Photo, people: list[Person], model, device: str, K: np.ndarray) -> Targets:
    """Keypoint, 3D-direction and silhouette targets of every person."""
    h, w = photo.height, photo.width
    lmap = landmark_map(M.load_body_model(device))
    masks = [p.mask.astype(bool) for p in people]
    # distance (px) to the nearest person pixel: where any body may project (occluders included)
    off_people = cv2.distanceTransform(1 - np.any(masks, axis=0).astype(np.uint8), cv2.DIST_L2, 3)
    rng = np.random.default_rng(0)
    kp, kp_w, sigma, dirs, dirs_w, cover, cover_w, prior, held, feet, outlined = ([] for _ in range(11))
    for p, mask in zip(people, masks):
        finite = np.isfinite(p.keypoints).all(axis=1)
        xy = np.where(finite[:, None], p.keypoints[:, :2], -1.0)
        vis = np.where(finite, p.keypoints[:, 2], 0.0)
        x0, y0, x1, y1 = p.bbox
        sigma.append(max(0.1 * max(x1 - x0, y1 - y0), 5.0))
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
        px = np.clip(xy.astype(int), 0, [w - 1, h - 1])
        # a landmark far from every person mask is invented (e.g. legs behind a table)
        on_people = off_people[px[:, 1], px[:, 0]] <= sigma[-1]
        off_own = cv2.distanceTransform(1 - mask.astype(np.uint8), cv2.DIST_L2, 3)[px[:, 1], px[:, 0]]
        # unseen but on the person's own mask: hidden by their own body (a seated person's hips
        # behind the thighs), so the visible body fixes where it is; a foreign occluder does not
        limb, trust = _trust(vis, calibrated="source" in p.extra)
        off_leg = limb & _LEG_LANDMARKS & (off_own > 0.25 * sigma[-1])
        self_hidden = (vis <= VISIBLE) & inside & (off_own <= 0) & ~limb
        seen = np.where((trust > 0) & inside & on_people & ~off_leg, vis * trust,
                        np.where(self_hidden, SELF_HIDDEN, 0.0))
        weight = seen * lmap.weight.numpy()
        kp.append(xy)
        kp_w.append(weight)
        d, dw = np.zeros((len(DIRECTIONS), 3)), np.zeros(len(DIRECTIONS))
        if p.keypoints_3d is not None:
            points = world_points_in_camera(p, K)
            for s, (a, b) in enumerate(DIRECTIONS):
                v = points[index(b)] - points[index(a)]
                joint_seen = (a, b) in SPANS and weight[index(SPANS[a, b])] > 0
                if np.linalg.norm(v) > 1e-6 and not joint_seen:
                    d[s], dw[s] = v / np.linalg.norm(v), min(weight[index(a)], weight[index(b)])
        dirs.append(d)
        dirs_w.append(dw)
        ys, xs = np.nonzero(mask)
        take = rng.choice(len(xs), size=min(COVER_SAMPLES, len(xs)), replace=False) if len(xs) else []
        c, cw = np.zeros((COVER_SAMPLES, 2)), np.zeros(COVER_SAMPLES)
        c[:len(take)] = np.stack([xs[take] + 0.5, ys[take] + 0.5], 1) if len(take) else c[:0]
        cw[:len(take)] = 1.0
        cover.append(c)
        cover_w.append(cw)
        unseen = {b for b in POSE_PRIOR if not any(weight[index(n)] > 0 for n in BONE_ENDS[b])}
        # a leg bone is hidden only with the whole leg below it: a seen toe under an unseen ankle
        # places the shin (holding it plumb, or at rest, fought the toe)
        hidden = {b for b in unseen if set(_below(b)) <= unseen}
        # a hidden thigh copies its seen partner (MIRRORED_LIMBS); with both hidden, both are held
        held_bones = {b for b, _, _ in HELD_LEGS if b in hidden and (b.startswith("lowerleg") or _other_side(b) in hidden)}
        held.append([b in held_bones for b, _, _ in HELD_LEGS])
        # a landmark neither seen nor lying on a person (e.g. behind a table or a pole) may hide its
        # part of the body anywhere: that part is not held inside the people's masks; nor is a
        # hidden leg, wherever BlazePose guesses its joints
        hidden_sides = tuple({"L": "left_", "R": "right_"}[b[-1]] for b in held_bones if b.startswith("upperleg"))
        guessed = _LEG_LANDMARKS & np.array([name.startswith(hidden_sides) for name in POSE_LANDMARKS])
        outlined.append(((weight > 0) | ~inside | (off_people[px[:, 1], px[:, 0]] <= 0.25 * sigma[-1])) & ~guessed)
        # a held bone keeps its relaxed prior: the vertical hold replaces the strong one
        prior.append([HIDDEN_PRIOR if b in hidden - held_bones else v for b, v in POSE_PRIOR.items()])
        # the floor only trusts feet on the person's own mask (not hidden by a table or a person)
        feet.append(sum(weight[k] > 0 and off_own[k] <= sigma[-1]
                        for k in map(index, FEET + ("left_ankle", "right_ankle"))) >= 2)
    f32 = functools.partial(torch.tensor, dtype=torch.float32, device=model.device)
    return Targets(kp=f32(np.array(kp)), kp_w=f32(np.array(kp_w)), sigma=f32(sigma),
                   dirs=f32(np.array(dirs)), dirs_w=f32(np.array(dirs_w)),
                   outside=f32(off_people)[None, None].expand(len(people), 1, h, w), cover=f32(np.array(cover)),
                   cover_w=f32(np.array(cover_w)), rot_w=1 - f32(np.array(kp_w)).gt(0).float().mean(1),
                   sil_w=f32(np.array(outlined))[:, _nearest_landmarks(model)], prior=f32(prior), held=f32(held),
                   feet_seen=np.array(feet))


def _kept_off_people_behind(t: Targets, people: list[Person], depths: np.ndarray) -> Targets:
    """`t` with each person's silhouette area cut to their own mask and the masks of the people
    who may be in front of them (root at most BEHIND_MARGIN farther): a body part on the pixels of
    someone behind would hide them there. Before, any person's pixels would do, and a man's
    unseen forearm under his crossed arms reached out over the man behind him (bus.jpg mirrored)."""
    masks = [p.mask.astype(np.uint8) for p in people]
    maps = []
    for i, own in enumerate(masks):
        allowed = own.copy()
        for j, other in enumerate(masks):
            if j != i and depths[j] < depths[i] + BEHIND_MARGIN:
                allowed |= other
        maps.append(cv2.distanceTransform(1 - allowed, cv2.DIST_L2, 3))
    return dataclasses.replace(t, outside=torch.tensor(np.stack(maps)[:, None], dtype=torch.float32,
                                                       device=t.outside.device))


def _behind_the_seen(model, state: State, t: Targets, fitted, K: np.ndarray, people: list[Person]) -> Targets:
    """`t` with each person's `front` map: on the pixels where the photo shows a person placed nearer
    (root), that person's body surface depth. A part of a body projected there must lie behind it: the
    2D terms alone let a hidden leg or arm of a man standing behind a seated woman come out in front
    of her (t1.jpg), and with it his trousers. People placed in the wrong order as a whole are not
    this term's to fix: with their size held, it leant a man back (a synthetic crowd behind a table,
    his feet hidden and his height unknown, placed level with the shorter woman 1 m in front of him)."""
    h, w = t.outside.shape[-2:]
    n_lm = len(_lmap(model).vertex_ids)
    with torch.no_grad():
        cam = _posed(model, state, fitted)[0][:, n_lm:]
        uv = _project(cam, K).numpy()
    cam = cam.numpy()
    depths = state.translation()[:, 2].detach().numpy()
    surfaces = []
    for j, p in enumerate(people):
        depth = banded_depth(_surface_depth(uv[j], cam[j, :, 2], K, (h, w)), float(t.sigma[j]))
        surfaces.append(np.where(np.isfinite(depth) & _eroded(p.mask, ORDER_INSET * float(t.sigma[j])), depth, 0.0))
    front = np.zeros((len(people), 1, h, w), np.float32)
    for i in range(len(people)):
        for j in range(len(people)):
            if depths[j] < depths[i]:  # j placed nearer (never i itself)
                np.maximum(front[i, 0], surfaces[j], out=front[i, 0])
    return dataclasses.replace(t, front=torch.tensor(front, device=t.outside.device))


def _surface_depth(uv: np.ndarray, z: np.ndarray, K: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """[H, W] depth (m) of a body's nearest surface from its fitting vertices (inf = not covered): each
    vertex splatted as a disc as wide as the vertices' spacing (SURFACE_SPACING) at its depth."""
    h, w = shape
    depth = np.full((h, w), np.inf, np.float32)
    x, y = np.round(uv[:, 0]).astype(int), np.round(uv[:, 1]).astype(int)
    keep = (x >= 0) & (x < w) & (y >= 0) & (y < h) & (z > 0)
    if not keep.any():
        return depth
    np.minimum.at(depth, (y[keep], x[keep]), z[keep].astype(np.float32))
    r = max(1, int(round(K[0, 0] * SURFACE_SPACING / float(np.median(z[keep])))))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    depth = cv2.erode(np.where(np.isfinite(depth), depth, 1e6).astype(np.float32), disc)
    return np.where(depth < 1e5, depth, np.inf).astype(np.float32)


def _eroded(mask: np.ndarray, px: float) -> np.ndarray:
    """`mask` shrunk by `px` pixels."""
    r = max(1, int(round(px)))
    return cv2.erode(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


_LEG_LANDMARKS = np.array([name.endswith(LEGS) for name in POSE_LANDMARKS])
# per landmark, its TRUST_RAMP (start, full), else None
_RAMPS = [next((r for part, r in TRUST_RAMP.items() if name.endswith(part)), None) for name in POSE_LANDMARKS]
_RAMPED = np.array([r is not None for r in _RAMPS])
_RAMP_START, _RAMP_FULL = (np.array([r[i] if r else VISIBLE for r in _RAMPS]) for i in (0, 1))


def _trust(vis: np.ndarray, calibrated: bool) -> tuple[np.ndarray, np.ndarray]:
    """[33] which landmarks take a TRUST_RAMP, and each landmark's trust in [0, 1] at its
    visibility (the step at VISIBLE for the others, and for all when not `calibrated`)."""
    limb = _RAMPED & calibrated
    ramp = np.clip((vis - _RAMP_START) / np.maximum(_RAMP_FULL - _RAMP_START, 1e-6), 0.0, 1.0)
    return limb, np.where(limb, ramp, vis > VISIBLE)


@functools.lru_cache(maxsize=2)
def _nearest_landmarks(model) -> torch.Tensor:
    """[S] for each silhouette vertex of the fitting model, its nearest vertex-regressed landmark
    (rest pose of the template): where that landmark is hidden, so may this part of the body be."""
    lmap = _lmap(model)
    n_lm = len(lmap.vertex_ids)
    template = model.template_vertices.to(torch.float32)
    regressed = (lmap.weight > 0) & ~lmap.from_bone
    points = lmap.regression.to(torch.float32) @ template[:n_lm]
    ids = torch.nonzero(regressed)[:, 0]
    return ids[torch.cdist(template[n_lm:], points[ids]).argmin(1)]


# ----------------------------------------------------------------------------- state
class State:
    """Optimised parameters of all persons (camera frame)."""

    def __init__(self, rot: np.ndarray, trans: np.ndarray, phen: list[dict[str, float]], model,
                 pose: np.ndarray, seated: np.ndarray):
        f32 = functools.partial(torch.tensor, dtype=torch.float32, device=model.device)
        self.rot = f32(rot).requires_grad_()  # [N,3] rotvec: body-local -> camera
        self.rot_start = M.rotvec_to_matrix(self.rot.detach().clone())  # [N,3,3] the initial orientation
        self.xy = f32(trans[:, :2] / trans[:, 2:]).requires_grad_()  # root x/z, y/z
        self.log_z = f32(np.log(trans[:, 2])).requires_grad_()
        self.pose_mean = _pose_vector(PRIOR_MEAN, f32)  # [J,3]
        self.pose = f32(pose).requires_grad_()  # [N,J,3] fitted bones' rotation vectors
        self.seated = torch.as_tensor(seated, dtype=torch.bool)  # [N] started seated (hidden thighs level)
        self.shape = torch.zeros((len(rot), len(FREE_PHENOTYPES)), device=model.device).requires_grad_()
        self.fixed = M.phenotype_tensor(phen, model)
        self.log_z_target = self.log_z.detach().clone()
        self.shape_free = False  # while False the rest state is computed once, without gradients
        self._rest: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def rest(self, model) -> tuple[torch.Tensor, torch.Tensor]:
        """Rest vertices and bone matrices of the current phenotypes (cached while shape is fixed)."""
        phen = self.phenotypes()
        if self.shape_free:
            return M.rest_state(model, phen)
        if self._rest is None or not torch.equal(self._rest[0], phen):
            with torch.no_grad():
                self._rest = (phen.detach().clone(), *M.rest_state(model, phen.detach()))
        return self._rest[1], self._rest[2]

    def select(self, rows: torch.Tensor) -> State:
        """A new state holding the given persons (rows) of this one, as fresh leaf tensors."""
        out = copy.copy(self)
        for name in ("rot", "xy", "log_z", "pose", "shape"):
            setattr(out, name, getattr(self, name).detach()[rows].clone().requires_grad_())
        out.rot_start, out.fixed = self.rot_start[rows], self.fixed[rows].clone()
        out.log_z_target, out.seated = self.log_z_target[rows], self.seated[rows]
        out._rest = None
        return out

    def params(self) -> list[dict]:
        """Adam parameter groups."""
        return [{"params": [self.rot], "lr": 0.03}, {"params": [self.xy], "lr": 0.003},
                {"params": [self.log_z], "lr": 0.01}, {"params": [self.pose], "lr": 0.03},
                {"params": [self.shape], "lr": 0.05}]

    def phenotypes(self) -> torch.Tensor:
        """[N,6] phenotype values: fixed ones plus sigmoid of the free logits."""
        phen = self.fixed.clone()
        for i, name in enumerate(FREE_PHENOTYPES):
            phen[:, M.PHENOTYPES.index(name)] = torch.sigmoid(self.shape[:, i])
        return phen

    def translation(self) -> torch.Tensor:
        """[N,3] root head in camera coordinates."""
        z = torch.exp(self.log_z)[:, None]
        return torch.cat([self.xy * z, z], dim=1)

    def rescale(self, scales: np.ndarray, phen: list[dict[str, float]]) -> None:
        """Move each person along their ray by `scales` with new height/age phenotypes."""
        with torch.no_grad():
            self.log_z += torch.log(torch.as_tensor(scales, dtype=torch.float32))
            self.log_z_target = self.log_z.detach().clone()
            for i, p in enumerate(phen):
                for k, v in p.items():
                    self.fixed[i, M.PHENOTYPES.index(k)] = v


def _pose_vector(pose: dict[str, tuple[float, float, float]], make: Callable[[list], object] = np.array):
    """[J,3] rotation vectors of the fitted bones from a {bone: rotvec} dict (others at rest),
    made into an array by `make` (numpy by default, or a tensor factory)."""
    return make([pose.get(b, (0.0, 0.0, 0.0)) for b in POSE_PRIOR])


def _initial_state(people: list[Person], model, K: np.ndarray, phen: list[dict],
                   starts: tuple[dict, ...]) -> State:
    """Orientation from BlazePose 3D (or facing the camera), distance from the torso's (else the
    head's) size; one copy of every person per start pose, start after start."""
    with torch.no_grad():
        verts, rest = M.rest_state(model, M.phenotype_tensor(phen, model))
        lmap = _lmap(model)
        lms = lmap(verts[:, :len(lmap.vertex_ids)], rest).cpu().numpy()
    heads = rest[:, 0, :3, 3].cpu().numpy()
    rots, trans = [], []
    for i, p in enumerate(people):
        local = lms[i] - heads[i]
        torso = [index(n) for n in TORSO]
        if p.keypoints_3d is not None and np.isfinite(p.keypoints_3d[torso]).all():
            points = world_points_in_camera(p, K)
            a = local[torso] - local[torso].mean(0)
            b = points[torso] - points[torso].mean(0)
            rot = Rotation.align_vectors(b, a)[0].as_matrix()
        else:
            rot = FACING_CAMERA.copy()
            if p.keypoints[index("left_shoulder"), 0] < p.keypoints[index("right_shoulder"), 0]:
                rot = rot @ Rotation.from_rotvec([0, 0, np.pi]).as_matrix()
        kp, vis = p.keypoints[:, :2], p.keypoints[:, 2] > VISIBLE
        z = K[0, 0] * 1.7 / max(p.bbox[3] - p.bbox[1], 1.0)  # the box taken for a whole adult
        # the torso's size, else for a person seen only down to the shoulders the head's (their
        # box is a head, not an adult; where more shows, the box spans more of the body)
        head_only = not vis[BELOW_SHOULDERS].any()
        for pairs in (SEGMENTS[8:], HEAD_SEGMENTS if head_only else []):
            seen = [(index(a), index(b)) for a, b in pairs if vis[index(a)] and vis[index(b)]]
            model_len = sum(np.linalg.norm((rot @ (local[b] - local[a]))[:2]) for a, b in seen)
            image_len = sum(np.linalg.norm(kp[b] - kp[a]) for a, b in seen)
            if image_len > 1.0:
                z = K[0, 0] * model_len / image_len
                break
        anchors = [index(n) for n in TORSO if vis[index(n)]] or [int(np.argmax(p.keypoints[:, 2]))]
        centre2d = kp[anchors].mean(0)
        centre_local = rot @ local[anchors].mean(0)
        ray = np.linalg.inv(K) @ np.r_[centre2d, 1.0]
        trans.append(ray * (z + centre_local[2]) - centre_local)
        rots.append(Rotation.from_matrix(rot).as_rotvec())
    k = len(starts)
    poses = np.concatenate([np.tile(_pose_vector(p), (len(people), 1, 1)) for p in starts])
    seated = np.repeat([start is SEATED for start in starts], len(people))
    return State(np.tile(rots, (k, 1)), np.tile(trans, (k, 1)), phen * k, model, poses, seated)


# ----------------------------------------------------------------------------- model in camera
def _pose_all(state: State, fitted: torch.Tensor, bones: int) -> torch.Tensor:
    """[N,B,3] rotation vectors with the fitted bones filled in."""
    full = torch.zeros((state.pose.shape[0], bones, 3), dtype=state.pose.dtype, device=state.pose.device)
    return full.index_copy(1, fitted, state.pose)


def _lmap(model):
    """The landmark map of the full model behind a fitting model."""
    return landmark_map(M.load_body_model(str(model.device)))


def _posed(model, state: State, fitted: torch.Tensor):
    """Posed fitting vertices [N,S,3] (camera frame), bone matrices, rest matrices, rotation."""
    verts, rest = state.rest(model)
    parents = [int(p) for p in model.bone_parents]
    zeros = torch.zeros((len(verts), 3), dtype=verts.dtype, device=verts.device)
    posed = M.forward_kinematics(rest, parents, _pose_all(state, fitted, len(parents)), zeros)
    pts = M.skin(model, verts, M.skinning_matrices(rest, posed))
    rot = M.rotvec_to_matrix(state.rot)
    head = rest[:, :1, :3, 3]
    cam = (pts - head) @ rot.transpose(1, 2) + state.translation()[:, None]
    return cam, posed, rest, rot


def _project(pts: torch.Tensor, K: np.ndarray) -> torch.Tensor:
    """Pinhole projection of camera points [...,3] to working pixels [...,2]."""
    z = pts[..., 2:].clamp_min(0.05)
    return torch.cat([K[0, 0] * pts[..., :1] / z + K[0, 2], K[1, 1] * pts[..., 1:2] / z + K[1, 2]], -1)


def _huber(e: torch.Tensor) -> torch.Tensor:
    """Huber on normalised residuals (quadratic below 1)."""
    return torch.where(e < 1, e * e, 2 * e - 1)


# ----------------------------------------------------------------------------- optimisation
def _optimise(model, state: State, t: Targets, K: np.ndarray, fitted: torch.Tensor,
              iters: tuple[int, int], report, span: tuple[float, float],
              down: np.ndarray, depth_prior: bool = False, shape_steps: int = 0) -> torch.Tensor:
    """Adam: `iters[0]` steps of placement only (torso keypoints), then the pose; the shape
    phenotypes are free in the last `shape_steps` steps; silhouette terms after 30 pose steps.
    `down` is the world's down in the camera frame (for held legs). Returns the last step's
    loss per person, less the held legs' prior and hold (see _fit_bodies)."""
    lmap = _lmap(model)
    n_lm = len(lmap.vertex_ids)
    seg = torch.tensor([[index(a), index(b)] for a, b in DIRECTIONS])
    knees = torch.tensor(SHIN_IDS)
    torso_w = torch.zeros(t.kp_w.shape[1])
    torso_w[[index(n) for n in TORSO + ("nose", "left_ear", "right_ear")]] = 1.0
    h, w = t.outside.shape[-2:]
    down_t = torch.as_tensor(down / np.linalg.norm(down), dtype=torch.float32)
    held_joints = _held_joints(model)
    total = sum(iters)
    opt = torch.optim.Adam(state.params())
    for it in range(total):
        placing = it < iters[0]
        state.shape_free = it >= total - shape_steps
        opt.zero_grad()
        cam, posed, rest, rot = _posed(model, state, fitted)
        lms = lmap(cam[:, :n_lm], _camera_bones(posed, rest, rot, state))
        uv = _project(lms, K)
        err = torch.linalg.norm(uv - t.kp, dim=-1) / t.sigma[:, None]
        kw = t.kp_w * (torso_w if placing else 1.0)
        loss = (kw * _huber(err)).sum(1) / kw.sum(1).clamp_min(1.0)
        if not placing:
            d = lms[:, seg[:, 1]] - lms[:, seg[:, 0]]
            cos = (d / torch.linalg.norm(d, dim=-1, keepdim=True).clamp_min(1e-6) * t.dirs).sum(-1)
            loss = loss + 2.0 * (t.dirs_w * (1 - cos)).sum(1) / t.dirs_w.sum(1).clamp_min(1.0)
            prior = 0.01 * t.prior * ((state.pose - _prior_targets(state, t)) ** 2).sum(-1)
            loss = loss + prior.sum(1)
            knee = state.pose[:, knees]
            loss = loss + 0.05 * (torch.relu(-knee[..., 0]) ** 2 + knee[..., 1:].pow(2).sum(-1)).sum(1)
            loss = loss + 0.02 * (state.shape ** 2).sum(1)
            hold = LEG_HOLD * _leg_hold(state, t, posed, rot, down_t, held_joints)
            loss = loss + hold
            if it >= iters[0] + 30:
                sil_uv = _project(cam[:, n_lm:], K)
                loss = loss + _silhouette(sil_uv, t, h, w)
                if t.front is not None:
                    loss = loss + ORDER_WEIGHT * _in_front(sil_uv, cam[:, n_lm:, 2], t, h, w)
        if depth_prior:
            loss = loss + 10.0 * (state.log_z - state.log_z_target) ** 2
        loss = loss + ROT_PRIOR * t.rot_w * ((rot - state.rot_start) ** 2).sum((1, 2))
        loss.sum().backward()
        opt.step()
        if it % 20 == 0:
            report(span[0] + (span[1] - span[0]) * it / total, "fitting bodies")
    state.shape_free = False
    log.info("fit losses per person: %s", [round(float(x), 3) for x in loss.detach()])
    if total == iters[0]:
        return loss.detach()
    # both starts pull held legs to the standing prior and each to its own hold: what that costs
    # a seated start is no evidence from the photo (hidden legs leaned to standing)
    return (loss - hold - (prior[:, HELD_PRIOR_COLUMNS] * t.held).sum(1)).detach()


def _prior_targets(state: State, t: Targets) -> torch.Tensor:
    """[N,J,3] the pose each bone's prior pulls to: the relaxed pose, and for a hidden bone of
    MIRRORED_LIMBS whose partner is seen the partner's current pose reflected."""
    hidden = t.prior == HIDDEN_PRIOR
    use = hidden & ~hidden[:, MIRROR_PARTNER]
    pose = state.pose.detach()
    reflected = pose[:, MIRROR_PARTNER] * torch.tensor(REFLECT, device=pose.device)
    return torch.where(use[..., None], reflected, state.pose_mean)


def _held_joints(model) -> tuple[list[int], list[int]]:
    """Bone indices of the head joints and far-end joints of the HELD_LEGS bones."""
    names = list(model.bone_labels)
    return [names.index(s) for _, s, _ in HELD_LEGS], [names.index(e) for _, _, e in HELD_LEGS]


def _leg_hold(state: State, t: Targets, posed: torch.Tensor, rot: torch.Tensor, down: torch.Tensor,
              joints: tuple[list[int], list[int]]) -> torch.Tensor:
    """Per person, (1 - cos) between each held leg bone (HELD_LEGS, `joints` from _held_joints) and
    its direction: down (the person's own while upright, else the world's), except a seated
    start's thighs, which point level and forward."""
    heads = posed[..., :3, 3]
    vec = (heads[:, joints[1]] - heads[:, joints[0]]) @ rot.transpose(1, 2)  # camera frame
    own = -rot[:, :, 2].detach()  # body-local -z (down) in the camera frame
    upright = (own @ down) >= np.cos(np.radians(OWN_VERTICAL))
    down = torch.where(upright[:, None], own, down.expand_as(own))
    forward = -rot[:, :, 1].detach()  # body-local -y (front) in the camera frame
    level = forward - (forward * down).sum(-1, keepdim=True) * down
    level = level / torch.linalg.norm(level, dim=-1, keepdim=True).clamp_min(1e-6)
    thigh = torch.where(state.seated[:, None], level, down)
    target = torch.stack([thigh, thigh, down, down], 1)
    cos = (vec / torch.linalg.norm(vec, dim=-1, keepdim=True).clamp_min(1e-6) * target).sum(-1)
    return (t.held * (1 - cos)).sum(1)


def _camera_bones(posed: torch.Tensor, rest: torch.Tensor, rot: torch.Tensor, state: State) -> torch.Tensor:
    """Posed bone matrices carried into the camera frame (only their heads are used)."""
    out = posed.clone()
    out[..., :3, 3] = (posed[..., :3, 3] - rest[:, :1, :3, 3]) @ rot.transpose(1, 2) + state.translation()[:, None]
    return out


def _silhouette(uv: torch.Tensor, t: Targets, h: int, w: int) -> torch.Tensor:
    """Body points outside the allowed area + own-mask samples far from the body, per person."""
    grid = torch.stack([2 * uv[..., 0] / w - 1, 2 * uv[..., 1] / h - 1], -1)[:, :, None]
    dist = torch.nn.functional.grid_sample(t.outside, grid, align_corners=False)[:, 0, :, 0]
    out = (t.sil_w * dist / t.sigma[:, None]).mean(1)
    near = torch.cdist(t.cover, uv).amin(-1) / t.sigma[:, None]
    cover = (t.cover_w * _huber(near)).sum(1) / t.cover_w.sum(1).clamp_min(1.0)
    return 1.0 * out + COVER_WEIGHT * cover


def _in_front(uv: torch.Tensor, z: torch.Tensor, t: Targets, h: int, w: int) -> torch.Tensor:
    """Per person, body points that lie in front of the seen person whose pixel they project onto."""
    grid = torch.stack([2 * uv[..., 0] / w - 1, 2 * uv[..., 1] / h - 1], -1)[:, :, None]
    front = torch.nn.functional.grid_sample(t.front, grid.detach(), mode="nearest", align_corners=False)[:, 0, :, 0]
    return _huber(torch.relu(front - z) / ORDER_SCALE).mean(1)


# ----------------------------------------------------------------------------- floor, shape
def _floor(model, state: State, t: Targets, fitted, K, people: list[Person], reorder: bool = True):
    """Up vector, per-person depth scales (floor + occlusion order) and the camera height."""
    lmap = _lmap(model)
    with torch.no_grad():
        cam, posed, rest, rot = _posed(model, state, fitted)
        lms = lmap(cam[:, :len(lmap.vertex_ids)], _camera_bones(posed, rest, rot, state)).numpy()
        uv = _project(cam[:, len(lmap.vertex_ids):], K).numpy()
    ups = rot[:, :, 2].numpy()
    torso_seen = np.array([t.kp_w[i, [index(n) for n in TORSO]].sum().item() for i in range(len(people))])
    up = ground.up_direction(ups, (torso_seen > 2).astype(float))
    feet = [index(n) for n in FEET]
    soles = np.array([lm[feet][np.argmin(lm[feet] @ up)] for lm in lms])
    heights = ground.camera_heights(soles, up)
    cam_height, scales = ground.floor_scales(heights, t.feet_seen)
    if reorder and len(people) > 1:
        depths = state.translation()[:, 2].detach().numpy()
        occ = ground.occluders([p.mask.astype(bool) for p in people], list(uv))
        scales = scales * ground.order_depths(depths * scales, occ)
        log.debug("occlusion evidence (row hidden by column) %s", np.round(occ, 3).tolist())
    log.info("up %s camera height %.2f m, scales %s", np.round(up, 3), cam_height, np.round(scales, 3))
    return up, scales, cam_height


@functools.lru_cache(maxsize=2)
def _height_curves(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rest height of anny along adult height (age 0.5) and along age (height 0.5)."""
    grid = np.linspace(0.0, 1.0, 11)
    adult = [{"age": 0.5, "height": g} for g in grid]
    young = [{"age": 0.5 * g, "height": 0.5} for g in grid]
    with torch.no_grad():
        verts, _ = M.rest_state(model, M.phenotype_tensor(adult + young, model))
    heights = (verts[..., 2].amax(1) - verts[..., 2].amin(1)).numpy()
    return grid, heights[:11], heights[11:]


def _heights_on_floor(model, state: State, scales: np.ndarray) -> tuple[np.ndarray, list[dict[str, float]]]:
    """The floor's per-person scales limited to plausible heights (HEIGHT_RANGE), and height and age
    phenotypes that give each person that height. Size and distance change together (the image
    stays); a floor that would make someone taller or shorter than a person can be has misplaced
    their feet (near the horizon of a distant group a few pixels are metres), so the scale stops
    there: before, a man of a group 20 m away was sent to 45 m at the 2.1 m height limit, where his
    body no longer covered his image."""
    grid, adult, young = _height_curves(model)
    with torch.no_grad():
        verts, _ = M.rest_state(model, state.phenotypes().to(model.dtype))
    current = (verts[..., 2].amax(1) - verts[..., 2].amin(1)).numpy()
    heights = np.clip(current * scales, *HEIGHT_RANGE)
    out = []
    for h in heights:
        if h >= 1.45:
            out.append({"age": 0.5, "height": float(np.interp(h, adult, grid))})
        else:
            out.append({"age": 0.5 * float(np.interp(h, young, grid)), "height": 0.5})
    log.info("target heights %s", np.round(heights, 2))
    return heights / current, out


# ----------------------------------------------------------------------------- export
def _export(model, state: State, t: Targets, fitted, K, people: list[Person],
            cam_to_world: np.ndarray) -> list[Body]:
    """Bodies in the world: object_to_world = yaw + floor position, the rest in the root pose."""
    lmap = _lmap(model)
    with torch.no_grad():
        cam, posed, rest, rot = _posed(model, state, fitted)
        uv = _project(lmap(cam[:, :len(lmap.vertex_ids)], _camera_bones(posed, rest, rot, state)), K)
        err = torch.linalg.norm(uv - t.kp, dim=-1).numpy()
    phen = state.phenotypes().detach().numpy().astype(np.float64)
    pose = _pose_all(state, fitted, len(model.bone_labels)).detach().numpy().astype(np.float64)
    heads = rest[:, 0, :3, 3].numpy().astype(np.float64)
    trans = state.translation().detach().numpy().astype(np.float64)
    bodies = []
    for i, person in enumerate(people):
        local_to_cam = np.eye(4)
        local_to_cam[:3, :3] = rot[i].numpy()
        local_to_cam[:3, 3] = trans[i] - rot[i].numpy() @ heads[i]
        full = cam_to_world @ local_to_cam  # body-local -> world
        o2w = _floor_placement(full, heads[i])
        j = np.linalg.inv(o2w) @ full
        pose_i = pose[i].copy()
        pose_i[0] = Rotation.from_matrix(j[:3, :3]).as_rotvec()
        offset = j[:3, :3] @ heads[i] + j[:3, 3] - heads[i]
        visible = t.kp_w[i].numpy() > 0
        body = make_body(pose_i, dict(zip(M.PHENOTYPES, phen[i].tolist())), o2w, person.id,
                         root_offset=offset, device=str(model.device),
                         extra_params={"visible_keypoints": int(visible.sum()),
                                       "feet_on_floor": bool(t.feet_seen[i]),
                                       "legs_hidden": bool(t.held[i, :2].all())})
        body.reprojection_error_px = float(err[i][visible].mean()) if visible.any() else float("nan")
        bodies.append(body)
        log.info("person %d: height %.2f m, reprojection %.1f px", person.id, body.height_m,
                 body.reprojection_error_px)
    return bodies


def _floor_placement(full: np.ndarray, head: np.ndarray) -> np.ndarray:
    """object_to_world: a turn about Z (the body's heading) and the root's floor point."""
    forward = full[:3, :3] @ np.array([0.0, -1.0, 0.0])
    yaw = np.arctan2(forward[0], -forward[1]) if np.hypot(forward[0], forward[1]) > 1e-6 else 0.0
    o2w = np.eye(4)
    o2w[:3, :3] = Rotation.from_rotvec([0.0, 0.0, yaw]).as_matrix()
    root = full[:3, :3] @ head + full[:3, 3]
    o2w[:3, 3] = [root[0], root[1], 0.0] - o2w[:3, :3] @ np.array([head[0], head[1], 0.0])
    return o2w
