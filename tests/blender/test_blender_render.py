"""Render the imported people through the photo camera and compare with the backend rasterizer
of the same Gaussians (PSNR over the people's pixels), at rest pose and after posing a bone.

Cycles runs by default; EEVEE (software GL here, up to ~90 s of shader compilation per process)
renders the photo pose by default and the posed variant when CROWDGAUSSIAN_TEST_EEVEE=1.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from bundle_fixture import quat_matrix, rig_deform, skin_gaussians
from parity import load_render, over_grey, people_psnr, psnr_where, rasterize_bundle, side_by_side, turn_sh

from crowdgaussian.ply import read_gaussians_ply

GOALS_DB = {"CYCLES": 28.0, "BLENDER_EEVEE": 40.0}
EEVEE_ENV = {"LIBGL_ALWAYS_SOFTWARE": "1", "EGL_PLATFORM": "surfaceless"}
POSE = ["Person 1", "arm.R", "Z", -50.0]
EEVEE_OPT_IN = pytest.mark.skipif(os.environ.get("CROWDGAUSSIAN_TEST_EEVEE") != "1", reason="EEVEE is slow on software "
                                  "GL (shader compilation up to ~90 s per process): set CROWDGAUSSIAN_TEST_EEVEE=1")


def posed_gaussians(bundle: Path, person: str, bone: str, axis: str, degrees: float,
                    turn_tint: bool = True) -> list[dict]:
    """World Gaussians of every person, with `bone` of `person` turned like blender_run.pose_bone does;
    the view-dependent colour (SH bands 1-2) turns with each splat unless turn_tint is False."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    out = []
    for entry in manifest["persons"]:
        g = read_gaussians_ply(bundle / entry["files"]["gaussians"])
        if f"Person {entry['id']}" == person:
            deform = rig_deform(json.loads((bundle / entry["files"]["rig"]).read_text()), bone, axis, degrees)
            rest = read_gaussians_ply(bundle / entry["files"]["gaussians_rest"])
            skin = np.load(bundle / entry["files"]["skin"])
            photo_frames = quat_matrix(g["quats"])
            g["means"], g["quats"] = skin_gaussians(rest["means"], rest["quats"], skin["indices"], skin["weights"], deform)
            if turn_tint and "sh_rest" in g:
                g["sh_rest"] = turn_sh(g["sh_rest"], quat_matrix(g["quats"]) @ photo_frames.transpose(0, 2, 1))
        out.append(g)
    return out


def _parity(engine: str, small_bundle: Path, tmp_path: Path, run_blender, pose: list | None,
            blending: str = "PHOTO") -> float:
    png = tmp_path / f"{engine}.png"
    env = EEVEE_ENV if engine == "BLENDER_EEVEE" else None
    out = run_blender("render", timeout=600, env_extra=env, bundle=str(small_bundle), engine=engine, png=str(png),
                      percent=100, pose=pose, blending=blending)
    # the render handler picked the engine's representation: point spheres in Cycles, ico instances in EEVEE
    assert set(out["point_spheres"].values()) == {engine == "CYCLES"}
    render = load_render(png)
    reference = rasterize_bundle(small_bundle, 1.0, posed_gaussians(small_bundle, *pose) if pose else None)
    rgb_db, alpha_db, n = people_psnr(render, reference)
    side_by_side(render, reference, tmp_path / f"{engine}_compare.png")
    print(f"{engine} {blending} pose={pose}: RGB {rgb_db:.1f} dB, alpha {alpha_db:.1f} dB over {n} px")
    assert n > 2000
    if pose:  # the pose reached the pixels: the photo-pose reference no longer matches
        unposed_db, _, _ = people_psnr(render, rasterize_bundle(small_bundle, 1.0))
        # and the view-dependent colour (SH bands 1-2) turned with the posed splats: where turning it
        # changes the reference, the render is the turned one, not the one left in world directions
        world = rasterize_bundle(small_bundle, 1.0, posed_gaussians(small_bundle, *pose, turn_tint=False))
        changed = np.abs(over_grey(reference, True) - over_grey(world, True)).max(axis=-1) > 0.05
        turned_db, world_db = psnr_where(render, reference, changed), psnr_where(render, world, changed)
        print(f"  vs the photo-pose reference: {unposed_db:.1f} dB; on the {changed.sum()} px where turning the "
              f"tint matters: {turned_db:.1f} dB turned, {world_db:.1f} dB left in world directions")
        assert unposed_db < rgb_db - 6.0 and changed.sum() > 100 and turned_db > world_db + 6.0
    return rgb_db


@pytest.mark.parametrize("pose", [None, POSE], ids=["photo-pose", "arm-posed"])
def test_cycles_matches_rasterizer(small_bundle: Path, tmp_path: Path, run_blender, pose: list | None) -> None:
    """Cycles through the photo camera vs crowdgaussian.render over the people's pixels."""
    assert _parity("CYCLES", small_bundle, tmp_path, run_blender, pose) >= GOALS_DB["CYCLES"]


def test_cycles_scene_linear_blending(small_bundle: Path, tmp_path: Path, run_blender) -> None:
    """The scene-linear option blends in linear light: close to, but below, the exact photo blending."""
    assert _parity("CYCLES", small_bundle, tmp_path, run_blender, None, blending="LINEAR") >= GOALS_DB["CYCLES"]


