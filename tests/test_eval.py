"""Evaluation: metrics, the occlusion simulator, the orbit protocol and alignment, LPIPS loading, reports."""
from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from crowdgaussian import types
from crowdgaussian.eval import benchmark, metrics, occlusion, report
from crowdgaussian.eval.lpips import Lpips, lpips_status
from crowdgaussian.eval.protocol import person_orbit
from crowdgaussian.eval.runner import THIGHS, Prediction, posture, score_people, truth_views
from crowdgaussian.synth.crowd import make_crowd


def _person_region(h: int = 240, w: int = 200) -> np.ndarray:
    """A person-like silhouette: head, torso, two legs."""
    m = np.zeros((h, w), np.uint8)
    cv2.circle(m, (100, 35), 18, 1, -1)
    cv2.rectangle(m, (70, 55), (130, 140), 1, -1)
    cv2.rectangle(m, (72, 140), (95, 225), 1, -1)
    cv2.rectangle(m, (105, 140), (128, 225), 1, -1)
    return m.astype(bool)


def test_psnr_matches_its_definition():
    a = np.zeros((8, 8, 3))
    assert metrics.psnr(a + 0.1, a) == pytest.approx(20.0)
    mask = np.zeros((8, 8), bool)
    mask[:2] = True
    b = a.copy()
    b[~mask] = 0.5
    assert metrics.psnr(b, a, mask) > 100
    assert metrics.psnr(b, a) < 10


def test_ssim_identity_constants_and_degradation():
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.random((64, 64, 3)), (0, 0), 2)
    assert metrics.ssim(img, img) == pytest.approx(1.0)
    x, y = np.full((32, 32, 3), 0.3), np.full((32, 32, 3), 0.6)
    expected = (2 * 0.3 * 0.6 + metrics.SSIM_C1) / (0.3 ** 2 + 0.6 ** 2 + metrics.SSIM_C1)
    assert metrics.ssim(x, y) == pytest.approx(expected, rel=1e-6)
    noisy = [metrics.ssim(np.clip(img + s * rng.standard_normal(img.shape), 0, 1), img) for s in (0.02, 0.1, 0.3)]
    assert noisy[0] > noisy[1] > noisy[2]
    assert metrics.ssim(img, noisy[0] * 0 + img[::-1]) < 0.9


@pytest.mark.parametrize("target", [0.2, 0.4, 0.6])
def test_simulator_reaches_the_target_ratio(target):
    region = _person_region()
    for seed in range(4):
        occ = occlusion.simulate_occlusion([region], target, np.random.default_rng(seed))
        assert abs(occ.ratios[0] - target) <= 0.03, (seed, occ.ratios)
        assert occ.ratios[0] == pytest.approx((occ.mask & region).sum() / region.sum())


def test_simulator_mask_is_smoothed_and_balances_several_people():
    a = _person_region()
    b = np.roll(a, 60, axis=1) & ~a
    occ = occlusion.simulate_occlusion([a, b], 0.4, np.random.default_rng(1))
    assert all(abs(r - 0.4) <= 0.06 for r in occ.ratios), occ.ratios


def test_smoothing_fills_pinholes_and_dilates_by_two_pixels_per_iteration():
    m = np.zeros((60, 60), bool)
    m[20:40, 20:40] = True
    m[29:31, 29:31] = False  # a pinhole
    m[8, 50] = True  # a lone pixel
    out = occlusion.smooth(m, iterations=3)
    assert out[20:40, 20:40].all()
    assert out[2:15, 44:57].all() and not out[8, 57] and not out[8, 43]  # grown by 2 px x 3


def test_line_cut_never_takes_more_than_70_percent():
    region = _person_region()
    for seed in range(10):
        rng = np.random.default_rng(seed)
        cut = occlusion._line_cut(region.shape, rng.uniform(0, 200, 2), rng.uniform(0, 200, 2), region)
        assert (cut(1.0) & region).sum() <= 0.71 * region.sum()


