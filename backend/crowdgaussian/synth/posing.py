"""Random anny people for ground-truth scenes: phenotypes (children included) and plausible poses.

The truth is generated with `anny` directly (not through `crowdgaussian.bodies`), so the
benchmark's ground truth does not depend on the code it judges. Poses use anny's
"local-ref" parameterization: per-bone rotations in world-aligned axes (X right, Y back,
Z up; the rest pose faces -Y, arms in an A-pose). Measured signs: a negative rotation about X
swings an arm or thigh forward; a positive one bends a knee backward.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from crowdgaussian.gaussians.parts import dominant_bones

# COCO keypoints that anny regresses from vertices, in anny's label order.
_COCO = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
         "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
         "right_knee", "left_ankle", "right_ankle", "left_big_toe", "right_big_toe", "left_small_toe",
         "right_small_toe", "left_heel", "right_heel")


@functools.lru_cache(maxsize=1)
def anny_model():
    """The anny full-body model and its COCO keypoint regressor, loaded once per process."""
    import anny
    import torch

    model = anny.Anny()
    regressor = anny.KeypointsRegressor.coco(model)
    with torch.no_grad():
        faces = model.get_triangular_faces().cpu().numpy().astype(np.int32)
    return model, regressor, faces


@dataclass
class PosedBody:
    """One posed anny body in world meters (Z up), with what the dressing and scene need."""

    vertices_rest: np.ndarray  # [V, 3] rest pose, body-local (origin between the feet, z=0 soles)
    vertices_world: np.ndarray  # [V, 3]
    faces: np.ndarray  # [F, 3] int32
    skin_indices: np.ndarray  # [V, K] int32 (anny bone order)
    skin_weights: np.ndarray  # [V, K] float32
    bone_labels: list[str]
    keypoints_world: np.ndarray  # [33, 3] BlazePose order (see types.POSE_LANDMARKS)
    root_world: np.ndarray  # [3] root joint (pelvis), world
    height_m: float
    phenotype: dict[str, float] = field(default_factory=dict)
    posture: str = "standing"
    seat: np.ndarray | None = None  # [3] sitting: centre of the seat top (x, y under the hips, z)


def random_phenotype(rng: np.random.Generator, child_probability: float = 0.25) -> dict[str, float]:
    """Anny phenotype in 0..1 units; children (age 0.12-0.35, about 0.95-1.4 m) with the given odds."""
    child = rng.random() < child_probability
    return {
        "gender": float(rng.random()),
        "age": float(rng.uniform(0.12, 0.35) if child else rng.uniform(0.42, 0.95)),
        "muscle": float(rng.uniform(0.2, 0.8)),
        "weight": float(rng.uniform(0.2, 0.8)),
        "height": float(rng.uniform(0.25, 0.75)),
        "proportions": float(rng.uniform(0.3, 0.7)),
    }


def random_pose(rng: np.random.Generator, posture: str = "standing") -> dict[str, np.ndarray]:
    """Bone name -> rotation vector (degrees, world-aligned local-ref) for a plausible pose."""
    u = rng.uniform
    pose: dict[str, np.ndarray] = {}
    for side, s in (("L", 1.0), ("R", -1.0)):
        # arms: from the A-pose down to the sides (+-Y rotation), some forward swing, elbow bend
        pose[f"upperarm01.{side}"] = np.array([u(-30, 12), s * u(32, 52), 0.0])
        pose[f"lowerarm01.{side}"] = np.array([-u(0, 70), 0.0, 0.0])
        if posture == "sitting":
            pose[f"upperleg01.{side}"] = np.array([u(-95, -80), 0.0, s * u(-8, 2)])
            pose[f"lowerleg01.{side}"] = np.array([u(80, 95), 0.0, 0.0])
        else:
            pose[f"upperleg01.{side}"] = np.array([u(-20, 12), 0.0, s * u(-2, 6)])
            pose[f"lowerleg01.{side}"] = np.array([u(0, 20), 0.0, 0.0])
    pose["spine03"] = np.array([u(-8, 8), u(-5, 5), u(-10, 10)])
    pose["neck01"] = np.array([u(-10, 10), u(-6, 6), u(-25, 25)])
    return pose


def _blazepose_from_coco(coco: dict[str, np.ndarray], joints: dict[str, np.ndarray]) -> np.ndarray:
    """[33, 3] BlazePose landmarks from anny's COCO keypoints and hand/foot joint positions."""
    from crowdgaussian.types import POSE_LANDMARKS

    out = {name: coco[name] for name in _COCO if name in POSE_LANDMARKS}
    for side in ("left", "right"):
        eye, ear = coco[f"{side}_eye"], coco[f"{side}_ear"]
        out[f"{side}_eye_inner"] = eye + 0.25 * (eye - ear) * np.array([1.0, 0.0, 0.0])
        out[f"{side}_eye_outer"] = eye + 0.15 * (ear - eye)
        out[f"mouth_{side}"] = 0.7 * coco["nose"] + 0.3 * eye + np.array([0.0, 0.0, -0.05])
        out[f"{side}_pinky"] = joints[f"{side}_pinky"]
        out[f"{side}_index"] = joints[f"{side}_index"]
        out[f"{side}_thumb"] = joints[f"{side}_thumb"]
        out[f"{side}_foot_index"] = coco[f"{side}_big_toe"]
    return np.stack([out[name] for name in POSE_LANDMARKS])


