"""find_people on real photos: who is found, where, and that masks/keypoints obey the contract."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from sklearn.datasets import load_sample_image
from support import asset

from crowdgaussian.image_io import load_photo
from crowdgaussian.people import draw_detections, find_people, ssd, tflite
from crowdgaussian.people.candidates import upright
from crowdgaussian.people.faces import Face, fits, head_size
from crowdgaussian.types import Person, Photo


def _photo(rgb: np.ndarray, path: str) -> Photo:
    """A Photo at full resolution from an RGB array (a composite or a crop of a real photo)."""
    return Photo(rgb=rgb, full_width=rgb.shape[1], full_height=rgb.shape[0], scale=1.0, path=path)


def _sample(name: str) -> Photo:
    """A people-free photo from scikit-learn's bundled samples."""
    return _photo(load_sample_image(name), name)


@pytest.mark.parametrize("spec, model", [(ssd.POSE, "pose_detection"),
                                         (ssd.FACE_FULL, "face_detection_full_range_sparse"),
                                         (ssd.FACE_SHORT, "face_detection_short_range")])
def test_anchor_layout_matches_the_models(spec, model):
    anchors = ssd.anchor_centres(spec)
    outputs = tflite.run(model, np.zeros(tflite.input_size(model) + (3,), np.float32))
    assert anchors.shape[0] == max(o.shape[0] for o in outputs)
    assert np.all((anchors > 0) & (anchors < 1))


def test_face_fit_is_scaled_by_the_face_box_and_the_larger_head_yardstick():
    """A skeleton with its shoulders placed too high (neck 10 px) but ears 24 px apart keeps its 24 px face."""
    points = np.zeros((39, 2))
    points[0] = (100, 100)  # nose
    points[[7, 8]] = (88, 98), (112, 98)  # ears
    points[[11, 12]] = (90, 110), (110, 110)  # shoulders
    assert head_size(points) == pytest.approx(24)
    face = Face(box=np.array([88.0, 88.0, 112.0, 112.0]), score=0.9)
    assert fits(face, points[0], head_size(points))
    assert fits(face, points[0] + (11, 0), head_size(points))  # nose inside the box's inscribed circle
    assert not fits(face, points[0] + (13, 0), head_size(points))
    assert not fits(face, points[0], 10.0)  # the neck alone calls the face too big


@pytest.fixture(scope="module")
def bus() -> tuple[Photo, list[Person]]:
    photo = load_photo(asset("bus.jpg"))
    return photo, find_people(photo)


@pytest.fixture(scope="module")
def zidane() -> tuple[Photo, list[Person]]:
    photo = load_photo(asset("zidane.jpg"))
    return photo, find_people(photo)


def _centre_x(p: Person) -> float:
    return float(p.bbox[0] + p.bbox[2]) / 2


def _find(people: list[Person], x_range: tuple[float, float]) -> Person:
    """The one person whose bbox centre lies in x_range (working px)."""
    hits = [p for p in people if x_range[0] <= _centre_x(p) <= x_range[1]]
    assert len(hits) == 1, [(_centre_x(p), p.bbox.round().tolist()) for p in people]
    return hits[0]


def _with_pixels(photo: Photo, rgb: np.ndarray) -> Photo:
    """`photo` with its pixels replaced by `rgb` (same size): a changed copy of a real photo."""
    return Photo(rgb=np.ascontiguousarray(rgb), full_width=photo.full_width, full_height=photo.full_height,
                 scale=photo.scale, path=photo.path)


def _jpeg(photo: Photo, quality: int) -> Photo:
    """The photo saved as a JPEG of `quality` and read back (blockier edges, washed-out detail)."""
    jpeg = cv2.imencode(".jpg", photo.rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return _with_pixels(photo, cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1])


def test_bus_finds_the_two_men_and_the_person_cut_by_the_right_border(bus):
    photo, people = bus
    beige = _find(people, (90, 200))  # beige coat, x ~55..245
    black = _find(people, (240, 330))  # black coat, x ~225..345
    right = _find(people, (680, 810))  # walking out of frame on the right, x ~670..810
    for p, top, bottom in ((beige, 380, 900), (black, 395, 860), (right, 380, 880)):
        assert abs(p.bbox[1] - top) < 40 and abs(p.bbox[3] - bottom) < 40, p.bbox
    assert right.truncated and right.bbox[2] >= photo.width - 3
    assert not beige.truncated and not black.truncated
    # nobody else, bar the left-border person some CPUs find (see the xfail below)
    others = [p for p in people if p not in (beige, black, right)]
    assert all(_centre_x(p) < 60 for p in others) and len(others) <= 1, [p.bbox.round() for p in others]