def test_painted_occluder_changes_exactly_the_mask_and_downsampling_keeps_the_camera():
    rgb = np.full((60, 80, 3), 128, np.uint8)
    mask = np.zeros((60, 80), bool)
    mask[10:40, 20:50] = True
    out = occlusion.paint_occluder(rgb, mask, np.random.default_rng(0))
    assert np.array_equal(out[~mask], rgb[~mask])
    assert (np.abs(out[mask].astype(int) - 128).sum(axis=1) > 0).mean() > 0.9
    photo = types.Photo(rgb=rgb, full_width=80, full_height=60, scale=1.0, path="x")
    small = occlusion.downsample_photo(photo, 4)
    assert small.rgb.shape == (15, 20, 3) and small.scale == pytest.approx(0.25)
    cam = types.Camera(fx=100, fy=100, cx=40, cy=30, width=80, height=60)
    assert cam.K(small.scale)[0, 2] == pytest.approx(small.width / 2)


@pytest.fixture(scope="module")
def scene():
    return make_crowd(1000, 2, width=256, height=192, n_gaussians=6000)


def test_orbit_view_zero_faces_the_photo_camera(scene):
    p = scene.people[0]
    orbit = person_orbit(p.body.root_world, scene.camera.world_to_camera, p.body.height_m, 64)
    w2c = orbit.viewmats[0]
    eye = -w2c[:3, :3].T @ w2c[:3, 3]
    cam = -scene.camera.world_to_camera[:3, :3].T @ scene.camera.world_to_camera[:3, 3]
    d1, d2 = (eye - p.body.root_world)[:2], (cam - p.body.root_world)[:2]
    assert np.dot(d1, d2) / np.linalg.norm(d1) / np.linalg.norm(d2) > 0.999
    assert len(orbit.viewmats) == 24


def _moved(g: types.Gaussians, centre: np.ndarray, k: float, world: np.ndarray) -> types.Gaussians:
    """The same Gaussians k times farther from (and larger seen from) the camera centre, then
    carried rigidly into another world frame by the 4x4 `world`."""
    from scipy.spatial.transform import Rotation

    means = (centre + k * (g.means - centre)) @ world[:3, :3].T + world[:3, 3]
    xyzw = (Rotation.from_matrix(world[:3, :3]) * Rotation.from_quat(g.quats[:, [1, 2, 3, 0]])).as_quat()
    return dataclasses.replace(g, means=means.astype(np.float32), scales=(g.scales * k).astype(np.float32),
                               quats=xyzw[:, [3, 0, 1, 2]].astype(np.float32))


