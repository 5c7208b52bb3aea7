"""Bodies: make_body's rig and skinning identities (numpy, anny, Blender) and fit_bodies."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from crowdgaussian.bodies import load_body_model, make_body
from crowdgaussian.bodies.rig import blender_pose_matrices

POSE = {"root": [0.1, 0.2, 0.3], "spine03": [0.2, 0.1, 0.0], "upperarm01.L": [0.0, 0.8, 0.3],
        "lowerarm01.L": [0.0, 0.0, 1.2], "upperleg01.R": [-0.6, 0.0, 0.1],
        "lowerleg01.R": [0.9, 0.0, 0.0], "neck01": [0.0, 0.0, 0.4]}
PHENOTYPE = {"height": 0.7, "age": 0.35, "weight": 0.6}


def _placement() -> np.ndarray:
    """A rigid object_to_world: a turn about Z and a shift on the floor."""
    o2w = np.eye(4)
    o2w[:3, :3] = Rotation.from_rotvec([0.0, 0.0, 1.0]).as_matrix()
    o2w[:3, 3] = [1.0, 2.0, 0.0]
    return o2w


@pytest.fixture(scope="module")
def body():
    torch.set_num_threads(2)
    load_body_model()
    return make_body(POSE, PHENOTYPE, _placement(), person_id=3, root_offset=[0.05, 0.0, -0.1])


def _lbs(body) -> np.ndarray:
    """v_world = sum_k w_k rest_to_world[idx_k] @ v_rest, in float64."""
    mats = body.rest_to_world[body.skin_indices]  # [V,K,4,4]
    v = body.vertices_rest.astype(np.float64)
    per_bone = np.einsum("vkij,vj->vki", mats[..., :3, :3], v) + mats[..., :3, 3]
    return np.einsum("vk,vki->vi", body.skin_weights.astype(np.float64), per_bone)


def test_body_shapes_and_frame(body):
    v = body.vertices_rest
    assert body.faces.shape[1] == 3 and body.faces.max() < len(v)
    assert body.skin_indices.shape == body.skin_weights.shape and body.skin_weights.shape[1] <= 8
    np.testing.assert_allclose(body.skin_weights.sum(1), 1.0, atol=1e-5)
    assert len(body.bones) == body.rest_to_world.shape[0] == body.bone_pose.shape[0]
    assert abs(v[:, 2].min()) < 1e-6, "soles on the floor z=0"
    assert 1.0 < body.height_m < 2.1
    nose = v[np.argmax(v[:, 2] - 10 * np.abs(v[:, 0]) - 3 * v[:, 1])]  # front-most face point
    assert nose[1] < v[:, 1].mean(), "body faces -Y"
    heads = {b.name: b.head for b in body.bones}
    assert heads["wrist.L"][0] > 0.2 and heads["wrist.R"][0] < -0.2, "anny's .L side is +X (the character's left)"


def test_lbs_identity(body):
    np.testing.assert_allclose(_lbs(body), body.vertices_world, atol=1e-5)


def test_matches_anny_forward(body):
    """The exported skinning equals anny's own skinning of the same bone poses (world param.)."""
    model = load_body_model()
    rest = np.stack([b.matrix for b in body.bones])
    posed_local = np.linalg.inv(body.object_to_world)[None] @ body.rest_to_world @ rest
    with torch.no_grad():
        at_rest = model(phenotype_kwargs=PHENOTYPE)
        shift = body.vertices_rest.astype(np.float64).mean(0) - at_rest["rest_vertices"][0].numpy().mean(0)
        posed_anny = posed_local.copy()
        posed_anny[:, :3, 3] -= shift
        out = model(pose_parameters=torch.as_tensor(posed_anny)[None], phenotype_kwargs=PHENOTYPE,
                    pose_parameterization="world")
    verts = out["vertices"][0].numpy() + shift
    world = verts @ body.object_to_world[:3, :3].T + body.object_to_world[:3, 3]
    np.testing.assert_allclose(world, body.vertices_world, atol=1e-5)
    assert np.abs(world - body.vertices_rest).max() > 0.2, "the pose really moved the body"


def test_blender_pose_identity_numpy(body):
    pose = blender_pose_matrices(body.bones, body.bone_pose, body.root_location)
    rest = np.stack([b.matrix for b in body.bones])
    deform = body.object_to_world[None] @ pose @ np.linalg.inv(rest)
    np.testing.assert_allclose(deform, body.rest_to_world, atol=1e-6)
    for b in body.bones:  # rest matrix = Blender's head/tail/roll frame
        y = (b.tail - b.head) / np.linalg.norm(b.tail - b.head)
        np.testing.assert_allclose(b.matrix[:3, 1], y, atol=1e-9)
        np.testing.assert_allclose(b.matrix[:3, 3], b.head, atol=1e-12)


def test_blender_armature_reproduces_rig(body):
    """Real Blender (bpy): armature from head/tail/roll, pose from quaternions -> deform matrices."""
    bpy = pytest.importorskip("bpy")
    import mathutils

    bpy.ops.wm.read_factory_settings(use_empty=True)
    arm = bpy.data.armatures.new("rig")
    obj = bpy.data.objects.new("rig", arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    edit = []
    for b in body.bones:
        eb = arm.edit_bones.new(b.name)
        eb.head, eb.tail, eb.roll = b.head.tolist(), b.tail.tolist(), b.roll
        edit.append(eb)
    for b, eb in zip(body.bones, edit):
        if b.parent >= 0:
            eb.parent = edit[b.parent]
            eb.use_connect = False
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.matrix_world = mathutils.Matrix(body.object_to_world.tolist())
    for i, b in enumerate(body.bones):
        pb = obj.pose.bones[b.name]
        pb.rotation_mode = "QUATERNION"
        pb.rotation_quaternion = body.bone_pose[i].tolist()
        if b.parent < 0:
            pb.location = body.root_location.tolist()
    bpy.context.view_layer.update()
    world = np.array(obj.matrix_world)
    for i, b in enumerate(body.bones):
        rest = np.array(obj.data.bones[b.name].matrix_local)
        np.testing.assert_allclose(rest, b.matrix, atol=1e-4)
        deform = world @ np.array(obj.pose.bones[b.name].matrix) @ np.linalg.inv(rest)
        np.testing.assert_allclose(deform, body.rest_to_world[i], atol=1e-4)
