"""The anny body model in the body-local (armature) frame: rest shape, forward kinematics, skinning.

anny gives the phenotype-dependent rest mesh and rest bone frames; the posing is done here
(not with anny's pose parameterisations) so that the pose parameters are exactly Blender's:
a bone's pose rotation is a rotation about its head, expressed in the body-local axes of the
rest pose ("rest-aligned" rotation vector r_c), and Blender's pose basis quaternion is
R_c^T Exp(r_c) R_c, R_c being the bone's rest orientation.

Body-local frame (docs/ARCHITECTURE.md): meters, Z up, facing -Y, origin on the floor between
the ankles of the rest pose. anny's own frame is Z up and facing -Y too, with its origin near
the pelvis, so the body-local frame is anny's shifted by `floor_shift`.
"""
from __future__ import annotations

import functools
import logging

import torch

log = logging.getLogger(__name__)

PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")
MAX_INFLUENCES = 8  # the bundle's skinning keeps the top 8 bone weights per vertex


@functools.lru_cache(maxsize=2)
def load_body_model(device: str = "cpu"):
    """The anny full-body model (default rig, 104 bones), loaded once per process and device.

    The skin weights are cut to the top MAX_INFLUENCES per vertex and renormalised (anny keeps 9;
    the 9th is below 1e-3 on 2 vertices) so that anny's own skinning equals the exported rig's.
    """
    import anny  # deferred: importing anny initialises warp

    model = anny.Anny(skinning_method="lbs")
    weights, order = torch.sort(model.vertex_bone_weights, dim=1, descending=True)
    weights = weights[:, :MAX_INFLUENCES]
    model.vertex_bone_weights = weights / weights.sum(dim=1, keepdim=True)
    model.vertex_bone_indices = torch.gather(model.vertex_bone_indices, 1, order[:, :MAX_INFLUENCES])
    model.set_skinning_method("lbs")  # rebuilds anny's dense weights from the cut ones
    assert list(model.phenotype_labels) == list(PHENOTYPES), model.phenotype_labels
    parents = [int(p) for p in model.bone_parents]
    assert parents[0] < 0 and all(p < c for c, p in enumerate(parents) if c), "bones not topological"
    log.info("anny loaded: %d vertices, %d bones", model.template_vertices.shape[0], len(parents))
    return model.to(device)


def phenotype_tensor(phenotypes: list[dict[str, float]], model) -> torch.Tensor:
    """[N, 6] phenotype values in anny's order from dicts (missing keys default to 0.5)."""
    return torch.tensor([[float(p.get(k, 0.5)) for k in PHENOTYPES] for p in phenotypes],
                        dtype=model.dtype, device=model.device)


def rest_state(model, phen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rest vertices [N,V,3] and rest bone matrices [N,B,4,4] in the body-local frame."""
    zeros = phen.new_zeros((phen.shape[0], 0))
    # anny exposes no public "phenotype -> blendshape coefficients" call besides forward().
    coeffs = model._get_phenotype_blendshape_coefficients(phen, zeros, zeros)
    rest = model.get_rest_model(coeffs)
    verts, poses = rest["rest_vertices"], rest["rest_bone_poses"].clone()
    shift = floor_shift(model, verts, poses)
    poses[..., :3, 3] = poses[..., :3, 3] + shift[:, None]
    return verts + shift[:, None], poses


def floor_shift(model, verts: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
    """[N,3] offset from anny's frame to the body-local one: ankle midpoint (x, y), sole z -> 0."""
    ankles = [model.bone_labels.index(n) for n in ("foot.L", "foot.R")]
    mid = poses[:, ankles, :3, 3].mean(dim=1)
    return -torch.stack([mid[:, 0], mid[:, 1], verts[..., 2].amin(dim=1)], dim=1)


def rotvec_to_matrix(r: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, smooth at zero: [...,3] rotation vectors -> [...,3,3]."""
    theta2 = (r * r).sum(-1, keepdim=True)[..., None]
    theta = torch.sqrt(theta2 + 1e-24)
    small = theta2 < 1e-8
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / theta2.clamp_min(1e-8))
    x, y, z = r.unbind(-1)
    o = torch.zeros_like(x)
    k = torch.stack([o, -z, y, z, o, -x, -y, x, o], -1).reshape(r.shape[:-1] + (3, 3))
    eye = torch.eye(3, dtype=r.dtype, device=r.device).expand_as(k)
    return eye + a * k + b * (k @ k)


@functools.lru_cache(maxsize=4)
def _levels(parents: tuple[int, ...]) -> list[list[int]]:
    """Bones grouped by depth in the tree (root first), for a level-wise kinematic chain."""
    depth = [0] * len(parents)
    for c, p in enumerate(parents[1:], start=1):
        depth[c] = depth[p] + 1
    return [[c for c in range(len(parents)) if depth[c] == d] for d in range(max(depth) + 1)]


def forward_kinematics(rest: torch.Tensor, parents: list[int], rotvecs: torch.Tensor,
                       root_offset: torch.Tensor) -> torch.Tensor:
    """Posed bone matrices W [N,B,4,4] in the body-local frame.

    rest: [N,B,4,4] rest matrices A; rotvecs: [N,B,3] rest-aligned rotations about each head;
    root_offset: [N,3] translation of the root head. W_root = [G_0 R_0 | h_0 + t] and
    W_c = W_p A_p^-1 [G_c R_c | h_c], i.e. Blender's pose = parent_pose parent_rest^-1 rest basis.
    """
    g = rotvec_to_matrix(rotvecs)
    local = rest.clone()
    local[..., :3, :3] = g @ rest[..., :3, :3]
    local[:, 0, :3, 3] = local[:, 0, :3, 3] + root_offset
    rel = rigid_inverse(rest[:, parents[1:]]) @ local[:, 1:]  # A_p^-1 [G_c R_c | h_c]
    rel = torch.cat([local[:, :1], rel], dim=1)
    posed = [None] * len(parents)
    for level in _levels(tuple(parents)):
        if level == [0]:
            posed[0] = rel[:, 0]
            continue
        par = torch.stack([posed[parents[c]] for c in level], dim=1)
        out = par @ rel[:, level]
        for i, c in enumerate(level):
            posed[c] = out[:, i]
    return torch.stack(posed, dim=1)


def rigid_inverse(m: torch.Tensor) -> torch.Tensor:
    """Inverse of rigid 4x4 matrices [..., 4, 4] (rotation transposed)."""
    rot_t = m[..., :3, :3].transpose(-1, -2)
    out = torch.zeros_like(m)
    out[..., :3, :3] = rot_t
    out[..., :3, 3] = -(rot_t @ m[..., :3, 3:])[..., 0]
    out[..., 3, 3] = 1.0
    return out


def skinning_matrices(rest: torch.Tensor, posed: torch.Tensor) -> torch.Tensor:
    """LBS transforms T_b = W_b A_b^-1 [N,B,4,4] (rest body-local -> posed body-local)."""
    return posed @ rigid_inverse(rest)


def skin(model, verts_rest: torch.Tensor, transforms: torch.Tensor) -> torch.Tensor:
    """Linear blend skinning of rest vertices [N,V,3] with T [N,B,4,4] (the model's top-8 weights)."""
    mats = transforms[:, model.vertex_bone_indices, :3, :]  # [N,V,K,3,4]
    blended = (model.vertex_bone_weights[None, :, :, None, None].to(mats.dtype) * mats).sum(2)
    # broadcast multiply-sum: on CPU, matmul of millions of 3x3 blocks is several times slower
    return (blended[..., :3] * verts_rest[..., None, :]).sum(-1) + blended[..., 3]