def test_truth_scores_perfectly_at_another_depth_and_in_another_world_and_a_miss_scores_badly(scene):
    """A reconstruction is judged relative to the photo camera: neither the depth/size ambiguity nor
    the world frame it chose (its own floor, a tilted up axis) changes its score."""
    from scipy.spatial.transform import Rotation

    views = [0, 6, 12]
    truths = [truth_views(scene, p, 64, views) for p in scene.people]
    w2c = scene.camera.world_to_camera
    centre = -w2c[:3, :3].T @ w2c[:3, 3]
    k = 1.4
    world = np.eye(4)  # the reconstruction's world: up axis tilted by 15 degrees, origin elsewhere
    world[:3, :3] = Rotation.from_rotvec([np.radians(15.0), 0.0, np.radians(30.0)]).as_matrix()
    world[:3, 3] = [0.3, -2.0, 0.5]
    camera = dataclasses.replace(scene.camera, world_to_camera=w2c @ np.linalg.inv(world))
    pred = Prediction(camera=camera,
                      people=[types.Person(id=0, bbox=np.zeros(4), score=1, keypoints=p.keypoints, mask=p.mask)
                              for p in scene.people[::-1]],
                      roots=[world[:3, :3] @ (centre + k * (p.body.root_world - centre)) + world[:3, 3]
                             for p in scene.people[::-1]],
                      gaussians=[_moved(p.gaussians, centre, k, world) for p in scene.people[::-1]])
    masks = [p.mask for p in scene.people]
    scores, renders = score_people(scene, pred, truths, 64, views, masks, [0.0, 0.0])
    assert all(s.matched and s.iou > 0.99 for s in scores)
    assert all(s.psnr > 35 and s.ssim > 0.98 and s.psnr_fg > 25 for s in scores), [(s.psnr, s.ssim) for s in scores]
    assert all(s.orbit_iou > 0.95 for s in scores), [s.orbit_iou for s in scores]
    turn = np.eye(4)  # each person turned by 20 degrees about their own root (a real error)
    turn[:3, :3] = Rotation.from_rotvec([0.0, 0.0, np.radians(20.0)]).as_matrix()
    about = [np.r_[np.c_[np.eye(3), r], [[0, 0, 0, 1]]] for r in pred.roots]
    turned = dataclasses.replace(pred, gaussians=[_moved(g, centre, 1.0, a @ turn @ np.linalg.inv(a))
                                                  for g, a in zip(pred.gaussians, about)])
    worse, _ = score_people(scene, turned, truths, 64, views, masks, [0.0, 0.0])
    assert all(w.psnr < s.psnr - 5 for w, s in zip(worse, scores)), [(w.psnr, s.psnr) for w, s in zip(worse, scores)]
    assert all(w.orbit_iou < s.orbit_iou - 0.1 for w, s in zip(worse, scores))
    empty = Prediction(camera=scene.camera, people=[], roots=[], gaussians=[])
    missed, _ = score_people(scene, empty, truths, 64, views, masks, [0.0, 0.0])
    assert all(not s.matched and s.psnr < 20 and s.psnr_fg < s.psnr and s.orbit_iou == 0 for s in missed)


def _legs_body(hips_knees: list[np.ndarray], to_world: np.ndarray) -> types.Body:
    """A stand-in fitted body with only the thigh bones, their rest heads at the given points of the
    truth's world, posed into the reconstruction's world by `to_world` (every bone's skinning matrix)."""
    names = [n for _, bones in THIGHS for n in bones]
    bones = [types.Bone(name=n, parent=-1, head=np.asarray(x, np.float64), tail=np.zeros(3), roll=0.0)
             for n, x in zip(names, hips_knees)]
    return types.Body(person_id=0, vertices_rest=np.zeros((0, 3)), faces=np.zeros((0, 3), np.int32),
                      skin_indices=np.zeros((0, 1), np.int32), skin_weights=np.zeros((0, 1)), bones=bones,
                      rest_to_world=np.repeat(to_world[None], len(bones), 0), bone_pose=np.zeros((len(bones), 4)),
                      root_translation=np.zeros(3), vertices_world=np.zeros((0, 3)))


def test_posture_is_judged_in_the_photo_camera_and_flags_a_sitter_fitted_standing(scene):
    """The truth's own thighs, in another world through the same photo camera, score 0 degrees and
    the true posture; the thighs swung to the other posture score about their swing and flip it."""
    from scipy.spatial.transform import Rotation

    world = np.eye(4)  # the reconstruction's world: tilted 15 degrees, moved
    world[:3, :3] = Rotation.from_rotvec([np.radians(15.0), 0.0, np.radians(30.0)]).as_matrix()
    world[:3, 3] = [0.3, -2.0, 0.5]
    w2c = scene.camera.world_to_camera
    pred_w2c = w2c @ np.linalg.inv(world)
    for person in scene.people:
        kp = person.body.keypoints_world
        joints = [kp[i] for hip_knee, _ in THIGHS for i in hip_knee]
        error, seated, seated_pred = posture(person, w2c, _legs_body(joints, world), pred_w2c)
        assert error < 0.5 and seated == seated_pred == (person.body.posture == "sitting"), error
        # each knee swung 90 degrees about its hip, forward for a stander, down for a sitter
        forward = Rotation.from_euler("z", np.degrees(np.arctan2(*(kp[11] - kp[12])[:2][::-1])) + 90,
                                      degrees=True).apply([1.0, 0.0, 0.0])
        swung = []
        for hip, knee in zip(joints[::2], joints[1::2]):
            length = np.linalg.norm(knee - hip)
            swung += [hip, hip + length * (np.array([0.0, 0.0, -1.0]) if seated else forward)]
        error, _, flipped = posture(person, w2c, _legs_body(swung, world), pred_w2c)
        assert 60.0 < error < 120.0 and flipped != seated, (error, seated)


