"""Score reconstructions of a ground-truth scene: 24-view PSNR/SSIM/LPIPS per person, photo-consistency.

A `Prediction` is what a method produced for one input photo (detected people, their roots
and Gaussians, the camera it settled on). Predicted people are matched to true people by
mask IoU; a true person nobody reconstructed is scored against an empty render (and
flagged), so missed detections cost what they should.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from crowdgaussian import types
from crowdgaussian.synth.crowd import SynthPerson, SynthScene

from .metrics import psnr, ssim
from .protocol import OrbitViews, carry_orbit, person_orbit
from .render import render

log = logging.getLogger(__name__)
MIN_IOU = 0.1  # a predicted person must overlap a true one this much to count as them
BACKGROUND = (1.0, 1.0, 1.0)  # orbit views are rendered on white, truth and predictions alike
SEATED_DEG = 45.0  # thighs farther than this from the vertical (on average) sit
# (hip, knee) of each thigh: BlazePose landmark indices of the truth, rig bones of a prediction
THIGHS = (((types.POSE_LANDMARKS.index("left_hip"), types.POSE_LANDMARKS.index("left_knee")),
           ("upperleg01.L", "lowerleg01.L")),
          ((types.POSE_LANDMARKS.index("right_hip"), types.POSE_LANDMARKS.index("right_knee")),
           ("upperleg01.R", "lowerleg01.R")))


@dataclass
class Prediction:
    """One method's reconstruction of one input photo."""

    camera: types.Camera
    people: list[types.Person]  # masks at the input photo's working resolution
    roots: list[np.ndarray]  # [3] world root joint per person
    gaussians: list[types.Gaussians]
    seconds: float = float("nan")
    bodies: list[types.Body] = field(default_factory=list)  # for the posture scores; none: not judged


@dataclass
class PersonScore:
    """Metrics of one true person under one method and input condition (views averaged)."""

    person: int
    matched: bool
    iou: float
    psnr: float
    ssim: float
    lpips: float | None
    psnr_fg: float  # PSNR on the pixels either the truth or the prediction covers (not the paper's)
    orbit_iou: float  # silhouette IoU (alpha > 0.5) averaged over the views: the geometry alone (not the paper's)
    occlusion: float  # fraction of the person's visible photo region the simulator hid
    per_view_psnr: list[float] = field(default_factory=list)
    # posture (not the paper's; None when unmatched): both thighs' direction against the truth's in
    # the photo camera, and sitting (thighs, on average, more than SEATED_DEG from the vertical)
    thigh_error_deg: float | None = None
    seated: bool | None = None
    seated_pred: bool | None = None


def truth_orbit(scene: SynthScene, person: SynthPerson, size: int, indices: list[int]) -> OrbitViews:
    """The evaluation orbit of one true person (protocol.py)."""
    return person_orbit(person.body.root_world, scene.camera.world_to_camera, person.body.height_m, size, indices)


def truth_views(scene: SynthScene, person: SynthPerson, size: int, indices: list[int],
                ) -> tuple[np.ndarray, np.ndarray]:
    """RGB [V, S, S, 3] and alpha [V, S, S] of the true person alone on the evaluation orbit."""
    orbit = truth_orbit(scene, person, size, indices)
    rgb, alpha, _ = render([person.gaussians], orbit.viewmats, orbit.K, size, size, BACKGROUND)
    return rgb, alpha


def _unit(v: np.ndarray) -> np.ndarray:
    """`v` scaled to length 1."""
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _posed_head(body: types.Body, name: str) -> np.ndarray:
    """World position of a rig bone's head in the fitted pose."""
    k = [b.name for b in body.bones].index(name)
    return (body.rest_to_world[k] @ np.append(body.bones[k].head, 1.0))[:3]


def posture(person: SynthPerson, true_w2c: np.ndarray, body: types.Body, pred_w2c: np.ndarray,
            ) -> tuple[float, bool, bool]:
    """(mean angle between predicted and true thigh directions in the photo camera, degrees;
    truly seated; seated as fitted). Each world judges sitting against its own vertical (Z)."""
    errors, tilt_true, tilt_pred = [], [], []
    for (hip, knee), (upper, lower) in THIGHS:
        t = _unit(person.body.keypoints_world[knee] - person.body.keypoints_world[hip])
        p = _unit(_posed_head(body, lower) - _posed_head(body, upper))
        cos = float(np.dot(true_w2c[:3, :3] @ t, pred_w2c[:3, :3] @ p))
        errors.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
        tilt_true.append(np.degrees(np.arccos(np.clip(-t[2], -1.0, 1.0))))
        tilt_pred.append(np.degrees(np.arccos(np.clip(-p[2], -1.0, 1.0))))
    return float(np.mean(errors)), bool(np.mean(tilt_true) > SEATED_DEG), bool(np.mean(tilt_pred) > SEATED_DEG)


