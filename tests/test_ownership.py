"""Masks made to agree with the fitted bodies: synthetic anny people whose true masks are known.

The "photo" is drawn from exact bodies by a triangle z-buffer (front person red, back person
blue, with texture); the detector's masks are the truth with a known mistake; the bodies handed
to the step are perturbed copies, since real bodies are only approximately fitted.
"""
from __future__ import annotations

import numpy as np
import pytest

from crowdgaussian import types
from crowdgaussian.bodies import make_body
from crowdgaussian.bodies.ownership import masks_from_bodies
from crowdgaussian.gaussians import visibility
from crowdgaussian.views import look_at

W, H = 480, 360
ARM_ACROSS = {"upperarm01.L": [0.0, -0.6, 0.0]}  # the left arm raised sideways, across the person behind
COLOURS = ((220, 40, 40), (40, 60, 220))


def _placed(x: float, y: float) -> np.ndarray:
    """Body-local -> world: a floor position, facing the camera."""
    m = np.eye(4)
    m[:3, 3] = (x, y, 0.0)
    return m


def _camera(scale: float) -> types.Camera:
    w2c = look_at(np.array([0.0, -3.5, 1.2]), np.array([0.0, 0.4, 1.1]))
    return types.Camera(fx=450.0 * scale, fy=450.0 * scale, cx=W * scale / 2, cy=H * scale / 2,
                        width=round(W * scale), height=round(H * scale), world_to_camera=w2c)


def _silhouette(body: types.Body, cam: types.Camera) -> np.ndarray:
    depth, _, _ = visibility.body_zbuffer([body], cam.world_to_camera, cam.K(), cam.width, cam.height)
    return np.isfinite(depth)


def _photo(bodies: list[types.Body], cam: types.Camera,
           colours: tuple[tuple[int, int, int], ...] = COLOURS) -> tuple[types.Photo, np.ndarray]:
    """Textured flat-colour photo of `bodies` and the true owner map (-1 = background)."""
    _, owner, _ = visibility.body_zbuffer(bodies, cam.world_to_camera, cam.K(), cam.width, cam.height)
    rgb = np.full((cam.height, cam.width, 3), 200.0)
    for i, colour in enumerate(colours[:len(bodies)]):
        rgb[owner == i] = colour
    rgb *= np.random.default_rng(0).uniform(0.8, 1.0, (cam.height, cam.width, 1))
    return types.Photo(rgb=rgb.astype(np.uint8), full_width=cam.width, full_height=cam.height, scale=1.0,
                       path="synthetic"), owner


def _people(owner: np.ndarray, n: int) -> list[types.Person]:
    return [types.Person(id=i, bbox=np.zeros(4), score=1.0, keypoints=np.zeros((33, 3)), mask=owner == i)
            for i in range(n)]


def _owner(people: list[types.Person]) -> np.ndarray:
    owner = np.full(people[0].mask.shape, -1)
    for p in people:
        assert not (p.mask & (owner >= 0)).any(), "a pixel belongs to two people"
        owner[p.mask] = p.id
    return owner


@pytest.fixture(scope="module")
def bodies() -> dict[str, types.Body]:
    """Front person pointing across a person 0.8 m behind; fitted copies a little off (the arm ~6 degrees
    low, positions by 1-1.5 cm), as real fits are."""
    return {"front": make_body(pose=ARM_ACROSS, object_to_world=_placed(-0.3, 0.0), person_id=0),
            "front_arm_down": make_body(object_to_world=_placed(-0.3, 0.0), person_id=0),
            "back": make_body(object_to_world=_placed(0.3, 0.8), person_id=1),
            "front_fit": make_body(pose={"upperarm01.L": [0.0, -0.5, 0.03]},
                                   object_to_world=_placed(-0.285, 0.01), person_id=0),
            "back_fit": make_body(object_to_world=_placed(0.31, 0.79), person_id=1)}


def _arm_given_to_back(bodies: dict[str, types.Body], scale: float):
    """The detector's classic mistake: the front arm's pixels over the back person go to the back."""
    cam = _camera(scale)
    photo, truth = _photo([bodies["front"], bodies["back"]], cam)
    arm = _silhouette(bodies["front"], cam) & ~_silhouette(bodies["front_arm_down"], cam)
    wrong = (truth == 0) & arm & _silhouette(bodies["back"], cam)
    detector = truth.copy()
    detector[wrong] = 1
    new = masks_from_bodies(photo, _people(detector, 2), [bodies["front_fit"], bodies["back_fit"]], cam)
    return truth, detector, wrong, _owner(new)


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_arm_in_front_is_given_back_to_its_owner(bodies, scale):
    """At two resolutions: the tolerances follow the people's size in pixels, not absolute pixels."""
    truth, detector, wrong, new = _arm_given_to_back(bodies, scale)
    assert wrong.sum() > 200 * scale ** 2  # the arm really crosses the back person
    assert (new[wrong] == 0).mean() >= 0.7  # most of it, though the fitted arm lies lower
    broken = (detector == truth) & (new != truth)
    assert broken.sum() <= 0.05 * wrong.sum()
    assert np.array_equal(new >= 0, detector >= 0)  # no pixel added or dropped: only owners change


def test_wrong_body_limb_is_overruled_by_the_photo(bodies):
    """The fitted front body points across the back person but the photo shows the arm down: the
    back person's chest is blue in the photo, so the detector's (right) masks stay."""
    cam = _camera(1.0)
    photo, truth = _photo([bodies["front_arm_down"], bodies["back"]], cam)
    proposed_over = (truth == 1) & _silhouette(bodies["front_fit"], cam)
    assert proposed_over.sum() > 100  # the wrong arm does cover the back person's pixels
    new = masks_from_bodies(photo, _people(truth, 2), [bodies["front_fit"], bodies["back_fit"]], cam)
    assert np.array_equal(_owner(new), truth)


def test_side_by_side_people_keep_their_masks():
    """Two people at about the same depth whose hands overlap in the photo, dressed alike (the
    colours cannot tell them apart); their fitted bodies, a little off, overlap more: the depth
    difference is within the margin, so nothing moves."""
    cam = _camera(1.0)
    left, right = (make_body(object_to_world=_placed(x, 0.0), person_id=i) for i, x in enumerate((-0.3, 0.3)))
    photo, truth = _photo([left, right], cam, colours=(COLOURS[0], COLOURS[0]))
    fitted = [make_body(object_to_world=_placed(-0.27, -0.03), person_id=0),
              make_body(object_to_world=_placed(0.27, 0.02), person_id=1)]
    assert (_silhouette(fitted[0], cam) & _silhouette(fitted[1], cam)).sum() > 20
    new = masks_from_bodies(photo, _people(truth, 2), fitted, cam)
    assert np.array_equal(_owner(new), truth)
