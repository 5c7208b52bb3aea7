"""Plain data passed between the pipeline stages: image -> people -> bodies -> gaussians -> bundle.

Every stage takes and returns these dataclasses; nothing here imports torch so the
bundle writer and tests can use them cheaply. Arrays are numpy unless noted.

Conventions (see docs/ARCHITECTURE.md):
- pixels: (x right, y down), continuous coordinates: pixel i covers [i, i+1), its centre
  is i + 0.5 (gsplat's convention; a centred principal point is cx = W / 2). Positions are
  in the *working* image unless a field says "full".
- camera: OpenCV (x right, y down, z forward); world: meters, Z up, ground plane z = 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Photo:
    """The decoded input photo.

    `rgb` is the working image (uint8 HxWx3, RGB), possibly downscaled from the file;
    `scale` = working size / full size, so full-resolution pixel = working pixel / scale.
    """

    rgb: np.ndarray
    full_width: int
    full_height: int
    scale: float
    path: str
    focal_35mm: float | None = None  # EXIF FocalLengthIn35mmFilm, if present
    focal_mm: float | None = None  # EXIF FocalLength, if present
    sensor_width_mm: float | None = None  # derived from EXIF when possible

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


@dataclass
class Camera:
    """Pinhole camera in full-resolution pixels with an OpenCV world_to_camera 4x4."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    world_to_camera: np.ndarray = field(default_factory=lambda: np.eye(4))

    def K(self, scale: float = 1.0) -> np.ndarray:
        """3x3 intrinsics for the image resized by `scale` (continuous pixel coordinates)."""
        return np.array([[self.fx * scale, 0.0, self.cx * scale],
                         [0.0, self.fy * scale, self.cy * scale],
                         [0.0, 0.0, 1.0]], dtype=np.float64)


# BlazePose 33-landmark order (mediapipe); index constants used across stages.
POSE_LANDMARKS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)


@dataclass
class Person:
    """One detected person in working-image pixels.

    keypoints: [33, 3] = (x, y, visibility in 0..1) in POSE_LANDMARKS order.
    keypoints_3d: [33, 3] metric landmarks around the hips from the landmark model (or None).
    mask: bool [H, W] at working resolution; masks of different persons never overlap.
    """

    id: int
    bbox: np.ndarray  # [x0, y0, x1, y1] working pixels
    score: float
    keypoints: np.ndarray
    mask: np.ndarray
    keypoints_3d: np.ndarray | None = None
    truncated: bool = False  # cut by the image border
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Bone:
    """One rig bone at rest in the body's local frame (meters, Z up), Blender-style."""

    name: str
    parent: int  # index into the bone list, -1 for the root
    head: np.ndarray  # [3]
    tail: np.ndarray  # [3]
    roll: float  # radians, Blender's bone roll
    matrix: np.ndarray | None = None  # [4, 4] armature-space rest matrix (x, y, z axes, head)


@dataclass
class Body:
    """A fitted body model for one person.

    Rest quantities are in the body-local frame; `rest_to_world` [B, 4, 4] are the linear
    blend skinning matrices taking a rest-pose point bound to bone b to the posed world
    position (v_world = sum_b w_b * rest_to_world[b] @ v_rest). `bone_pose` [B, 4] holds
    each bone's photo pose as a local rotation quaternion (w, x, y, z) relative to its rest
    orientation, the way Blender's pose bones store rotation_quaternion.
    """

    person_id: int
    vertices_rest: np.ndarray  # [V, 3] float32
    faces: np.ndarray  # [F, 3] int32
    skin_indices: np.ndarray  # [V, K] int32 bone indices
    skin_weights: np.ndarray  # [V, K] float32, rows sum to 1
    bones: list[Bone]
    rest_to_world: np.ndarray  # [B, 4, 4] float64
    bone_pose: np.ndarray  # [B, 4] quaternions w, x, y, z
    root_translation: np.ndarray  # [3] world meters (pelvis / root joint)
    vertices_world: np.ndarray  # [V, 3] posed, world meters
    params: dict[str, Any] = field(default_factory=dict)  # body-model parameters (JSON-able)
    reprojection_error_px: float = float("nan")
    height_m: float = float("nan")
    object_to_world: np.ndarray | None = None  # [4, 4] places the body-local (armature) frame
    root_location: np.ndarray | None = None  # [3] root pose_bone.location (bone-local, meters)


@dataclass
class Gaussians:
    """Gaussians of one person, bound to their body.

    World-space parameters (means, quats w x y z, linear scales, opacity in 0..1, RGB
    colour in 0..1 or SH coefficients) plus the binding that lets a rig re-pose them:
    each Gaussian sits on body triangle `tri` at barycentric `bary`, offset `offset`
    meters along the normal. `means_rest`/`quats_rest` are the same Gaussians in the
    body's rest pose; `skin_indices`/`skin_weights` their per-Gaussian bone weights.
    """

    means: np.ndarray  # [N, 3]
    quats: np.ndarray  # [N, 4]
    scales: np.ndarray  # [N, 3]
    opacities: np.ndarray  # [N]
    colors: np.ndarray  # [N, 3] RGB 0..1 (the SH DC term in colour space)
    means_rest: np.ndarray
    quats_rest: np.ndarray
    skin_indices: np.ndarray  # [N, K]
    skin_weights: np.ndarray  # [N, K]
    tri: np.ndarray  # [N]
    bary: np.ndarray  # [N, 3]
    offset: np.ndarray  # [N]
    sh_rest: np.ndarray | None = None  # [N, M, 3] higher SH bands, optional
    visible: np.ndarray | None = None  # [N] bool: coloured from the photo (vs completed)