@pytest.mark.parametrize("pose", [None, pytest.param(POSE, marks=EEVEE_OPT_IN)], ids=["photo-pose", "arm-posed"])
def test_eevee_matches_rasterizer(small_bundle: Path, tmp_path: Path, run_blender, pose: list | None) -> None:
    """EEVEE (Blended, per-instance sorting like 3DGS) vs crowdgaussian.render."""
    assert _parity("BLENDER_EEVEE", small_bundle, tmp_path, run_blender, pose) >= GOALS_DB["BLENDER_EEVEE"]


@pytest.mark.parametrize("engine, when", [("CYCLES", "tint"), ("CYCLES", "tint_at_import"),
                                          pytest.param("BLENDER_EEVEE", "tint", marks=EEVEE_OPT_IN)],
                         ids=["cycles-set-after-import", "cycles-set-before-import", "eevee-set-after-import"])
def test_photo_tint_slider_at_zero_draws_the_base_colours(engine: str, when: str, small_bundle: Path, tmp_path: Path,
                                                          run_blender) -> None:
    """The sidebar's Photo Tint (everyone) at 0, set on imported people or before they are imported:
    every splat in its DC colour, as a viewer without SH draws gaussians.ply."""
    png = tmp_path / "untinted.png"
    run_blender("render", timeout=600, env_extra=EEVEE_ENV if engine == "BLENDER_EEVEE" else None,
                bundle=str(small_bundle), engine=engine, png=str(png), percent=100, **{when: 0.0})
    render = load_render(png)
    manifest = json.loads((small_bundle / "manifest.json").read_text())
    base = [read_gaussians_ply(small_bundle / p["files"]["gaussians"]) for p in manifest["persons"]]
    for g in base:
        del g["sh_rest"]
    base_db, _, _ = people_psnr(render, rasterize_bundle(small_bundle, 1.0, base))
    tinted_db, _, _ = people_psnr(render, rasterize_bundle(small_bundle, 1.0))
    print(f"{engine} photo tint 0: {base_db:.1f} dB against the DC colours, {tinted_db:.1f} dB against DC + SH")
    assert base_db >= GOALS_DB[engine] and tinted_db < base_db - 6.0


def test_real_bundle_cycles_matches_rasterizer(bus_bundle: Path, tmp_path: Path, run_blender) -> None:
    """The pipeline's bundle through the photo camera at ~25%: Cycles vs the rasterizer, and vs the
    photo inside the people's masks. The photo tint (SH bands 1-2 in gaussians.ply) is drawn: with
    the DC colour alone Blender showed the people at 20.4 dB against the photo, with it 24.2."""
    from PIL import Image

    bundle = bus_bundle  # bus.jpg through the real CLI, once per session (tests/conftest.py)
    manifest = json.loads((bundle / "manifest.json").read_text())
    percent = max(5, min(100, round(100 * 320 / manifest["image"]["width"])))
    png = tmp_path / "real.png"
    run_blender("render", timeout=900, bundle=str(bundle), engine="CYCLES", png=str(png), percent=percent)
    render = load_render(png)
    h, w = render.shape[:2]
    reference = rasterize_bundle(bundle, w / manifest["image"]["width"])
    rgb_db, alpha_db, n = people_psnr(render, reference)
    side_by_side(render, reference, tmp_path / "real_compare.png")
    photo = np.asarray(Image.open(bundle / manifest["image"]["file"]).convert("RGB").resize((w, h)), float) / 255
    masks = [np.asarray(Image.open(bundle / p["files"]["mask"]).resize((w, h)), float) / 255 > 0.5
             for p in manifest["persons"] if p["files"].get("mask")]
    people = np.any(masks, axis=0) if masks else np.zeros((h, w), bool)
    if not people.any():
        people = render[..., 3] > 0.5
    photo_db = 10 * np.log10(1 / np.mean((render[..., :3][people] - photo[people]) ** 2))
    print(f"real bundle {w}x{h}: Cycles vs rasterizer RGB {rgb_db:.1f} dB, alpha {alpha_db:.1f} dB over {n} px; "
          f"vs the photo inside the masks {photo_db:.1f} dB")
    assert rgb_db >= GOALS_DB["CYCLES"] and photo_db >= 22.0


@pytest.mark.parametrize("engine", ["CYCLES", pytest.param("BLENDER_EEVEE", marks=EEVEE_OPT_IN)])
def test_bodies_cast_the_peoples_shadows(engine: str, small_bundle: Path, tmp_path: Path, run_blender) -> None:
    """On a floor under a sun, each person's hidden body mesh casts their shadow (the splats, self-lit,
    cast none) and shows nowhere else: turning its shadow off only brightens floor pixels."""
    out = run_blender("shadow", timeout=600, env_extra=EEVEE_ENV if engine == "BLENDER_EEVEE" else None,
                      bundle=str(small_bundle), engine=engine, png=str(tmp_path / "shadow.png"),
                      png_without=str(tmp_path / "no_shadow.png"))
    lit, unlit = (load_render(out[k])[..., :3].mean(axis=-1) for k in ("png", "png_without"))
    darker = unlit - lit
    side_by_side(np.dstack([lit] * 3 + [np.ones_like(lit)]), np.dstack([unlit] * 3 + [np.ones_like(unlit)]),
                 tmp_path / "shadow_compare.png")
    print(f"{engine} shadow: {int((darker > 0.1).sum())} px darker by > 0.1, largest brightening {-darker.min():.3f}")
    assert (darker > 0.1).sum() > 500 and darker.min() > -0.05