def match_people(pred_masks: list[np.ndarray], true_masks: list[np.ndarray]) -> dict[int, tuple[int, float]]:
    """true index -> (predicted index, IoU) by Hungarian matching on mask IoU (>= MIN_IOU)."""
    if not pred_masks or not true_masks:
        return {}
    h, w = true_masks[0].shape
    pm = [cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool) for m in pred_masks]
    iou = np.array([[(p & t).sum() / max((p | t).sum(), 1) for p in pm] for t in true_masks])
    rows, cols = linear_sum_assignment(-iou)
    return {int(r): (int(c), float(iou[r, c])) for r, c in zip(rows, cols) if iou[r, c] >= MIN_IOU}


def score_people(scene: SynthScene, pred: Prediction, truths: list[tuple[np.ndarray, np.ndarray]], size: int,
                 indices: list[int],
                 visible_masks: list[np.ndarray], occlusion: list[float], lpips=None,
                 ) -> tuple[list[PersonScore], list[np.ndarray]]:
    """Per true person: render the matched reconstruction on the truth's orbit carried into its world
    through the photo camera (protocol.py) and compare.

    Returns the scores and the rendered [V, S, S, 3] views of each true person.
    """
    matches = match_people([p.mask for p in pred.people], visible_masks)
    scores, renders = [], []
    for i, person in enumerate(scene.people):
        j, iou = matches.get(i, (None, 0.0))
        truth, truth_alpha = truths[i]
        if j is None:
            images = np.ones_like(truth) * np.asarray(BACKGROUND, np.float32)
            alpha = np.zeros_like(truth_alpha)
        else:
            orbit = carry_orbit(truth_orbit(scene, person, size, indices), person.body.root_world,
                                scene.camera.world_to_camera, pred.roots[j], pred.camera.world_to_camera)
            images, alpha, _ = render([pred.gaussians[j]], orbit.viewmats, orbit.K, size, size, BACKGROUND)
        pose = (None, None, None)
        if j is not None and pred.bodies:
            pose = posture(person, scene.camera.world_to_camera, pred.bodies[j], pred.camera.world_to_camera)
        per_psnr = [psnr(a, b) for a, b in zip(images, truth)]
        covered = (alpha > 0.05) | (truth_alpha > 0.05)
        mine, true = alpha > 0.5, truth_alpha > 0.5
        sil_iou = [(a & b).sum() / max((a | b).sum(), 1) for a, b in zip(mine, true)]
        scores.append(PersonScore(
            person=i, matched=j is not None, iou=iou, psnr=float(np.mean(per_psnr)),
            ssim=float(np.mean([ssim(a, b) for a, b in zip(images, truth)])),
            lpips=float(np.mean([lpips(a, b) for a, b in zip(images, truth)])) if lpips else None,
            psnr_fg=psnr(images, truth, covered), orbit_iou=float(np.mean(sil_iou)), occlusion=occlusion[i],
            per_view_psnr=per_psnr, thigh_error_deg=pose[0], seated=pose[1], seated_pred=pose[2]))
        renders.append(images)
    return scores, renders


def photo_consistency(scene: SynthScene, pred: Prediction, input_rgb: np.ndarray) -> dict[str, float]:
    """PSNR of the reconstruction re-rendered into the input view (over the known background).

    `visible`: against the input photo on the pixels the method took as people (what it saw);
    `amodal`: against the clean photo on all true people pixels (includes what was hidden).
    """
    h, w = input_rgb.shape[:2]
    scale = w / scene.photo.width
    bg = cv2.resize(scene.background, (w, h), interpolation=cv2.INTER_AREA)
    clean = cv2.resize(scene.photo.rgb, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    rgb, alpha, _ = render(pred.gaussians, pred.camera.world_to_camera[None], pred.camera.K(scale), w, h,
                           background=(0.0, 0.0, 0.0))
    composite = rgb[0] + (1 - alpha[0][..., None]) * bg
    seen = np.zeros((h, w), bool)
    for p in pred.people:
        seen |= cv2.resize(p.mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    people = np.zeros((h, w), bool)
    for p in scene.people:
        people |= cv2.resize(p.mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    inp = input_rgb.astype(np.float32) / 255
    return {"visible": psnr(composite, inp, seen) if seen.any() else float("nan"),
            "amodal": psnr(composite, clean, people) if people.any() else float("nan")}
