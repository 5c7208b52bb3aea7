"""Correspondence between the 33 BlazePose landmarks and points of the anny body.

Face, torso and leg landmarks use anny's COCO keypoint regressor (vertex blends: nose, eyes,
ears, shoulders, elbows, wrists, hips, knees, ankles, heels, big toes; cut to its 32 largest
weights per keypoint so that fitting skins few vertices), with the hips lifted towards the
shoulders to where BlazePose puts them (`lift_hips`); BlazePose's inner and
outer eye corners reuse the eye (low weight), its foot_index is the big toe, and its hand
points (pinky, index, thumb) are the heads of anny's finger bones (knuckles, low weight).
The mouth corners are not used.
"""
from __future__ import annotations

import functools
from typing import TypeVar

import numpy as np
import torch

from ..types import POSE_LANDMARKS

T = TypeVar("T", np.ndarray, torch.Tensor)

_COCO = {
    "nose": "nose", "left_eye_inner": "left_eye", "left_eye": "left_eye",
    "left_eye_outer": "left_eye", "right_eye_inner": "right_eye", "right_eye": "right_eye",
    "right_eye_outer": "right_eye", "left_ear": "left_ear", "right_ear": "right_ear",
    "left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder",
    "left_elbow": "left_elbow", "right_elbow": "right_elbow", "left_wrist": "left_wrist",
    "right_wrist": "right_wrist", "left_hip": "left_hip", "right_hip": "right_hip",
    "left_knee": "left_knee", "right_knee": "right_knee", "left_ankle": "left_ankle",
    "right_ankle": "right_ankle", "left_heel": "left_heel", "right_heel": "right_heel",
    "left_foot_index": "left_big_toe", "right_foot_index": "right_big_toe",
}
_BONES = {
    "left_pinky": "finger5-1.L", "right_pinky": "finger5-1.R", "left_index": "finger2-1.L",
    "right_index": "finger2-1.R", "left_thumb": "finger1-2.L", "right_thumb": "finger1-2.R",
}
# BlazePose puts the hips this share of the torso (mid-hip to mid-shoulder) above anny's COCO
# hips: median 0.043 (left) and 0.053 (right) over the 21-23 people it found with seen hips on the
# quality benchmark's tuning scenes 0-15, against 0.00-0.02 on shoulders, wrists and ankles.
HIP_LIFT = 0.048
SUPPORT = 32  # vertices kept per regressed keypoint (the largest weights, renormalised)
_LOW_WEIGHT = {"left_eye_inner", "left_eye_outer", "right_eye_inner", "right_eye_outer", *_BONES}


class LandmarkMap:
    """Posed positions of the BlazePose landmarks from posed anny vertices and bone heads."""

    def __init__(self, model) -> None:
        import anny

        regressor = anny.KeypointsRegressor.coco(model)
        weights = regressor.regression_weights
        keep = torch.topk(weights, SUPPORT, dim=1)
        weights = torch.zeros_like(weights).scatter(1, keep.indices, keep.values)
        weights = weights / weights.sum(dim=1, keepdim=True)
        self.vertex_ids = torch.nonzero(weights.abs().sum(0) > 0)[:, 0]
        rows = {label: weights[i, self.vertex_ids] for i, label in enumerate(regressor.labels)}
        n = len(POSE_LANDMARKS)
        self.regression = torch.zeros((n, len(self.vertex_ids)), dtype=weights.dtype)
        self.bone_ids = torch.zeros(n, dtype=torch.long)
        self.from_bone = torch.zeros(n, dtype=torch.bool)
        self.weight = torch.zeros(n, dtype=weights.dtype)
        for k, name in enumerate(POSE_LANDMARKS):
            if name in _COCO:
                self.regression[k] = rows[_COCO[name]]
            elif name in _BONES:
                self.bone_ids[k] = model.bone_labels.index(_BONES[name])
                self.from_bone[k] = True
            else:
                continue
            self.weight[k] = 0.3 if name in _LOW_WEIGHT else 1.0
        self.regression = lift_hips(self.regression)

    def __call__(self, verts: torch.Tensor, posed: torch.Tensor) -> torch.Tensor:
        """[N,33,3] landmarks from posed vertices at `vertex_ids` [N,S,3] and bone matrices."""
        pts = torch.einsum("ks,nsd->nkd", self.regression.to(verts.dtype), verts)
        heads = posed[:, self.bone_ids, :3, 3]
        return torch.where(self.from_bone[None, :, None], heads, pts)


def lift_hips(points: T) -> T:
    """[33, ...] BlazePose-ordered landmarks (points, or regression rows that make them) with both
    hips moved HIP_LIFT of the torso towards the shoulders: anny's COCO hips as BlazePose places them."""
    out = points.clone() if isinstance(points, torch.Tensor) else points.copy()
    shift = HIP_LIFT * 0.5 * (points[11] + points[12] - points[23] - points[24])
    out[23] = points[23] + shift
    out[24] = points[24] + shift
    return out


@functools.lru_cache(maxsize=2)
def landmark_map(model) -> LandmarkMap:
    """The LandmarkMap of a model, built once."""
    return LandmarkMap(model)


def index(name: str) -> int:
    """BlazePose index of a landmark name."""
    return POSE_LANDMARKS.index(name)
