"""Ground-truth crowd generator: determinism, bodies, clothing, lighting, masks, keypoints, oracle people."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from crowdgaussian.synth import garments, shading
from crowdgaussian.synth.crowd import make_crowd
from crowdgaussian.synth.dressing import dress_body
from crowdgaussian.gaussians.parts import dominant_bones
from crowdgaussian.synth.posing import pose_body, random_phenotype, random_pose


@pytest.fixture(scope="module")
def scene():
    return make_crowd(1000, 3, width=256, height=192, n_gaussians=6000)


def test_same_seed_same_scene_other_seed_other_scene(scene):
    again = make_crowd(1000, 3, width=256, height=192, n_gaussians=6000)
    assert np.array_equal(again.photo.rgb, scene.photo.rgb)
    assert np.array_equal(again.people[1].gaussians.colors, scene.people[1].gaussians.colors)
    other = make_crowd(1001, 3, width=256, height=192, n_gaussians=6000)
    assert np.abs(other.photo.rgb.astype(int) - scene.photo.rgb).mean() > 5


def test_masks_are_disjoint_visible_within_amodal_and_people_overlap(scene):
    owners = np.sum([p.mask for p in scene.people], axis=0)
    assert owners.max() == 1
    for p in scene.people:
        assert p.mask.sum() > 50
        assert not (p.mask & ~p.full_mask).any()
    # the placement makes people hide each other: some amodal pixels are not visible
    hidden = sum(int((p.full_mask & ~p.mask).sum()) for p in scene.people)
    assert hidden > 0.05 * sum(int(p.full_mask.sum()) for p in scene.people)


def test_photo_is_background_away_from_people_and_differs_on_them(scene):
    anyone = np.any([cv2.dilate(p.full_mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
                     for p in scene.people], axis=0)
    photo = scene.photo.rgb.astype(np.float32) / 255
    assert np.abs(photo[~anyone] - scene.background[~anyone]).max() < 2 / 255
    on_people = np.any([p.mask for p in scene.people], axis=0)
    assert np.abs(photo[on_people] - scene.background[on_people]).mean() > 0.05


def test_visible_keypoints_fall_on_their_person(scene):
    for p in scene.people:
        grown = cv2.dilate(p.mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        vis = p.keypoints[p.keypoints[:, 2] > 0]
        assert len(vis) >= 5
        xi, yi = np.floor(vis[:, 0]).astype(int), np.floor(vis[:, 1]).astype(int)
        assert grown[yi, xi].mean() > 0.95


def test_children_are_short_and_standing_bodies_touch_the_floor():
    rng = np.random.default_rng(3)
    child = pose_body(random_phenotype(rng, child_probability=1.0), random_pose(rng), 0.0, (0.0, 0.0))
    adult = pose_body(random_phenotype(rng, child_probability=0.0), random_pose(rng), 30.0, (1.0, 2.0))
    assert child.height_m < 1.45 < adult.height_m
    for body in (child, adult):
        assert abs(body.vertices_world[:, 2].min()) < 1e-4
    assert np.allclose(adult.root_world[:2], (1.0, 2.0), atol=0.05)


def test_sitting_body_has_horizontal_thighs_over_a_seat_and_feet_on_the_floor():
    rng = np.random.default_rng(5)
    body = pose_body(random_phenotype(rng, 0.0), random_pose(rng, "sitting"), 0.0, (0.0, 0.0), posture="sitting")
    kp = body.keypoints_world
    hip, knee, ankle = kp[23], kp[25], kp[27]  # left side
    assert abs(hip[2] - knee[2]) < 0.2  # thigh roughly horizontal
    assert ankle[2] < 0.15 and abs(body.vertices_world[:, 2].min()) < 1e-4
    assert 0.3 < body.seat[2] < knee[2]
    assert np.linalg.norm(body.seat[:2] - 0.5 * (kp[23, :2] + kp[24, :2])) < 0.05


def test_sitting_people_get_a_stool_that_can_hide_them():
    scene = make_crowd(1004, 1, width=192, height=144, n_gaussians=4000, sitting_probability=1.0)
    person = scene.people[0]
    assert person.body.posture == "sitting"
    stool_pixels = (np.abs(scene.photo.rgb.astype(np.float32) / 255 - scene.background).sum(-1) > 0.1) & ~person.full_mask
    assert stool_pixels.sum() > 30


def test_the_same_crowd_behind_a_table_has_its_legs_hidden_and_its_faces_seen(scene):
    """The benchmark's "table" scenes: same people, camera and poses; a cloth-covered table in front
    hides every ankle, while every face that showed still shows."""
    tabled = make_crowd(1000, 3, width=256, height=192, n_gaussians=6000, behind_table=True)
    assert np.allclose(tabled.camera.world_to_camera, scene.camera.world_to_camera)
    ankles, nose = [27, 28], 0
    for before, after in zip(scene.people, tabled.people):
        assert np.allclose(after.keypoints[:, :2], before.keypoints[:, :2])
        assert np.array_equal(after.full_mask, before.full_mask)
        assert after.mask.sum() < 0.9 * before.mask.sum() and not (after.mask & ~before.mask).any()
        assert after.keypoints[ankles, 2].max() == 0.0
        assert after.keypoints[nose, 2] == before.keypoints[nose, 2]
    low = tabled.photo.rgb[-20:].reshape(-1, 3).astype(float)  # the table's front fills the bottom rows
    assert low.std(axis=0).max() < 25


def test_dressed_gaussians_lie_on_the_body_and_are_well_formed():
    rng = np.random.default_rng(0)
    body = pose_body(random_phenotype(rng), random_pose(rng), 10.0, (0.0, 0.0))
    g = dress_body(body, garments.random_outfit(rng), 3000, rng)
    assert np.allclose(np.linalg.norm(g.quats, axis=1), 1.0, atol=1e-5)
    assert np.allclose(g.skin_weights.sum(axis=1), 1.0, atol=1e-5)
    verts = body.vertices_world[body.faces[g.tri]]
    again = np.einsum("nk,nkd->nd", g.bary, verts)
    assert np.abs(again - g.means).max() < 1e-4
    assert np.all((g.colors >= 0) & (g.colors <= 1))


def test_outfit_regions_dress_and_patterns():
    rng = np.random.default_rng(0)
    body = pose_body(random_phenotype(rng), random_pose(rng), 0.0, (0.0, 0.0))

    parts = garments.part_labels(body.vertices_rest, dominant_bones(body.skin_indices, body.skin_weights),
                                 body.bone_labels)
    z = body.vertices_rest[:, 2]
    assert z[parts == garments.HAIR].mean() > z[parts == garments.NECK].mean()
    assert z[parts == garments.FOOT].max() < z[parts == garments.SHIN].mean()
    for kind in garments.PARTS:
        assert (parts == garments.PARTS.index(kind)).sum() > 20, kind
    stripes = garments.Garment(np.zeros(3), np.ones(3), "stripes", 0.1)
    cols = stripes.colours(np.array([[0, 0, 0.01], [0, 0, 0.06], [0, 0, 0.11]]))
    assert cols[0].sum() == 0 and cols[1].sum() == 3 and cols[2].sum() == 0


def test_oracle_people_hide_what_the_occluder_covers(scene):
    occluder = np.zeros(scene.people[0].mask.shape, bool)
    occluder[:, : occluder.shape[1] // 2] = True
    people = scene.oracle_people(occluder)
    for person in people:
        assert not (person.mask & occluder).any()
        left = person.keypoints[:, 0] < occluder.shape[1] // 2 - 1
        assert np.all(person.keypoints[left, 2] == 0)
        assert person.extra["oracle"]
        assert person.keypoints_3d.shape == (33, 3)


def test_oracle_3d_landmarks_come_as_the_landmark_crop_sees_them(scene):
    """keypoints_3d are hip-centred in the axes of a view along the person's ray (as BlazePose's world
    landmarks), so the body fit's crop-to-camera turn gives back the true camera-frame landmarks
    (exactly where the whole torso is seen: the fit aims its ray at the seen torso points), with
    the hips where BlazePose puts them."""
    from crowdgaussian.bodies.fit import world_points_in_camera
    from crowdgaussian.bodies.landmarks import lift_hips

    w2c = scene.camera.world_to_camera
    checked = 0
    for person, truth in zip(scene.oracle_people(), scene.people):
        assert np.linalg.norm(person.keypoints_3d[23] + person.keypoints_3d[24]) < 1e-9  # hip-centred
        if (person.keypoints[[11, 12, 23, 24], 2] < 0.5).any():
            continue
        cam = lift_hips(truth.body.keypoints_world) @ w2c[:3, :3].T + w2c[:3, 3]
        turned = world_points_in_camera(person, scene.camera.K())
        assert np.abs(turned - (cam - 0.5 * (cam[23] + cam[24]))).max() < 0.005
        assert np.abs(person.keypoints_3d - (cam - 0.5 * (cam[23] + cam[24]))).max() > 0.01  # not camera axes
        checked += 1
    assert checked >= 1


def _grid(origin: np.ndarray, u: np.ndarray, v: np.ndarray, n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """A flat n x n vertex patch origin + a u + b v (a, b in 0..1) and its triangles (normal along u x v)."""
    a, b = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
    verts = origin + a.reshape(-1, 1) * u + b.reshape(-1, 1) * v
    idx = np.arange(n * n).reshape(n, n)
    quads = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], -1).reshape(-1, 4)
    return verts, np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]]).astype(np.int32)


def test_baked_light_is_brighter_facing_the_sky_and_darker_in_a_corner():
    verts, faces = _grid(np.zeros(3), np.array([0.3, 0, 0]), np.array([0, 0.3, 0]))
    up = shading.vertex_shading(verts, faces, verts, np.ones(len(verts)))
    down = shading.vertex_shading(verts, faces[:, ::-1], verts, np.ones(len(verts)))
    assert np.allclose(up, shading.AMBIENT + shading.DIFFUSE)  # flat: no hollows
    assert np.allclose(down, shading.AMBIENT)
    # a floor meeting a wall: floor points near the corner see less sky than far ones
    floor, _ = _grid(np.array([-0.15, 0, 0]), np.array([0.3, 0, 0]), np.array([0, 0.3, 0]))
    wall, _ = _grid(np.array([-0.15, 0, 0]), np.array([0.3, 0, 0]), np.array([0, 0, 0.3]))
    points = np.concatenate([floor, wall])
    normals = np.concatenate([np.tile([0.0, 0, 1], (len(floor), 1)), np.tile([0.0, 1, 0], (len(wall), 1))])
    hollow = shading.hollowness(points, normals, points, 0.05)[: len(floor)]
    assert hollow[floor[:, 1] < 0.01].mean() > 0.15 > 0.01 > hollow[floor[:, 1] > 0.1].max()


def test_dressed_body_is_lit_and_has_finer_splats_on_the_head():
    rng = np.random.default_rng(2)
    body = pose_body(random_phenotype(rng), random_pose(rng), 0.0, (0.0, 0.0))
    outfit = garments.random_outfit(rng)
    outfit.covered, outfit.skin, outfit.hair = {}, np.full(3, 0.5), np.full(3, 0.5)
    g = dress_body(body, outfit, 4000, rng)
    normals = Rotation.from_quat(np.c_[g.quats[:, 1:], g.quats[:, :1]]).as_matrix()[:, :, 2]
    brightness = g.colors.mean(axis=1)
    facing_up = normals @ shading.UP
    assert brightness[facing_up > 0.5].mean() > 1.3 * brightness[facing_up < -0.5].mean()
    # the sky lights the back like the front: what the photo cannot see is not darker
    front, back = normals[:, 1] < -0.7, normals[:, 1] > 0.7  # the body faces -Y
    assert abs(brightness[front].mean() / brightness[back].mean() - 1.0) < 0.1
    head = np.isin(garments.part_labels(body.vertices_rest, dominant_bones(body.skin_indices, body.skin_weights),
                                        body.bone_labels)[body.faces[g.tri, 0]], garments.HEAD_PARTS)
    assert np.median(g.scales[head, 0]) < 0.6 * np.median(g.scales[~head, 0])