@pytest.mark.parametrize("change", ["darker", "jpeg", "blurred", "noisy"])
def test_the_person_cut_by_the_right_border_survives_light_blur_noise_and_compression(change):
    """bus.jpg 40 % darker, saved as JPEG quality 25, blurred (Gaussian, sigma 2 px) or with
    noise (sigma 12 of 255): the man walking out of frame on the right (half his face cut) was
    lost in the first three, and with noise for some draws of it. The recovery's crops, centred
    on his segmented region, cut him off-centre, and the landmark model's pose flag fell below
    0.5 on all but one or two of them, swinging from 0.02 to 0.94 as a crop moved by a tenth of
    its side while the points held still. Now crops are also shifted towards the edge the region
    touches; for a person cut by the frame crops from flag 0.25 count; and with his torso beyond
    the edge, his head and limbs in view stand in for it."""
    photo = load_photo(asset("bus.jpg"))
    if change == "jpeg":
        photo = _jpeg(photo, 25)
    else:
        rgb = photo.rgb.astype(np.float32)
        if change == "darker":
            rgb = rgb * 0.6
        elif change == "blurred":
            rgb = cv2.GaussianBlur(rgb, (0, 0), 2.0)
        else:
            rgb = rgb + np.random.default_rng(0).normal(0.0, 12.0, rgb.shape)
        photo = _with_pixels(photo, rgb.clip(0, 255).round().astype(np.uint8))
    people = find_people(photo)
    right = _find(people, (680, 810))
    assert right.truncated and right.bbox[2] >= photo.width - 3
    assert abs(right.bbox[1] - 380) < 40 and abs(right.bbox[3] - 880) < 40, right.bbox


def test_a_skeleton_lying_across_the_top_edge_is_no_person():
    """zidane.jpg's upper three quarters: the recovery's crops put a skeleton lying on its side
    across the blurred crowd behind the two men, its face beyond the top edge, and that passed as
    a person cut by the frame. A faceless cut skeleton must now stand within 45 degrees of upright."""
    photo = load_photo(asset("zidane.jpg"))
    rgb = np.ascontiguousarray(photo.rgb[:540])
    people = find_people(_photo(rgb, "top"))
    assert len(people) == 2, [p.bbox.round() for p in people]
    assert all("face_box" in p.extra for p in people)


@pytest.mark.xfail(strict=False, reason="the leopard-coat person cut by the left border (x < 75, no head "
                   "in frame): no detection, no selfie segmentation; the recovery crops give only a squashed "
                   "skeleton on her coat (torso ~80 px against ~300 px), its head and torso beyond the edge, "
                   "so only its limbs are in view and it is rejected; in 3 of 17 variants of the photo "
                   "(brighter, JPEG quality 25, its top three quarters) and on the lent H100 host's CPU the "
                   "skeleton's torso lands on her coat and she is taken, squashed")
def test_bus_finds_the_headless_person_cut_by_the_left_border(bus):
    _find(bus[1], (0, 60))


# insightface's t1.jpg (1280 x 886): six people round a card table, by eye, left to right: a face
# box inside each face. The two at the back lean in over the others' shoulders.
CARD_TABLE_FACES = {"long fair hair": (80, 310, 150, 385), "dark hair, behind": (280, 185, 350, 260),
                    "grey shirt": (475, 300, 570, 400), "red shirt": (755, 375, 845, 465),
                    "standing, behind": (920, 90, 1020, 190), "blonde, in front of him": (1145, 310, 1220, 390)}


