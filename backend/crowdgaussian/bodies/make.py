"""make_body(): a rigged, skinned Body from explicit anny parameters (no fitting).

Recreate a body from its body.json: make_body(params["pose_rotvec"], params["phenotype"],
params["object_to_world"], root_offset=params["root_offset"]).
"""
from __future__ import annotations

import importlib.metadata
from typing import Any, Mapping

import numpy as np
import torch

from ..types import Body
from . import model as M
from .rig import blender_pose, bones_from_rest

PoseInput = np.ndarray | Mapping[str, Any] | None


def pose_array(pose: PoseInput, bone_names: list[str]) -> np.ndarray:
    """[B,3] rest-aligned rotation vectors from None, an array [B,3] or a {bone: rotvec} dict."""
    out = np.zeros((len(bone_names), 3))
    if pose is None:
        return out
    if isinstance(pose, Mapping):
        for name, rotvec in pose.items():
            out[bone_names.index(name)] = np.asarray(rotvec, dtype=np.float64)
        return out
    arr = np.asarray(pose, dtype=np.float64)
    if arr.shape != out.shape:
        raise ValueError(f"pose must be [{len(bone_names)}, 3] rotation vectors, got {arr.shape}")
    return arr


def make_body(pose: PoseInput = None, phenotype: dict[str, float] | None = None,
              object_to_world: np.ndarray | None = None, person_id: int = 0,
              root_offset: np.ndarray | None = None, device: str = "cpu",
              extra_params: dict[str, Any] | None = None) -> Body:
    """A Body of anny with `phenotype` (keys of model.PHENOTYPES, 0..1, default 0.5) posed by `pose`.

    pose: rotation vectors per bone about its head, in the body-local axes of the rest pose
    (None = rest pose; dict {bone name: rotvec} or [B,3]); root_offset: body-local translation
    of the root head; object_to_world: [4,4] rigid placement of the body-local frame.
    """
    body_model = M.load_body_model(device)
    names = list(body_model.bone_labels)
    parents = [int(p) for p in body_model.bone_parents]
    phen_dict = {k: float((phenotype or {}).get(k, 0.5)) for k in M.PHENOTYPES}
    unknown = set(phenotype or {}) - set(M.PHENOTYPES)
    if unknown:
        raise ValueError(f"unknown phenotypes {sorted(unknown)}; use {M.PHENOTYPES}")
    rotvecs = pose_array(pose, names)
    offset = np.zeros(3) if root_offset is None else np.asarray(root_offset, dtype=np.float64)
    o2w = np.eye(4) if object_to_world is None else np.asarray(object_to_world, dtype=np.float64)

    with torch.no_grad():
        phen = M.phenotype_tensor([phen_dict], body_model)
        verts, rest = M.rest_state(body_model, phen)
        posed = M.forward_kinematics(rest, parents, torch.as_tensor(rotvecs, dtype=rest.dtype)[None],
                                     torch.as_tensor(offset, dtype=rest.dtype)[None])
        transforms = M.skinning_matrices(rest, posed)
        verts_posed = M.skin(body_model, verts, transforms)
    rest_np, posed_np = rest[0].cpu().numpy(), posed[0].cpu().numpy()
    verts_rest = verts[0].cpu().numpy()

    bones = bones_from_rest(names, parents, rest_np)
    quats, location = blender_pose(bones, posed_np)
    rest_to_world = o2w[None] @ transforms[0].cpu().numpy()
    verts_world = verts_posed[0].cpu().numpy() @ o2w[:3, :3].T + o2w[:3, 3]
    root_world = o2w[:3, :3] @ posed_np[0, :3, 3] + o2w[:3, 3]
    params = {
        "model": "anny", "anny_version": importlib.metadata.version("anny"),
        "rig": "anny (default rig, 104 bones, top-8 skin weights)",
        "phenotype": phen_dict,
        "pose_rotvec": rotvecs.tolist(),
        "pose_convention": "rotation vector per bone about its head, body-local rest axes",
        "root_offset": offset.tolist(),
        "object_to_world": o2w.tolist(),
        "bone_names": names,
        **(extra_params or {}),
    }
    return Body(
        person_id=person_id,
        vertices_rest=verts_rest.astype(np.float32),
        faces=body_model.faces.cpu().numpy().astype(np.int32),
        skin_indices=body_model.vertex_bone_indices.cpu().numpy().astype(np.int32),
        skin_weights=body_model.vertex_bone_weights.cpu().numpy().astype(np.float32),
        bones=bones,
        rest_to_world=rest_to_world,
        bone_pose=quats,
        root_translation=root_world,
        vertices_world=verts_world.astype(np.float32),
        params=params,
        height_m=float(verts_rest[:, 2].max() - verts_rest[:, 2].min()),
        object_to_world=o2w,
        root_location=location,
    )