def pose_body(phenotype: dict[str, float], pose: dict[str, np.ndarray], yaw_deg: float,
              position_xy: tuple[float, float], posture: str = "standing") -> PosedBody:
    """Pose an anny body, turn it by `yaw_deg` about Z (0 = facing -Y) and stand it at position_xy.

    The lowest point rests on z = 0 (soles, also when sitting); a sitting body gets a `seat`
    under its thighs.
    """
    import torch

    model, regressor, faces = anny_model()
    labels = list(model.bone_labels)
    deltas = torch.eye(4, dtype=model.dtype)[None, None].repeat(1, len(labels), 1, 1)
    for name, rotvec in pose.items():
        mat = Rotation.from_rotvec(rotvec, degrees=True).as_matrix()
        deltas[0, labels.index(name), :3, :3] = torch.as_tensor(mat, dtype=model.dtype)
    with torch.no_grad():
        out = model(deltas, phenotype_kwargs=dict(phenotype))
        coco = regressor(out)[0].cpu().numpy().astype(np.float64)
    verts = out["vertices"][0].cpu().numpy().astype(np.float64)
    rest = out["rest_vertices"][0].cpu().numpy().astype(np.float64)
    heads = out["bone_poses"][0, :, :3, 3].cpu().numpy().astype(np.float64)
    joints = {f"{side}_{name}": heads[labels.index(f"{bone}.{side[0].upper()}")]
              for side in ("left", "right")
              for name, bone in (("pinky", "finger5-3"), ("index", "finger2-3"), ("thumb", "finger1-3"))}
    keypoints = _blazepose_from_coco(dict(zip(regressor.labels, coco)), joints)

    rot = Rotation.from_euler("z", yaw_deg, degrees=True).as_matrix()
    root = heads[labels.index("root")]
    floor = verts[:, 2].min()
    shift = np.array([position_xy[0], position_xy[1], 0.0])

    def place(p: np.ndarray) -> np.ndarray:
        return (p - np.array([root[0], root[1], floor])) @ rot.T + shift

    seat = None
    if posture == "sitting":
        thighs = [i for i, n in enumerate(labels) if n.startswith("upperleg")]
        on_thigh = np.isin(dominant_bones(model.vertex_bone_indices.cpu().numpy(),
                                         model.vertex_bone_weights.cpu().numpy()), thighs)
        under = place(verts[on_thigh])
        hips = 0.5 * (place(keypoints[23:25]).sum(axis=0))
        seat = np.array([hips[0], hips[1], under[:, 2].min()])

    rest_local = rest - np.array([0.0, 0.0, rest[:, 2].min()])
    return PosedBody(
        vertices_rest=rest_local.astype(np.float32), vertices_world=place(verts).astype(np.float32),
        faces=faces, skin_indices=model.vertex_bone_indices.cpu().numpy().astype(np.int32),
        skin_weights=model.vertex_bone_weights.cpu().numpy().astype(np.float32), bone_labels=labels,
        keypoints_world=place(keypoints), root_world=place(root[None])[0],
        height_m=float(rest[:, 2].max() - rest[:, 2].min()), phenotype=dict(phenotype), posture=posture,
        seat=seat)