@pytest.mark.parametrize("quality", [None, 25])
def test_a_group_round_a_table_is_six_people_each_with_their_own_face(quality):
    """Before: a seventh 'person' whose skeleton had one eye on each of two heads (taken as a
    faceless crowd member), and the standing man's mask took the face of the woman in front of
    him, because his torso polygon (hips invented behind her) covered it; and the woman found
    by her face alone had a skeleton squeezed between her face and the man in front (torso 0.9
    face widths long). Saved as JPEG quality 25, the photo gave a seventh again: a faceless
    skeleton whose head lay 60 px from that woman's face, its shoulders on hers."""
    photo = load_photo(asset("t1.jpg", "insightface", "data/images"))
    people = find_people(photo if quality is None else _jpeg(photo, quality))
    assert len(people) == len(CARD_TABLE_FACES), [p.bbox.round() for p in people]
    for person, (name, (x0, y0, x1, y1)) in zip(people, CARD_TABLE_FACES.items()):
        assert person.mask[y0:y1, x0:x1].mean() >= 0.75, name
        assert x0 <= person.keypoints[0, 0] <= x1 and y0 <= person.keypoints[0, 1] <= y1, name  # the nose
    behind = people[1]
    k = behind.keypoints[:, :2]
    torso = np.linalg.norm((k[11] + k[12]) / 2 - (k[23] + k[24]) / 2)
    face = behind.extra["face_box"]
    assert torso >= 1.4 * (face[2] - face[0])  # adults: about 2-3 face widths


def test_zidane_both_men(zidane):
    photo, people = zidane
    assert len(people) == 2
    zz, ancelotti = people
    assert 350 < _centre_x(zz) < 550 and 850 < _centre_x(ancelotti) < 1000
    # both are cut by the bottom edge; their faces carry a confirmed face box
    assert zz.truncated and ancelotti.truncated
    assert all("face_box" in p.extra for p in people)
    # nose on the face: Zidane's at ~(620, 340), Ancelotti's at ~(990, 200)
    assert np.linalg.norm(zz.keypoints[0, :2] - (620, 340)) < 60
    assert np.linalg.norm(ancelotti.keypoints[0, :2] - (990, 200)) < 40


