"""Body-anchored Gaussians: binding, rig posing, occlusion-aware colouring, completion, fit.

The scene is synthetic so every answer is known: two anny bodies (make_body), one
standing in front of the other, drawn by an exact triangle z-buffer into a "photo" in
which each body part of each person has its own flat colour (front person: red/orange;
back person: blue top, green trousers, skin head and hands, dark shoes).
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from crowdgaussian import types
from crowdgaussian.bodies import make_body
from crowdgaussian.gaussians import build_gaussians, pose_gaussians, render_people
from crowdgaussian.gaussians import anchor, parts, visibility
from crowdgaussian.gaussians.tint import render_colors, tint_sh
from crowdgaussian.ply import SH_C0
from crowdgaussian.render.projection import spherical_harmonics
from crowdgaussian.views import look_at, orbit_views

W, H = 320, 400
FRONT = {parts.HEAD: (230, 40, 40), parts.UPPER: (230, 40, 40), parts.HANDS: (230, 40, 40),
         parts.LOWER: (240, 120, 20), parts.FEET: (240, 120, 20)}
BACK = {parts.HEAD: (200, 160, 130), parts.UPPER: (40, 70, 220), parts.HANDS: (200, 160, 130),
        parts.LOWER: (40, 170, 60), parts.FEET: (30, 30, 30)}


def _placed(x: float, y: float, yaw: float = 0.0) -> np.ndarray:
    """Body-local -> world: a yaw about Z and a floor position."""
    m = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    m[:2, :2] = [[c, -s], [s, c]]
    m[:3, 3] = (x, y, 0.0)
    return m


def _face_regions(body: types.Body) -> np.ndarray:
    """[F] fill region of each face (its first corner's dominant bone)."""
    regions = np.array([parts.bone_region(b.name) for b in body.bones])
    v = body.faces[:, 0]
    return regions[parts.dominant_bones(body.skin_indices[v], body.skin_weights[v])]


def make_scene() -> dict:
    """Front person (arm raised, slightly turned) covering most of a back person."""
    front = make_body(pose={"upperarm01.R": [0.0, 0.5, 0.0]}, object_to_world=_placed(-0.1, 0.0, 0.2),
                      person_id=0)
    back = make_body(phenotype={"height": 0.7}, object_to_world=_placed(0.22, 1.0, -0.3), person_id=1)
    bodies = [front, back]
    w2c = look_at(np.array([0.0, -3.5, 1.1]), np.array([0.05, 0.5, 0.9]))
    cam = types.Camera(fx=330.0, fy=330.0, cx=(W - 1) / 2, cy=(H - 1) / 2, width=W, height=H, world_to_camera=w2c)
    _, owner, face = visibility.body_zbuffer(bodies, w2c, cam.K(), W, H)
    rgb = np.full((H, W, 3), 250, np.uint8)
    for i, (body, table) in enumerate(zip(bodies, (FRONT, BACK))):
        lut = np.array([table[r] for r in range(len(parts.REGIONS))], np.uint8)[_face_regions(body)]
        rgb[owner == i] = lut[face[owner == i]]
    yy, xx = np.mgrid[:H, :W]
    shade = 0.75 + 0.25 * np.sin(xx / 2.5) * np.sin(yy / 3.5)  # texture for the fit to recover
    textured = np.where(owner[..., None] >= 0, rgb * shade[..., None], rgb).astype(np.uint8)
    people = []
    for i in range(2):
        m = owner == i
        ys, xs = np.nonzero(m)
        people.append(types.Person(id=i, bbox=np.array([xs.min(), ys.min(), xs.max(), ys.max()], float),
                                   score=1.0, keypoints=np.zeros((33, 3)), mask=m))
    return {"bodies": bodies, "camera": cam, "owner": owner, "people": people,
            "photo": types.Photo(rgb=rgb, full_width=W, full_height=H, scale=1.0, path="synthetic"),
            "textured": types.Photo(rgb=textured, full_width=W, full_height=H, scale=1.0, path="synthetic")}


@pytest.fixture(scope="module")
def scene() -> dict:
    """The synthetic two-person scene, built once."""
    torch.set_num_threads(2)
    return make_scene()


@pytest.fixture(scope="module")
def built(scene: dict) -> list[types.Gaussians]:
    """The flat-coloured scene's Gaussians, completed, with a short fit."""
    return build_gaussians(scene["photo"], scene["people"], scene["bodies"], scene["camera"], fit_steps=15)


def test_binding_and_rig_reproduce_means(scene: dict, built: list[types.Gaussians]) -> None:
    """means_rest = triangle + bary + normal offset; LBS of the rest Gaussians = world Gaussians."""
    for body, g in zip(scene["bodies"], built):
        assert len(g.means) >= 20000
        rest, _ = anchor.anchor_points(body.vertices_rest.astype(np.float64), body.faces.astype(np.int64),
                                       g.tri, g.bary.astype(np.float64), g.offset.astype(np.float64))
        np.testing.assert_allclose(rest, g.means_rest, atol=2e-6)
        assert np.abs(g.offset).max() <= 0.02 and np.abs(g.offset).max() > 0  # the fit moved them, bounded
        means, quats = pose_gaussians(g, body.rest_to_world)
        np.testing.assert_allclose(means, g.means, atol=2e-6)
        np.testing.assert_allclose(np.abs(np.sum(quats * g.quats, axis=1)), 1.0, atol=1e-5)
        # the posed Gaussians lie on the posed mesh (LBS of a bary point ~ bary point of LBS)
        world, normal = anchor.anchor_points(body.vertices_world.astype(np.float64), body.faces.astype(np.int64),
                                             g.tri, g.bary.astype(np.float64), g.offset.astype(np.float64))
        assert np.percentile(np.linalg.norm(world - g.means, axis=1), 99) < 2e-3
        # thin axis (local z) along the surface normal
        z_axis = anchor.quat_to_matrix(g.quats.astype(np.float64))[:, :, 2]
        assert np.median(np.abs(np.sum(z_axis * normal, axis=1))) > 0.99
        assert np.all(g.scales[:, 2] < 0.5 * g.scales[:, 0])
    # re-posing the rig moves each Gaussian by its skin weight on the moved bones
    body, g = scene["bodies"][1], built[1]
    arm = [i for i, b in enumerate(body.bones) if b.name.endswith(".L") and
           b.name.startswith(("upperarm", "lowerarm", "wrist", "finger", "metacarpal"))]
    shift = np.eye(4)
    shift[0, 3] = 0.5
    r2w = body.rest_to_world.copy()
    r2w[arm] = shift @ r2w[arm]
    moved, _ = pose_gaussians(g, r2w)
    w_arm = np.where(np.isin(g.skin_indices, arm), g.skin_weights, 0.0).sum(axis=1)
    assert (w_arm > 0.99).sum() > 500 and (w_arm == 0).sum() > 10000
    np.testing.assert_allclose(moved - g.means, np.outer(0.5 * w_arm, [1.0, 0.0, 0.0]), atol=1e-5)


def test_occlusion_aware_colouring(scene: dict) -> None:
    """With a sloppy mask that bleeds over the front person, the back person never turns red."""
    people = [scene["people"][0], types.Person(**{**scene["people"][1].__dict__})]
    people[1].mask = cv2.dilate(people[1].mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    people[1].mask &= ~(cv2.erode(people[0].mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    cam, bodies = scene["camera"], scene["bodies"]
    gs = build_gaussians(scene["photo"], people, bodies, cam, fit_steps=0)
    back = gs[1]
    red = np.array(FRONT[parts.UPPER]) / 255.0
    # the test bites: sampling the photo where the sloppy mask says "back person" hits red
    px = visibility.project(back.means.astype(np.float64), cam.world_to_camera, cam.K())
    in_mask, inside = visibility.sample_nearest(people[1].mask, px[:, :2])
    under, _ = visibility.sample_nearest(scene["photo"].rgb / 255.0, px[:, :2])
    assert np.sum(inside & in_mask & (np.linalg.norm(under - red, axis=1) < 0.1)) > 200
    # ... but no Gaussian of the back person, seen or completed, took the front's colours
    front_cols = np.array([FRONT[parts.UPPER], FRONT[parts.LOWER]]) / 255.0
    dist = np.linalg.norm(back.colors[:, None, :] - front_cols[None], axis=2).min(axis=1)
    assert dist.min() > 0.25
    assert back.visible.mean() < 0.25  # mostly hidden (behind the front person and its own back)


def test_completion_follows_garments(scene: dict, built: list[types.Gaussians]) -> None:
    """Hidden Gaussians take their own region's colour."""
    body, g = scene["bodies"][1], built[1]
    regions = parts.part_labels(body.bones, g.skin_indices, g.skin_weights)
    hidden = ~g.visible
    for region in (parts.UPPER, parts.LOWER):
        sel = hidden & (regions == region)
        err = np.linalg.norm(g.colors[sel] - np.array(BACK[region]) / 255.0, axis=1)
        assert sel.sum() > 1000 and np.median(err) < 0.06, (parts.REGIONS[region], np.median(err))


def test_completion_carries_stripes_round_limbs_but_not_front_details_round_the_torso() -> None:
    """A striped sleeve seen from the front is striped at the back at the same heights; a tie
    seen on the front of a torso does not reappear on its back."""
    from crowdgaussian.gaussians.complete import complete_colours

    rng = np.random.default_rng(0)
    n = 4000
    angle, z = rng.uniform(-np.pi, np.pi, n), rng.uniform(0.0, 0.5, n)
    ring = np.c_[0.05 * np.sin(angle), -0.05 * np.cos(angle), z]  # front is -Y
    sleeve = ring + [0.4, 0.0, 0.8]
    torso = np.c_[0.15 * np.sin(angle), -0.1 * np.cos(angle), z + 1.0]
    means = np.concatenate([sleeve, torso])
    front = np.concatenate([ring[:, 1] < 0, ring[:, 1] < 0])
    red, blue, grey = np.array([0.9, 0.1, 0.1]), np.array([0.1, 0.1, 0.9]), np.array([0.5, 0.5, 0.5])
    stripes = np.where((np.floor(z / 0.1) % 2 == 0)[:, None], red, blue)
    tie = np.abs(torso[:, 0]) < 0.03
    colours = np.concatenate([stripes, np.where(tie[:, None], red, grey)])
    regions = np.full(2 * n, parts.UPPER)
    limbs = np.r_[np.zeros(n, int), np.full(n, -1)]
    out = complete_colours(means, np.where(front[:, None], colours, 0.0), front, regions,
                           np.full(2 * n, -1), limbs)
    back_sleeve = ~front[:n] & (np.abs((z / 0.1) % 1 - 0.5) < 0.3)  # away from stripe edges
    assert np.mean(np.linalg.norm(out[:n][back_sleeve] - stripes[back_sleeve], axis=1) < 0.2) > 0.9
    back_tie = ~front[n:] & tie
    assert np.median(np.linalg.norm(out[n:][back_tie] - grey, axis=1)) < 0.2


def test_completion_does_not_carry_an_open_coats_front_round_the_thighs() -> None:
    """A black coat worn open over the thighs shows its grey lining down their front (bus.jpg's
    man in black): the backs of the thighs are the coat's black, not the lining; below, a striped
    trouser leg still carries its stripes round."""
    from crowdgaussian.gaussians.complete import complete_colours

    rng = np.random.default_rng(2)
    n = 4000
    angle, z = rng.uniform(-np.pi, np.pi, n), rng.uniform(0.0, 0.4, n)
    thigh = np.c_[0.08 * np.sin(angle), -0.08 * np.cos(angle), z + 0.5]  # front is -Y
    shin = np.c_[0.05 * np.sin(angle), -0.05 * np.cos(angle), z]
    means = np.concatenate([thigh, shin])
    front = np.r_[thigh[:, 1] < 0, shin[:, 1] < 0]
    black, grey, red, blue = (np.array(c) for c in ([0.05, 0.05, 0.05], [0.6, 0.6, 0.6], [0.9, 0.1, 0.1],
                                                   [0.1, 0.1, 0.9]))
    lining = np.abs(thigh[:, 0]) < 0.04  # the middle of the front, between the coat's edges
    stripes = np.where((np.floor(z / 0.1) % 2 == 0)[:, None], red, blue)
    colours = np.concatenate([np.where(lining[:, None], grey, black), stripes])
    limbs = np.r_[np.zeros(n, int), np.ones(n, int)]
    out = complete_colours(means, np.where(front[:, None], colours, 0.0), front, np.full(2 * n, parts.LOWER),
                           np.full(2 * n, -1), limbs, np.r_[np.ones(n, bool), np.zeros(n, bool)])
    back_middle = ~front[:n] & (np.abs(thigh[:, 0]) < 0.04)
    assert np.median(np.linalg.norm(out[:n][back_middle] - black, axis=1)) < 0.2
    back_shin = ~front[n:] & (np.abs((z / 0.1) % 1 - 0.5) < 0.3)  # away from stripe edges
    assert np.mean(np.linalg.norm(out[n:][back_shin] - stripes[back_shin], axis=1) < 0.2) > 0.9


def test_completion_fills_a_tank_tops_back_from_the_top_not_the_bare_arms() -> None:
    """Bare arms seen all round, the top seen only in front: its hidden back is the top's colour."""
    from crowdgaussian.gaussians.complete import complete_colours

    rng = np.random.default_rng(1)
    n = 3000
    angle, z = rng.uniform(-np.pi, np.pi, n), rng.uniform(1.0, 1.5, n)
    torso = np.c_[0.15 * np.sin(angle), -0.1 * np.cos(angle), z]
    arms = [np.c_[side * 0.2 + 0.04 * np.sin(angle), -0.04 * np.cos(angle), z + 0.02] for side in (-1, 1)]
    means = np.concatenate([torso, *arms])
    skin, top = np.array([0.45, 0.3, 0.2]), np.array([0.6, 0.2, 0.7])
    colours = np.concatenate([np.tile(top, (n, 1)), np.tile(skin, (2 * n, 1))])
    visible = np.r_[torso[:, 1] < 0, np.ones(2 * n, bool)]
    limbs = np.r_[np.full(n, -1), np.zeros(n, int), np.ones(n, int)]
    out = complete_colours(means, np.where(visible[:, None], colours, 0.0), visible, np.full(3 * n, parts.UPPER),
                           np.full(3 * n, -1), limbs)
    back = ~visible
    assert np.percentile(np.linalg.norm(out[back] - top, axis=1), 90) < 0.1


def test_mirror_partner_must_be_of_the_same_region() -> None:
    """A seen hand hanging beside one thigh is not the mirror image of the other, hidden thigh:
    that thigh continues the trousers seen below it, not the hand's skin."""
    from crowdgaussian.gaussians.complete import complete_colours

    rng = np.random.default_rng(4)
    blob = rng.normal(size=(600, 3)) * 0.02
    hand = blob + [-0.12, 0.0, 0.8]                    # seen
    thigh = blob + [0.12, 0.0, 0.8]                    # hidden: its mirror image is the hand
    shins = rng.normal(size=(1200, 3)) * [0.04, 0.04, 0.1] + [0.12, 0.0, 0.55]  # seen trousers below it
    means = np.concatenate([hand, thigh, shins])
    skin, trousers = np.array([0.8, 0.6, 0.5]), np.array([0.1, 0.2, 0.6])
    colours = np.concatenate([np.tile(skin, (600, 1)), np.zeros((600, 3)), np.tile(trousers, (1200, 1))])
    visible = np.r_[np.ones(600, bool), np.zeros(600, bool), np.ones(1200, bool)]
    regions = np.r_[np.full(600, parts.HANDS), np.full(1800, parts.LOWER)]
    out = complete_colours(means, colours, visible, regions, parts.mirror_partners(means), np.full(2400, -1))
    assert (parts.mirror_partners(means)[600:1200] >= 0).mean() > 0.5  # the test bites: partners exist
    assert np.median(np.linalg.norm(out[600:1200] - trousers, axis=1)) < 0.1


def _head(bald: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(means, true colours, seen) of a rest-pose head sphere facing -Y with a neck below: unless
    bald, hair round the back above the ears and over the crown behind a receding hairline, skin
    elsewhere; the photo sees the front up to the forehead and the sides just behind the ears, but
    not the crown (it lies in the mask's edge)."""
    rng = np.random.default_rng(2)
    d = rng.normal(size=(3000, 3))
    head = 0.11 * d / np.linalg.norm(d, axis=1, keepdims=True) + [0.0, 0.0, 1.62]
    a, z = rng.uniform(-np.pi, np.pi, 600), rng.uniform(1.44, 1.53, 600)
    means = np.concatenate([head, np.c_[0.05 * np.sin(a), 0.05 * np.cos(a), z]])
    y, z = means[:, 1], means[:, 2]
    hair = (np.arange(len(means)) < len(head)) & ((z > 1.71) | ((y > 0.0) & (z > 1.58))) & (not bald)
    colours = np.where(hair[:, None], [0.12, 0.08, 0.06], [0.80, 0.60, 0.50])  # hair, skin
    seen = ((y < 0.0) & (z < 1.69)) | ((y < 0.05) & (z < 1.66))
    return means, colours, seen


@pytest.mark.parametrize("bald", [False, True])
def test_back_of_head_continues_the_seen_sides_not_the_forehead(bald: bool) -> None:
    """A receding hairline puts forehead skin at the top of the seen head: the hidden back of the
    head still takes the hair of the seen sides; a bald head's back stays skin."""
    from crowdgaussian.gaussians.complete import complete_colours

    means, truth, seen = _head(bald)
    skin = np.array([0.80, 0.60, 0.50])
    if not bald:  # the test bites: the highest seen Gaussians are forehead skin
        assert np.allclose(truth[seen][np.argsort(-means[seen, 2])[:40]], skin)
    out = complete_colours(means, np.where(seen[:, None], truth, 0.0), seen, np.full(len(means), parts.HEAD),
                           np.full(len(means), -1), np.full(len(means), -1))
    back = ~seen & (means[:, 1] > 0.06) & (means[:, 2] > 1.62)
    assert back.sum() > 300
    assert np.percentile(np.linalg.norm(out[back] - truth[back], axis=1), 90) < 0.1


@pytest.mark.parametrize("seen_from_y", [0.02, -0.07])
def test_face_of_a_person_seen_from_behind_is_skin_not_hair(seen_from_y: float) -> None:
    """The photo sees the back of the head (hair) and the hands: the hidden face takes the hands'
    skin colour; a fill from the seen head alone would spread the hair over it. Seen from three
    quarters behind (-0.07), the hair over the ears shows in the front half of the head too, and
    the crown stays hair."""
    from crowdgaussian.gaussians.complete import complete_colours

    means, truth, _ = _head(bald=False)
    y, z = means[:, 1], means[:, 2]
    over_ears = (np.arange(len(means)) < 3000) & (y > -0.07) & (z > 1.58)  # long hair down the sides
    truth = np.where(over_ears[:, None], [0.12, 0.08, 0.06], truth)
    seen = (y > seen_from_y) & ((y > 0.02) | (z > 1.55))  # the back of the neck, not its front
    crown = ~seen & (z > 1.695)  # the front of the crown, above the face zone
    rng = np.random.default_rng(3)
    hands = rng.normal(size=(400, 3)) * 0.03 + [0.3, 0.0, 0.9]
    skin = np.array([0.80, 0.60, 0.50])
    means = np.concatenate([means, hands])
    truth = np.concatenate([truth, np.tile(skin, (len(hands), 1))])
    seen = np.r_[seen, np.ones(len(hands), bool)]
    regions = np.r_[np.full(len(means) - len(hands), parts.HEAD), np.full(len(hands), parts.HANDS)]
    out = complete_colours(means, np.where(seen[:, None], truth, 0.0), seen, regions,
                           np.full(len(means), -1), np.full(len(means), -1))
    face = ~seen & (means[:, 1] < -0.07) & (means[:, 2] > 1.55) & (means[:, 2] < 1.68)
    assert face.sum() > 150
    assert np.percentile(np.linalg.norm(out[face] - skin, axis=1), 90) < 0.1
    assert crown.sum() >= 10
    assert np.median(np.linalg.norm(out[:len(crown)][crown] - [0.12, 0.08, 0.06], axis=1)) < 0.1


def test_completion_has_no_holes_in_close_up_orbit(scene: dict, built: list[types.Gaussians]) -> None:
    """Orbit views of a mostly hidden person have no see-through holes."""
    body, g = scene["bodies"][1], built[1]
    # close-up orbit (1 px ~ 2.5 mm, splats several px wide): the body renders closed from all sides
    views = orbit_views(g.means.mean(0), 3.0, n=8, elevation_deg=10.0)
    K = np.array([[1200.0, 0, 79.5], [0, 1200.0, 119.5], [0, 0, 1]])
    _, alpha = render_people([g], views, np.repeat(K[None], 8, 0), 160, 240)
    # the fit may pull the outline inwards by the largest inward offset (here ~7 px): holes are
    # judged inside the body's silhouette shrunk by that much, not on the moved outline
    assert -g.offset.min() < 0.03
    r = int(np.ceil(max(-float(g.offset.min()), 0.0) * K[0, 0] / 3.0)) + 1
    for view, a in zip(views, alpha[..., 0]):
        _, own, _ = visibility.body_zbuffer([body], view, K, 160, 240)
        inner = cv2.erode((own == 0).astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
        assert inner.sum() > 10000
        assert a[inner].mean() > 0.99 and (a[inner] < 0.9).mean() < 0.005


def _behind_table(body: types.Body, table: float, band: tuple | None = None) -> tuple[types.Gaussians, np.ndarray]:
    """Gaussians (no fit) and their regions of `body` photographed level with its chest, a brown
    table covering the photo below `table` (a fraction of its height) and, if given, a band of
    colour `band` over the person just above the table edge (forearms resting there, or a waist)."""
    w, h = 240, 160
    w2c = look_at(np.array([0.22, -1.2, 1.3]), np.array([0.22, 1.0, 1.3]))
    cam = types.Camera(fx=220.0, fy=220.0, cx=(w - 1) / 2, cy=(h - 1) / 2, width=w, height=h, world_to_camera=w2c)
    _, owner, face = visibility.body_zbuffer([body], w2c, cam.K(), w, h)
    mask = owner == 0
    rgb = np.full((h, w, 3), 250, np.uint8)
    rgb[mask] = np.array([BACK[r] for r in range(len(parts.REGIONS))], np.uint8)[_face_regions(body)][face[mask]]
    top = int(table * h)
    if band is not None:
        rgb[top - 6:top][mask[top - 6:top]] = band
    rgb[top:] = (120, 80, 40)
    mask[top:] = False
    person = types.Person(id=1, bbox=np.array([0, 0, w - 1, top], float), score=1.0,
                          keypoints=np.zeros((33, 3)), mask=mask)
    g = build_gaussians(types.Photo(rgb=rgb, full_width=w, full_height=h, scale=1.0, path="synthetic"),
                        [person], [body], cam, fit_steps=0)[0]
    return g, parts.part_labels(body.bones, g.skin_indices, g.skin_weights)


def test_waist_up_person_gets_whole_body(scene: dict) -> None:
    """Seen only above a table: legs and feet still exist, opaque, in their own (invented) colours."""
    body = scene["bodies"][1]
    g, regions = _behind_table(body, 0.55)
    legs = np.isin(regions, [parts.LOWER, parts.FEET])
    assert legs.sum() > 5000 and not g.visible[legs].any() and g.visible[regions == parts.UPPER].sum() > 500
    shirt, table_rgb = np.array(BACK[parts.UPPER]) / 255.0, np.array([120, 80, 40]) / 255.0
    assert np.linalg.norm(g.colors[legs] - shirt, axis=1).min() > 0.3  # trousers are not the shirt
    assert np.linalg.norm(g.colors[legs] - table_rgb, axis=1).min() > 0.1  # nor the table
    assert np.all(g.opacities[legs] > 0.9)
    views = orbit_views(g.means.mean(0), 3.0, n=4, elevation_deg=10.0)
    K = np.array([[300.0, 0, 79.5], [0, 300.0, 119.5], [0, 0, 1]])
    _, alpha = render_people([g], views, np.repeat(K[None], 4, 0), 160, 240)
    for view, a in zip(views, alpha[..., 0]):
        _, own, _ = visibility.body_zbuffer([body], view, K, 160, 240)
        inner = cv2.erode((own == 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert a[inner].mean() > 0.99


@pytest.mark.parametrize("table, band, legs_rgb", [
    (0.76, (200, 160, 130), BACK[parts.LOWER]),  # forearms in front of the hips: the trousers between
    (0.72, (200, 160, 130), None),               # forearms cover the waist: nothing known of the trousers
    (0.72, (30, 50, 110), (30, 50, 110)),        # the waist of dark jeans just above a table
])
def test_hidden_legs_do_not_take_the_skin_of_arms_resting_in_front(scene: dict, table: float, band: tuple,
                                                                    legs_rgb: tuple | None) -> None:
    """A person seated behind a table, a band of forearms (skin) or of jeans in front of the hips
    just above it: the hidden legs take the garment seen at the waist, never the arms' skin."""
    body = scene["bodies"][1]
    g, regions = _behind_table(body, table, band)
    legs = (regions == parts.LOWER) & parts.limb_bones(body.bones)[parts.dominant_bones(g.skin_indices,
                                                                                        g.skin_weights)]
    hidden = np.median(g.colors[legs & ~g.visible], axis=0)
    assert g.visible[legs].mean() < 0.05 and g.visible[regions == parts.LOWER].sum() > 30
    skin = np.array(BACK[parts.HEAD]) / 255.0
    assert np.linalg.norm(hidden - skin) > 0.3, hidden
    if legs_rgb is not None:
        assert np.linalg.norm(hidden - np.array(legs_rgb) / 255.0) < 0.2, hidden


def test_legs_the_body_fit_found_hidden_take_no_skin_whatever_their_seen_share(scene: dict) -> None:
    """Forearms (skin) across a seated lap just above a table: 6.6 % of the legs' Gaussians land on
    them, more than bare legs the photo shows would need (LEGS_SEEN_SHARE). Read by that share
    alone they are legs, and the hidden legs take skin; a body fit that trusted none of the legs'
    landmarks (body.params["legs_hidden"]) makes them arms, and the legs take the garment."""
    skin, trousers = (np.array(BACK[r]) / 255.0 for r in (parts.HEAD, parts.LOWER))
    hidden_legs = {}
    seated = scene["bodies"][1]
    for legs_hidden in (False, True):
        body = dataclasses.replace(seated, params={**seated.params, "legs_hidden": legs_hidden})
        g, regions = _behind_table(body, 0.8, BACK[parts.HEAD])
        legs = (regions == parts.LOWER) & parts.limb_bones(body.bones)[parts.dominant_bones(g.skin_indices,
                                                                                            g.skin_weights)]
        assert 0.05 < g.visible[legs].mean() < 0.1
        hidden_legs[legs_hidden] = np.median(g.colors[legs & ~g.visible], axis=0)
    assert np.linalg.norm(hidden_legs[False] - skin) < 0.3, hidden_legs  # the share alone: bare legs
    assert np.linalg.norm(hidden_legs[True] - skin) > 0.45, hidden_legs
    assert np.linalg.norm(hidden_legs[True] - trousers) < 0.2, hidden_legs


def test_visible_only_baseline_drops_hidden(scene: dict, built: list[types.Gaussians]) -> None:
    """complete=False keeps only Gaussians the photo sees."""
    gs = build_gaussians(scene["photo"], scene["people"], scene["bodies"], scene["camera"], complete=False,
                         fit_steps=0)
    for g, full in zip(gs, built):
        assert g.visible.all() and 0 < len(g.means) < 0.5 * len(full.means)


def test_photometric_fit_improves_visible_psnr(scene: dict) -> None:
    """A short fit raises PSNR on the people's pixels of a textured photo (judged, like the
    benchmark, at 256 px on the longer side; 1 px in from the outlines) by dBs."""
    cam, photo = scene["camera"], scene["textured"]
    s = 256 / max(W, H)
    w, h = round(W * s), round(H * s)
    seen = cv2.erode(cv2.resize((scene["owner"] >= 0).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST),
                     np.ones((3, 3), np.uint8)) > 0
    target = cv2.resize(photo.rgb, (w, h), interpolation=cv2.INTER_AREA) / 255.0

    def psnr(steps: int) -> float:
        gs = build_gaussians(photo, scene["people"], scene["bodies"], cam, n_per_person=12000, fit_steps=steps)
        rgb, _ = render_people(gs, cam.world_to_camera[None], cam.K(s)[None], w, h)
        return float(-10 * np.log10(np.mean((rgb[0][seen] - target[seen]) ** 2)))

    before, after = psnr(0), psnr(25)
    assert after > before + 1.5 and after > 26.0, (before, after)


def test_surface_neighbours_keep_their_shape_for_tiny_sets() -> None:
    """A person with only a handful of seen splats (visible-only baseline) still gets [N, 8] rows."""
    from crowdgaussian.gaussians.fit import surface_neighbours

    rng = np.random.default_rng(0)
    for n in (0, 1, 3, 50):
        nb = surface_neighbours(rng.random((n, 3)))
        assert nb.shape == (n, 8) and (nb < max(n, 1)).all()
        if n > 1:
            assert not (nb[:, 0] == np.arange(n)).any()  # the nearest neighbour is another point


def test_outline_splats_show_the_background_only_to_the_photo_camera(scene: dict) -> None:
    """Outline pixels mix the person with what is behind. The fit matches them, but splats there,
    seen edge-on by the photo and face-on from the side, must show the garment from the side and
    the mixed colour only towards the photo camera (a view-dependent tint, gaussians.tint)."""
    cam, bodies = scene["camera"], scene["bodies"]
    rgb = scene["photo"].rgb.copy()
    rgb[scene["owner"] < 0] = (0, 0, 255)  # a saturated background
    photo = types.Photo(rgb=rgb, full_width=W, full_height=H, scale=1.0, path="synthetic")
    # judged at 256 px alone, the outline mixes most (at the photo's own 400 px as well, the
    # outline splats take in far less of the background)
    front, = build_gaussians(photo, scene["people"][:1], bodies[:1], cam, n_per_person=12000, fit_steps=40,
                             fit_sides=(256,))
    regions = parts.part_labels(bodies[0].bones, front.skin_indices, front.skin_weights)
    eye = -cam.world_to_camera[:3, :3].T @ cam.world_to_camera[:3, 3]
    normals = anchor.quat_to_matrix(front.quats.astype(np.float64))[:, :, 2]
    view = eye[None] - front.means
    facing = np.sum(view * normals, axis=1) / np.linalg.norm(view, axis=1)
    edge_on = (regions == parts.UPPER) & (np.abs(facing) < 0.3)  # the torso's sides
    centre = front.means.mean(axis=0)
    c, s = np.cos(np.pi / 2), np.sin(np.pi / 2)
    side_eye = centre + np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ (eye - centre)
    coeffs, degree = render_colors([front])
    assert degree == 2

    def seen_from(at: np.ndarray) -> np.ndarray:
        dirs = torch.from_numpy(front.means - at[None]).double()
        return spherical_harmonics(degree, dirs, torch.from_numpy(coeffs).double()).numpy()[edge_on] + 0.5

    red = np.array(FRONT[parts.UPPER]) / 255.0
    towards_photo, from_side = seen_from(eye), seen_from(side_eye)
    assert edge_on.sum() > 300
    # the fit did take in the background at the outline: towards the photo the splats show it
    assert np.quantile(np.linalg.norm(towards_photo - red, axis=1), 0.95) > 0.3
    err = np.linalg.norm(from_side - red, axis=1)
    assert np.quantile(err, 0.95) < 0.1 and from_side[:, 2].max() < 0.4, (np.quantile(err, 0.95), from_side[:, 2].max())


def test_outline_distance_is_small_only_near_the_outline() -> None:
    """A 40-px square mask in a 100-px photo: a point projecting on its centre lies 20 px from the
    outline, one on its edge about 1 px, one 10 px outside about 10 px. (Until 2026-11-28 the
    distance was the smaller of the inside and outside distance maps, 0 everywhere, so every
    seen splat counted as an outline splat and kept its fitted colour only as a photo tint.)"""
    from crowdgaussian.gaussians import fit

    mask = np.zeros((100, 100), bool)
    mask[30:70, 30:70] = True
    K = np.array([[100.0, 0.0, 50.0], [0.0, 100.0, 50.0], [0.0, 0.0, 1.0]])
    target = fit.make_target(np.zeros((100, 100, 3), np.uint8), [mask], np.eye(4), K, 1.0, image_side=100, margin=0.2)
    pixels = np.array([[50.0, 50.0], [30.5, 50.0], [20.0, 50.0]])  # centre, on the edge, 10 px outside
    points = np.c_[(pixels - 50.0) / 100.0, np.ones(3)]
    d = fit.outline_distance(target, points)
    assert d[0] >= 15 and d[1] <= 1.5 and 8 <= d[2] <= 12, d


def test_photo_tint_is_seen_from_the_photo_camera_only() -> None:
    """tint_sh adds the whole tint towards the photo camera, none side-on or from behind (exact SH)."""
    rng = np.random.default_rng(0)
    means = rng.normal(size=(6, 3)) + (0.0, 0.0, 5.0)
    tint = rng.uniform(-0.5, 0.5, (6, 3))
    dc, rest = tint_sh(means, np.zeros(3), tint)
    coeffs = torch.from_numpy(np.concatenate([(dc / SH_C0)[:, None], rest], axis=1))
    v = means / np.linalg.norm(means, axis=1, keepdims=True)
    side = np.cross(v, [1.0, 0.0, 0.0])
    side /= np.linalg.norm(side, axis=1, keepdims=True)
    for d, share in ((v, 1.0), (side, 0.0), (-v, 0.0), (v + side, (0.5 ** 0.5 + 0.5) / 2)):  # 45 degrees: g(0.71)
        got = spherical_harmonics(2, torch.from_numpy(d), coeffs).numpy()
        np.testing.assert_allclose(got, share * tint, atol=1e-4)


def _arm_across_belly_scene(seen: float) -> tuple[types.Gaussians, np.ndarray, np.ndarray]:
    """A photo of a body holding its left forearm across its belly, reconstructed with a body fit
    whose left arm hangs at its side (a misfit). Arms are skin in the photo, the torso blue, the
    legs green; the person's left-arm landmarks have visibility `seen`. Returns the Gaussians,
    whether each is on an arm bone, and whether each projects onto the photo's arms."""
    skin, top, legs = (200, 160, 130), (40, 70, 220), (40, 170, 60)
    photo_body = make_body(pose={"upperarm01.L": [0.0, 0.52, 0.0], "lowerarm01.L": [0.0, 1.6, 0.0]}, person_id=0)
    fitted = make_body(pose={"upperarm01.L": [0.0, 0.52, 0.0], "lowerarm01.L": [-0.35, 0.0, 0.0]}, person_id=0)
    w2c = look_at(np.array([0.0, -3.0, 1.0]), np.array([0.0, 0.0, 0.95]))
    cam = types.Camera(fx=420.0, fy=420.0, cx=W / 2, cy=H / 2, width=W, height=H, world_to_camera=w2c)
    _, owner, face = visibility.body_zbuffer([photo_body], w2c, cam.K(), W, H)
    arm_bone = parts.arm_bones(photo_body.bones)
    dominant = parts.dominant_bones(photo_body.skin_indices, photo_body.skin_weights)[photo_body.faces[:, 0]]
    region = _face_regions(photo_body)
    lut = np.where(arm_bone[dominant][:, None], skin,
                   np.where((region == parts.LOWER)[:, None] | (region == parts.FEET)[:, None], legs, top))
    rgb = np.full((H, W, 3), 250, np.uint8)
    rgb[owner == 0] = lut[face[owner == 0]]
    forearm = (owner == 0) & arm_bone[dominant][np.maximum(face, 0)]
    names = [b.name for b in photo_body.bones]
    keypoints = np.zeros((33, 3))
    for landmark, bone, end in (("left_shoulder", "upperarm01.L", "head"), ("left_elbow", "lowerarm01.L", "head"),
                                ("left_wrist", "wrist.L", "head"), ("left_index", "metacarpal2.L", "tail")):
        b = names.index(bone)
        world = photo_body.rest_to_world[b] @ np.r_[getattr(photo_body.bones[b], end), 1.0]
        uvz = cam.K() @ (w2c[:3, :3] @ world[:3] + w2c[:3, 3])
        keypoints[types.POSE_LANDMARKS.index(landmark)] = (*(uvz[:2] / uvz[2]), seen)
    mask = owner == 0
    ys, xs = np.nonzero(mask)
    person = types.Person(id=0, bbox=np.array([xs.min(), ys.min(), xs.max(), ys.max()], float), score=1.0,
                          keypoints=keypoints, mask=mask)
    photo = types.Photo(rgb=rgb, full_width=W, full_height=H, scale=1.0, path="synthetic")
    g = build_gaussians(photo, [person], [fitted], cam, fit_steps=0)[0]
    on_arm = parts.arm_bones(fitted.bones)[parts.dominant_bones(g.skin_indices, g.skin_weights)]
    on_photo_arm, inside = visibility.sample_nearest(
        forearm, visibility.project(g.means.astype(np.float64), w2c, cam.K())[:, :2])
    return g, on_arm, on_photo_arm & inside


def test_body_behind_a_seen_forearm_does_not_take_its_colour() -> None:
    """A forearm held across the belly is in front of the belly, wherever the body fit put the arm:
    the belly behind it keeps the shirt's colour instead of the forearm's skin."""
    skin = np.array([200, 160, 130]) / 255.0
    for seen in (0.0, 1.0):
        g, on_arm, behind_photo_arm = _arm_across_belly_scene(seen)
        front_of_body = g.means[:, 1] < 0.0  # the body faces -Y, towards the camera
        sel = behind_photo_arm & ~on_arm & front_of_body
        assert sel.sum() > 200
        skin_share = float(np.mean(np.linalg.norm(g.colors[sel] - skin, axis=1) < 0.1))
        # the arm landmarks unseen, the misfitted body's belly takes the skin (the test bites) ...
        # ... and seen, it does not: it continues the shirt around it
        assert (skin_share > 0.25) if seen == 0.0 else (skin_share < 0.05), (seen, skin_share)
    arm_skin = float(np.mean(np.linalg.norm(g.colors[on_arm & g.visible] - skin, axis=1) < 0.1))
    assert arm_skin > 0.5  # the fitted arm's own seen splats keep their (skin) colour


def test_arm_cover_takes_seen_arms_only_and_survives_odd_landmarks() -> None:
    """Only segments with both ends seen are covered, from a third of the way down the upper arm,
    and a seen wrist's hand; a missing (NaN) or far-off landmark neither raises nor covers anything."""
    kp = np.zeros((33, 3))
    for name, xyv in {"left_shoulder": (50.5, 40.5, 0.9), "left_elbow": (50.5, 100.5, 0.9),
                      "left_wrist": (110.5, 100.5, 0.9), "left_index": (130.5, 100.5, 0.3),
                      "left_pinky": (110.5, 110.5, 0.9),
                      "right_shoulder": (150.5, 40.5, 0.9), "right_elbow": (np.nan, np.nan, np.nan),
                      "right_wrist": (1e12, -1e12, 0.9)}.items():
        kp[types.POSE_LANDMARKS.index(name)] = xyv
    cover = visibility.arm_cover(kp, (160, 200), radius_px=4.0)
    assert cover[80, 50] and cover[100, 80] and cover[100, 110]  # upper arm, forearm, wrist
    assert not cover[45, 50]  # the shoulder itself is the torso's
    assert not cover[100, 125]  # wrist -> hand: the hand landmark is not seen
    assert cover[110, 110] and not cover[120, 110]  # the hand round its seen points (pinky), not beyond
    assert not cover[:, 140:].any()  # the right arm: its elbow is missing