def test_lpips_skips_with_a_clear_message_and_runs_with_local_weights(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("CROWDGAUSSIAN_MODELS", str(tmp_path / "none"))
    monkeypatch.setenv("CROWDGAUSSIAN_LPIPS_VGG", str(tmp_path / "missing.pth"))
    ok, message = lpips_status()
    assert not ok and "CROWDGAUSSIAN_LPIPS_VGG" in message
    # random weights in torchvision's vgg16 / lpips's layouts exercise the real loading and network
    gen = torch.Generator().manual_seed(0)
    channels = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
    vgg, c_in = {}, 3
    for idx, c in zip((0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28), channels):
        vgg[f"features.{idx}.weight"] = torch.randn(c, c_in, 3, 3, generator=gen) * (2 / (9 * c_in)) ** 0.5
        vgg[f"features.{idx}.bias"] = torch.zeros(c)
        c_in = c
    torch.save(vgg, tmp_path / "vgg16.pth")
    lin = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=gen) for k, c in enumerate((64, 128, 256, 512, 512))}
    torch.save(lin, tmp_path / "vgg_lin.pth")
    monkeypatch.setenv("CROWDGAUSSIAN_LPIPS_VGG", str(tmp_path / "vgg16.pth"))
    monkeypatch.setenv("CROWDGAUSSIAN_LPIPS_LIN", str(tmp_path / "vgg_lin.pth"))
    assert lpips_status()[0]
    net = Lpips()
    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur(rng.random((64, 64, 3)).astype(np.float32), (0, 0), 2)
    assert net(a, a) == pytest.approx(0.0, abs=1e-6)
    assert net(a, np.clip(a + 0.2 * rng.standard_normal(a.shape).astype(np.float32), 0, 1)) > net(a, a + 0.01)