def test_a_portrait_is_one_person():
    """matplotlib's sample portrait (grace_hopper.jpg, 512x600): one person, cut by the frame, face in the middle."""
    import matplotlib.cbook

    people = find_people(load_photo(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    assert len(people) == 1
    (person,) = people
    assert person.truncated and "face_box" in person.extra
    assert np.linalg.norm(person.keypoints[0, :2] - (270, 235)) < 40
    assert person.mask.mean() > 0.4


@pytest.mark.parametrize("name", ["china.jpg", "flower.jpg"])
def test_photos_without_people_give_nobody(name):
    assert find_people(_sample(name)) == []


@pytest.mark.parametrize("name", ["cell.png", "motorcycle_left.png", "motorcycle_right.png", "chelsea.png",
                                  "coffee.png", "horse.png", "rocket.jpg", "hubble_deep_field.jpg"])
def test_more_photos_without_people_give_nobody(name):
    """scikit-image's sample photos on which the pose models fire. Before: cell.png gave a person
    (a head-down skeleton, torso 144 deg from up, confirmed by a face-like blob) and
    motorcycle_left.png one (a lying skeleton whose face was the headlight, face score 0.61).
    motorcycle_right.png and hubble_deep_field.jpg each gave one (2 crops and a face-like patch)
    while the recovery took crops from pose flag 0.25 for everybody, not only for people cut by the frame."""
    assert find_people(load_photo(asset(name, "skimage", "data"))) == []


def test_a_face_like_patch_on_a_found_head_is_not_a_second_person():
    """scikit-image's camera.png: the cameraman, face half behind his camera. A face-like patch at
    the back of his head (a third of his face's width) seeded a tiny second person inside him."""
    people = find_people(load_photo(asset("camera.png", "skimage", "data")))
    assert len(people) == 1
    (man,) = people
    assert "face_box" in man.extra and np.linalg.norm(man.keypoints[0, :2] - (240, 165)) < 40


@pytest.mark.parametrize("shape", [(1, 1), (64, 64), (300, 500)])
def test_blank_and_noise_images_give_nobody(shape):
    rng = np.random.default_rng(0)
    for rgb in (np.zeros(shape + (3,), np.uint8), rng.integers(0, 256, shape + (3,), dtype=np.uint8)):
        assert find_people(_photo(rgb, "x")) == []


@pytest.mark.parametrize("which", ["bus", "zidane"])
def test_contract(which, request):
    photo, people = request.getfixturevalue(which)
    h, w = photo.height, photo.width
    assert [p.id for p in people] == list(range(len(people)))
    assert [_centre_x(p) for p in people] == sorted(_centre_x(p) for p in people)
    total = np.zeros((h, w), np.int32)
    for p in people:
        assert p.mask.shape == (h, w) and p.mask.dtype == bool and p.mask.sum() > 0.01 * h * w
        total += p.mask
        assert 0 < p.score <= 1
        assert p.keypoints.shape == (33, 3) and p.keypoints_3d.shape == (33, 3)
        assert np.all((p.keypoints[:, 2] >= 0) & (p.keypoints[:, 2] <= 1))
        x0, y0, x1, y1 = p.bbox
        assert 0 <= x0 < x1 <= w - 1 and 0 <= y0 < y1 <= h - 1
        ys, xs = np.nonzero(p.mask)
        assert xs.min() >= x0 and xs.max() <= x1 and ys.min() >= y0 and ys.max() <= y1
        vis = p.keypoints[p.keypoints[:, 2] >= 0.5, :2]
        inside = (vis[:, 0] >= 0) & (vis[:, 0] <= w - 1) & (vis[:, 1] >= 0) & (vis[:, 1] <= h - 1)
        assert np.all((vis[inside] >= p.bbox[:2] - 1) & (vis[inside] <= p.bbox[2:] + 1))
        # world landmarks: metres around the hip centre, a human-sized skeleton
        hips = (p.keypoints_3d[23] + p.keypoints_3d[24]) / 2
        assert np.linalg.norm(hips) < 0.1
        assert 0.2 < np.linalg.norm(p.keypoints_3d[11] - p.keypoints_3d[23]) < 1.0
        # the mask is this person's body: most visible keypoints in the photo lie on it
        pts = np.round(vis[inside]).astype(int)
        assert p.mask[pts[:, 1], pts[:, 0]].mean() > 0.6
    assert total.max() <= 1, "a pixel belongs to two people"


def test_max_persons_and_progress_reports(bus):
    photo, people = bus
    calls: list[tuple[float, str]] = []
    one = find_people(photo, max_persons=1, report=lambda f, m: calls.append((f, m)))
    assert len(one) == 1 and one[0].id == 0
    best = max(people, key=lambda p: p.score)
    assert np.allclose(one[0].bbox, best.bbox, atol=3)
    assert calls[0][0] == 0.0 and calls[-1][0] == 1.0
    assert [f for f, _ in calls] == sorted(f for f, _ in calls)


def test_detections_picture(bus):
    photo, people = bus
    img = draw_detections(photo, people)
    assert img.shape == photo.rgb.shape and img.dtype == np.uint8
    for p in people:  # masks are tinted, the background is left alone
        assert np.abs(img[p.mask].astype(int) - photo.rgb[p.mask]).mean() > 20
    background = ~np.any([p.mask for p in people], axis=0)
    diff = np.abs(img.astype(int) - photo.rgb).sum(axis=2)
    assert np.mean(diff[background] == 0) > 0.9


def test_border_cut_person_is_found_on_either_side(bus):
    """Mirrored bus.jpg: the person walking out of frame is now cut by the left border."""
    photo, _ = bus
    people = find_people(_with_pixels(photo, photo.rgb[:, ::-1]))
    assert len(people) == 3
    left = _find(people, (0, 130))
    assert left.truncated and left.bbox[0] <= 2 and left.id == 0


def test_small_people_are_found_by_the_tiles():
    """Composite (labelled as such): bus.jpg shrunk to 40 % on a 1280 px china.jpg, men ~170 px tall."""
    bus = load_photo(asset("bus.jpg")).rgb
    canvas = cv2.resize(load_sample_image("china.jpg"), (1280, 854), interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(bus, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    y0, x0 = 854 - small.shape[0] - 20, 500
    canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    people = find_people(_photo(canvas, "composite"))
    _find(people, (x0 + 0.4 * 90, x0 + 0.4 * 200))  # beige coat
    _find(people, (x0 + 0.4 * 240, x0 + 0.4 * 330))  # black coat


def test_a_distant_crowd_is_found_by_the_fine_tiles():
    """Composite (labelled as such): bus.jpg at 22 % tiled 8 x 4 into a 1424x948 photo, the beige-coat
    man about 110 px tall in each copy. Tiles down to a quarter of the frame found him in 4 of the
    32 copies; the finer tiles (candidates.FINE_LEVELS) in 32. Each person found stands in one copy
    at the size the photo gives him (no fragment, no two copies merged)."""
    bus = load_photo(asset("bus.jpg")).rgb
    small = cv2.resize(bus, None, fx=0.22, fy=0.22, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    canvas = np.tile(small, (4, 8, 1))
    people = find_people(_photo(canvas, "composite"))
    beige = [p for p in people if 70 * 0.22 <= _centre_x(p) % w <= 220 * 0.22]
    assert len(beige) >= 24
    for p in people:
        assert 0.3 * h <= p.bbox[3] - p.bbox[1] <= 0.7 * h
        assert p.bbox[0] // w == (p.bbox[2] - 1) // w or p.truncated


@pytest.mark.parametrize("canvas_size, at", [((6000, 500), (2800, 0)), ((300, 3000), (0, 1300))])
def test_people_in_a_panorama_or_a_tall_strip_are_found(canvas_size, at):
    """Composite (labelled as such): bus.jpg 375 px or 300 px wide inside a 6000x500 panorama or a
    300x3000 strip of china.jpg. Tiles sized by the long side alone (1950 px and 975 px at their
    finest) left the men a fifth of a tile or less: neither man was found in either."""
    bus = load_photo(asset("bus.jpg")).rgb
    w, h = canvas_size
    canvas = cv2.resize(load_sample_image("china.jpg"), (w, h), interpolation=cv2.INTER_AREA)
    k = min(w, h) / bus.shape[1] if w < h else h / bus.shape[0]
    small = cv2.resize(bus, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    x0, y0 = at
    canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    people = find_people(_photo(canvas, "composite"))
    _find(people, (x0 + k * 90, x0 + k * 200))  # beige coat
    _find(people, (x0 + k * 240, x0 + k * 330))  # black coat


def test_a_face_next_to_a_found_persons_face_is_its_own_person():
    """Synthetic crowd (seed 14): the face one width beside a found person's face is a second person, not theirs."""
    from crowdgaussian.eval.runner import match_people
    from crowdgaussian.synth.crowd import make_crowd

    scene = make_crowd(14, 3)
    people = find_people(scene.photo)
    matches = match_people([p.mask for p in people], [p.mask for p in scene.people])
    assert len(people) == 3 and len(matches) == 3


@pytest.mark.parametrize("seed,n", [(1, 2), (2, 3)])
def test_people_turned_away_are_found(seed, n):
    """Synthetic crowds with everybody's back to the camera: no face to confirm them, so they are
    taken as strong upright skeletons seen from behind (before: 1 of these 5 people found)."""
    from crowdgaussian.eval.runner import match_people
    from crowdgaussian.synth.crowd import make_crowd

    scene = make_crowd(seed, n, sitting_probability=0.0, turn_deg=180.0)
    people = find_people(scene.photo)
    matches = match_people([p.mask for p in people], [p.mask for p in scene.people])
    assert len(people) == n and len(matches) == n
    for p in people:  # from behind, the person's left shoulder is on the image's left
        assert p.keypoints[11, 0] < p.keypoints[12, 0]


def test_a_seated_person_turned_away_is_found():
    """Synthetic crowd (seed 7) turned away: the seated person's skeleton from behind is weaker
    than a standing one's (detector 0.78, 8 of 12 crops); the rule asks detector 0.65 and 5 crops
    (before: 0.8 and 6; on 32 real photos the best faceless skeleton seen from behind reaches 0.56)."""
    from crowdgaussian.eval.runner import match_people
    from crowdgaussian.synth.crowd import make_crowd

    scene = make_crowd(7, 4, turn_deg=180.0)
    people = find_people(scene.photo)
    matches = match_people([p.mask for p in people], [p.mask for p in scene.people])
    assert scene.people[3].body.posture == "sitting" and 3 in matches


def test_a_person_whose_head_an_object_hides_is_found_beside_others():
    """Synthetic crowd (seed 4) with a board painted over one person's head: no face confirms
    them and their skeleton (detector 0.71, 6 of 12 crops) is short of what a faceless skeleton
    needs alone, but beside a confirmed person of like size it is taken (before: missed)."""
    from crowdgaussian.eval.runner import match_people
    from crowdgaussian.synth.crowd import make_crowd

    scene = make_crowd(4, 3)
    head = scene.people[1].keypoints[:11, :2]
    x0, y0 = np.maximum(head.mean(0) - np.ptp(head, axis=0).max(), 0).astype(int)
    x1, y1 = (head.mean(0) + np.ptp(head, axis=0).max()).astype(int)
    rgb = scene.photo.rgb.copy()
    board = np.zeros(rgb.shape[:2], bool)
    board[y0:y1, x0:x1] = True
    rgb[board] = (200, 60, 40)
    people = find_people(_photo(rgb, "board"))
    matches = match_people([p.mask for p in people], [p.mask & ~board for p in scene.people])
    assert 1 in matches
    assert "face_box" not in people[matches[1][0]].extra


def test_people_whose_faces_the_face_models_miss_are_found():
    """A synthetic crowd whose blurry splat faces neither face model confirms: the two people
    with strong upright skeletons facing the camera are taken without a face (before: nobody);
    the third, four fifths hidden behind the others, stays missed."""
    from crowdgaussian.eval.runner import match_people
    from crowdgaussian.people.faces import find_face
    from crowdgaussian.synth.crowd import make_crowd

    scene = make_crowd(2, 3, 512, 384, 3000)
    people = find_people(scene.photo)
    matches = match_people([p.mask for p in people], [p.mask for p in scene.people])
    assert len(people) == 2 and len(matches) == 2
    for p in people:
        assert p.keypoints[11, 0] > p.keypoints[12, 0]  # facing the camera
        assert find_face(scene.photo.rgb, p.keypoints[:, :2]) is None


@pytest.mark.parametrize("turn,kept", [(0, True), (90, True), (-120, True), (145, False), (180, False),
                                       (165, False)])
def test_upside_down_skeletons_are_not_people(bus, turn, kept):
    """Real skeletons from bus.jpg turned in the image plane: lying (90 deg) and bent (120 deg)
    people stay, head-down ones (beyond 135 deg) go: on another CPU the landmark model once fitted
    an inverted person onto a man's legs, and the face check passed it; on scikit-image's cell.png
    a skeleton at 144 deg found a face-like blob."""
    photo, people = bus
    a = np.radians(turn)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    for p in people:
        pts = p.keypoints[:, :2]
        centre = pts.mean(axis=0)
        assert upright((pts - centre) @ rot.T + centre) is kept


def test_3d_landmarks_point_the_limbs_the_true_way():
    """Synthetic crowd (seed 3): the 3D landmarks handed to the body fit (per-point median over the
    agreeing crops, hip-centred, in the crop's view) give limb and torso directions close to the
    truth's as that crop would see them; with depth flipped they would not."""
    from crowdgaussian.eval.runner import match_people
    from crowdgaussian.synth.crowd import make_crowd

    segments = [(11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27), (24, 26), (26, 28),
                (11, 12), (23, 24), (11, 23), (12, 24)]
    scene = make_crowd(3, 4)
    people = find_people(scene.photo)
    truth = {p.id: p for p in scene.oracle_people()}
    matches = match_people([p.mask for p in people], [p.mask for p in scene.people])
    assert len(matches) >= 3
    cos, flipped = [], []
    for i, (j, _) in matches.items():
        for a, b in segments:
            u = people[j].keypoints_3d[b] - people[j].keypoints_3d[a]
            v = truth[i].keypoints_3d[b] - truth[i].keypoints_3d[a]
            cos.append(u @ v / np.linalg.norm(u) / np.linalg.norm(v))
            flipped.append((u * [1, 1, -1]) @ v / np.linalg.norm(u) / np.linalg.norm(v))
    assert np.mean(cos) > 0.9 and np.median(cos) > 0.95, np.round(cos, 2)
    assert np.mean(flipped) < np.mean(cos) - 0.15
