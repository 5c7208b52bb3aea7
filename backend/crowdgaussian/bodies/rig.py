"""Blender armature export: bones (head, tail, roll) from rest matrices, pose quaternions.

Blender derives a bone's rest orientation from head, tail and roll (`vec_roll_to_mat3`:
Y along head->tail, then roll about it); `vec_roll_to_mat3` and `mat3_to_roll` below follow
Blender's armature.cc so that an armature built from the exported bones has exactly the rest
matrices the skinning used. Pose evaluation (`blender_pose_matrices`) is Blender's:
pose_b = pose_parent · rest_parent^-1 · rest_b · T(location) · R(quaternion).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from ..types import Bone

_SAFE_THRESHOLD = 6.1e-3
_CRITICAL_THRESHOLD = 2.5e-4
MIN_BONE_LENGTH = 0.01  # Blender deletes zero-length bones


def vec_roll_to_mat3(vec: np.ndarray, roll: float) -> np.ndarray:
    """Blender's bone rest rotation (columns x, y, z) for a head->tail vector and a roll."""
    x, y, z = np.asarray(vec, dtype=np.float64) / np.linalg.norm(vec)
    theta = 1.0 + y
    theta_alt = x * x + z * z
    if theta > _SAFE_THRESHOLD or theta_alt > _CRITICAL_THRESHOLD ** 2:
        if theta <= _SAFE_THRESHOLD:
            theta = theta_alt * 0.5 + theta_alt * theta_alt * 0.125
        b = np.array([[1 - x * x / theta, x, -x * z / theta],
                      [-x, y, -z],
                      [-x * z / theta, z, 1 - z * z / theta]])
    else:
        b = np.diag([-1.0, -1.0, 1.0])
    r = Rotation.from_rotvec(np.array([x, y, z]) * roll).as_matrix()
    return r @ b


def mat3_to_roll(mat: np.ndarray) -> float:
    """Blender's roll of a rest rotation: the twist about Y of vec_roll_to_mat3(y, 0)^T · mat."""
    rel = vec_roll_to_mat3(mat[:, 1], 0.0).T @ mat
    return float(np.arctan2(rel[0, 2] - rel[2, 0], rel[0, 0] + rel[2, 2]))


def bones_from_rest(names: list[str], parents: list[int], rest: np.ndarray) -> list[Bone]:
    """Blender bones reproducing the rest matrices [B,4,4] (Y axis along the bone).

    The bone length (cosmetic in Blender) is the distance to the children's mean head, or
    half the parent's length for leaves, at least MIN_BONE_LENGTH.
    """
    heads = rest[:, :3, 3]
    children: list[list[int]] = [[] for _ in names]
    for c, p in enumerate(parents):
        if p >= 0:
            children[p].append(c)
    lengths = np.zeros(len(names))
    for b in range(len(names)):  # parents come before children
        if children[b]:
            lengths[b] = np.linalg.norm(heads[children[b]].mean(axis=0) - heads[b])
        else:
            lengths[b] = 0.5 * lengths[parents[b]] if parents[b] >= 0 else 0.1
        lengths[b] = max(lengths[b], MIN_BONE_LENGTH)
    bones = []
    for b, name in enumerate(names):
        y_axis = rest[b, :3, 1]
        roll = mat3_to_roll(rest[b, :3, :3])
        matrix = np.eye(4)
        matrix[:3, :3] = vec_roll_to_mat3(y_axis, roll)
        matrix[:3, 3] = heads[b]
        bones.append(Bone(name=name, parent=int(parents[b]), head=heads[b].copy(),
                          tail=heads[b] + lengths[b] * y_axis, roll=roll, matrix=matrix))
    return bones


def blender_pose(bones: list[Bone], posed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose quaternions [B,4] (w,x,y,z) and root location [3] so Blender reaches `posed` [B,4,4].

    Non-root bones get rotation only (their heads follow the parent, as in anny's chain).
    """
    rest = np.stack([b.matrix for b in bones])
    quats = np.zeros((len(bones), 4))
    location = np.zeros(3)
    for i, bone in enumerate(bones):
        if bone.parent < 0:
            basis = np.linalg.inv(rest[i]) @ posed[i]
            location = basis[:3, 3]
        else:
            p = bone.parent
            basis = np.linalg.inv(np.linalg.inv(rest[p]) @ rest[i]) @ np.linalg.inv(posed[p]) @ posed[i]
        xyzw = Rotation.from_matrix(basis[:3, :3]).as_quat()
        quats[i] = np.r_[xyzw[3], xyzw[:3]] * (1.0 if xyzw[3] >= 0 else -1.0)
    return quats, location


def blender_pose_matrices(bones: list[Bone], quats: np.ndarray, location: np.ndarray) -> np.ndarray:
    """Blender's armature-space pose matrices [B,4,4] for pose quaternions and a root location."""
    rest = np.stack([b.matrix for b in bones])
    out = np.zeros_like(rest)
    for i, bone in enumerate(bones):
        basis = np.eye(4)
        basis[:3, :3] = Rotation.from_quat(np.r_[quats[i, 1:], quats[i, 0]]).as_matrix()
        if bone.parent < 0:
            basis[:3, 3] = location
            out[i] = rest[i] @ basis
        else:
            p = bone.parent
            out[i] = out[p] @ np.linalg.inv(rest[p]) @ rest[i] @ basis
    return out