def test_summary_and_report_tables(tmp_path):
    cfg = benchmark.Config(seeds=[1000], n_people=[1], levels=(0.2, 0.4), downsample=(2,), views=[0, 1])
    rows = []
    for cond, ps in (("occ20", 20.0), ("occ40", 19.0), ("down2x", 18.0), ("turn180", 17.0), ("table", 16.0)):
        for method, off in (("ours", 0.0), ("visible_only", -3.0)):
            rows.append(dict(person=0, matched=True, iou=0.9, psnr=ps + off, ssim=0.9, lpips=None, psnr_fg=ps,
                             orbit_iou=0.6, occlusion=0.2,
                             per_view_psnr=[], seed=1000, n_people=1, condition=cond, method=method, seconds=4.0,
                             n_detected=1, photo_psnr_visible=30.0, photo_psnr_amodal=25.0,
                             thigh_error_deg=10.0 if cond == "occ20" else 40.0, seated=True,
                             seated_pred=cond != "occ40"))
    summary = benchmark.summarize(rows, cfg)
    assert summary["posture"]["occ20"] == {"people": 1, "sit_stand_right": 1.0, "seated_true": 1, "seated_pred": 1,
                                           "thighs_within": 1.0, "thigh_error_median": 10.0}
    assert summary["posture"]["occ40"]["sit_stand_right"] == 0.0 and summary["posture"]["occ40"]["seated_pred"] == 0
    assert summary["psnr"] == {"20": 20.0, "40": 19.0}
    assert summary["baseline_psnr"] == {"20": 17.0, "40": 16.0}
    assert summary["orbit_iou"] == {"20": 0.6, "40": 0.6}
    assert summary["psnr_2x"] == 18.0 and summary["seconds_per_person"] == 4.0
    assert summary["psnr_turn180"] == 17.0 and summary["baseline_psnr_turn180"] == 14.0
    assert summary["psnr_table"] == 16.0 and summary["baseline_psnr_table"] == 13.0
    missed = next(r for r in rows if r["condition"] == "turn180" and r["method"] == "ours")
    missed["matched"] = False  # the turned-away person missed: counted there, not in the main recall
    summary = benchmark.summarize(rows, cfg)
    assert summary["detection_recall"] == 1.0 and summary["detection_recall_turn180"] == 0.0
    rows[0]["seconds"] = float("nan")  # a run where nobody was found has no time
    rows[0]["photo_psnr_visible"] = float("nan")
    assert benchmark.summarize(rows, cfg)["seconds_per_person"] == 4.0
    json.dumps(benchmark.jsonable(rows), allow_nan=False)
    text = report.markdown(rows, [{"n_people": 1, "seconds": 4.0, "peak_mb": 10.0, "peak_rss_mb": 900.0,
                                                     "n_reconstructed": 1}],
                           cfg, summary, "LPIPS skipped", "T")
    assert "| Ours (default pipeline) | 20% (0.20) | 20.000 | 0.900 | – | 20.000 | 0.600 |" in text
    assert "| Visible-only (no completion) | 2× | 15.000 |" in text
    assert "| Ours (default pipeline) | turn180 | 17.000 | 0.900 | – | 17.000 | 0.600 | 0 of 1 |" in text
    assert "| Visible-only (no completion) | table | 13.000 | 0.900 | – | 16.000 | 0.600 | 1 of 1 |" in text
    assert "| occ20 | 1 | 1.00 | 1 / 1 | 1.00 | 10.0° |" in text and "| occ40 | 1 | 0.00 | 1 / 0 | 0.00 | 40.0° |" in text
    paths = report.plots(rows, [{"n_people": 1, "seconds": 4.0, "peak_mb": 10.0, "peak_rss_mb": 900.0,
                                                     "n_reconstructed": 1}],
                         cfg, tmp_path)
    assert all(p.is_file() and p.stat().st_size > 1000 for p in paths)


def test_run_scene_scores_a_perfect_method_highly_on_every_input(scene, monkeypatch):
    """The benchmark loop with a stand-in method that returns the truth (the pipeline is judged elsewhere)."""
    def truth_method(photo, camera, people, methods, device, quality):
        assert people is not None and all(p.mask.shape == photo.rgb.shape[:2] for p in people)
        pred = Prediction(camera=scene.camera, people=people,
                          roots=[scene.people[p.id].body.root_world for p in people],
                          gaussians=[scene.people[p.id].gaussians for p in people], seconds=1.0)
        return {m: pred for m in methods}

    monkeypatch.setattr(benchmark, "run_methods", truth_method)
    cfg = benchmark.Config(seeds=[1000], n_people=[2], size=48, views=[0, 12], width=256, height=192,
                           methods=("ours",))
    records, grid = benchmark.run_scene(scene, cfg)
    conditions = {r["condition"] for r in records}
    assert conditions == {"occ20", "occ40", "occ60", "down2x", "down4x"}
    assert all(r["matched"] and r["psnr"] > 30 for r in records), [(r["condition"], r["psnr"]) for r in records]
    for level in (20, 40, 60):
        ratios = [r["occlusion"] for r in records if r["condition"] == f"occ{level}"]
        assert all(abs(x - level / 100) < 0.06 for x in ratios), ratios
    assert len(grid["truth"]) == 2 and grid["input"].shape == (192, 256, 3)
    summary = benchmark.summarize(records, cfg)
    assert summary["psnr"]["20"] > 30 and summary["psnr_4x"] > 30
