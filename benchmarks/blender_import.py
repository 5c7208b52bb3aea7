"""Blender import and render benchmark, and the README renders.

    python benchmarks/blender_import.py                 # import 6 people x 40k splats, Cycles render
    python benchmarks/blender_import.py --quick         # 6 x 10k splats
    python benchmarks/blender_import.py --render-docs BUNDLE [--out docs/images]

Runs headless bpy (bpy==5.0.1) with temporary Blender user folders, installs the extension
zip the way Install from Disk does, imports a generated bundle (tests/blender/bundle_fixture.py,
1280x720 photo) and prints the import time and the time of a Cycles render at 25% of
1280x720 through the photo camera (2 threads). --render-docs imports BUNDLE and writes
crowd_camera.png (through the photo camera, over grey), crowd_side.png (from the side, arms
posed differently) and crowd_side_no_tint.png (the same, Photo Tint 0) for the README.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "bl_ext.user_default.crowdgaussian"


def start_blender(tmp: Path) -> object:
    """Import bpy with temporary user folders and install + enable the extension zip."""
    for var in ("BLENDER_USER_CONFIG", "BLENDER_USER_SCRIPTS", "BLENDER_USER_EXTENSIONS"):
        os.environ[var] = str(tmp / var.lower())
        Path(os.environ[var]).mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "tools"))
    from extension_zip import build_extension_zip

    import bpy

    zip_path = build_extension_zip(ROOT, tmp / "dist")
    bpy.ops.extensions.repo_refresh_all()
    if bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                                enable_on_install=True) != {"FINISHED"}:
        raise SystemExit("could not install the extension")
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    return bpy


def cycles_settings(scene: object, percent: int, threads: int = 2) -> None:
    """One-sample, no-bounce Cycles on the CPU (the splat shader is deterministic)."""
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 1
    scene.cycles.use_denoising = False
    scene.cycles.max_bounces = 0
    scene.render.resolution_percentage = percent
    scene.render.threads_mode = "FIXED"
    scene.render.threads = threads
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"


def benchmark(n_persons: int, n_splats: int) -> None:
    """Print import seconds and Cycles render seconds for a generated bundle."""
    sys.path.insert(0, str(ROOT / "tests" / "blender"))
    from bundle_fixture import make_bundle

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bundle = make_bundle(tmp / "bundle", n_persons=n_persons, n_splats=n_splats, width=1280, height=720)
        bpy = start_blender(tmp)
        scene = bpy.context.scene
        cycles_settings(scene, 25)
        t0 = time.perf_counter()
        bpy.ops.crowdgaussian.import_bundle(directory=str(bundle))
        t_import = time.perf_counter() - t0
        scene.render.filepath = str(tmp / "render.png")
        t0, c0 = time.perf_counter(), time.process_time()
        bpy.ops.render.render(write_still=True)
        t_render, c_render = time.perf_counter() - t0, time.process_time() - c0
    print(f"blender import: {n_persons} people x {n_splats} splats: import {t_import:.2f} s (goal <= 10 s)")
    print(f"blender cycles render at 25% of 1280x720 (320x180, 1 sample, 2 threads): {t_render:.2f} s wall "
          f"(goal <= 60 s), {c_render:.2f} s CPU (load average {os.getloadavg()[0]:.1f})")
    print(json.dumps({"persons": n_persons, "splats_per_person": n_splats, "import_s": round(t_import, 3),
                      "cycles_25pct_s": round(t_render, 2), "cycles_cpu_s": round(c_render, 2),
                      "load_average": round(os.getloadavg()[0], 2)}))


def _pose_arms(bpy: object, degrees: float) -> None:
    """Swing each person's upper arms (first bone named like *upperarm*/*arm* per side) in opposite directions."""
    from mathutils import Quaternion

    sides = (("L", "left", 1.0), ("R", "right", -1.0))
    for obj in bpy.data.objects:
        if obj.type != "ARMATURE" or "crowdgaussian_person" not in obj:
            continue
        for suffix, word, sign in sides:
            pb = next((pb for pb in obj.pose.bones if re.search(r"upper.?arm|^arm", pb.name, re.IGNORECASE)
                       and re.search(rf"[._]{suffix}$|{word}", pb.name, re.IGNORECASE)), None)
            if pb is not None:
                pb.rotation_quaternion = pb.rotation_quaternion @ Quaternion((1, 0, 0), math.radians(sign * degrees))


def render_docs(bundle: Path, out_dir: Path, percent: int) -> None:
    """crowd_camera.png (photo camera, over grey), crowd_side.png (side view, posed, on a sunlit
    floor) and crowd_side_no_tint.png (the same with Photo Tint 0)."""
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        bpy = start_blender(Path(tmp_name))
        from mathutils import Vector

        scene = bpy.context.scene
        cycles_settings(scene, percent)
        bpy.ops.crowdgaussian.import_bundle(directory=str(bundle.resolve()), viewport_display="SPLATS")
        scene.render.film_transparent = True
        camera_png = out_dir / "crowd_camera.png"
        scene.render.filepath = str(camera_png)
        bpy.ops.render.render(write_still=True)
        # over plain grey, not over the photo: the sample photos are not ours to commit
        render = np.asarray(Image.open(camera_png).convert("RGBA"), dtype=np.float64) / 255.0
        a = render[..., 3:4]
        Image.fromarray((255 * (render[..., :3] * a + 0.5 * (1 - a))).round().astype(np.uint8)).save(camera_png)

        corners = np.array([np.array(o.matrix_world @ Vector(c)) for o in bpy.data.objects
                            if o.name.endswith(" Splats") for c in o.bound_box])
        centre = 0.5 * (corners.min(axis=0) + corners.max(axis=0))
        radius = 0.5 * float(np.linalg.norm(corners.max(axis=0) - corners.min(axis=0)))
        side = bpy.data.objects.new("Side Camera", bpy.data.cameras.new("Side Camera"))
        scene.collection.objects.link(side)
        side.data.lens = 30.0
        half_fov = math.atan(0.5 * side.data.sensor_width / side.data.lens)
        distance = 1.05 * radius / math.sin(half_fov)
        azimuth, elevation = math.radians(-35.0), math.radians(8.0)  # front-right of people facing -Y
        side.location = centre + distance * np.array([math.sin(-azimuth) * math.cos(elevation),
                                                      -math.cos(azimuth) * math.cos(elevation), math.sin(elevation)])
        direction = centre - np.array(side.location)
        side.rotation_euler = (math.atan2(math.hypot(direction[0], direction[1]), -direction[2]), 0.0,
                               math.atan2(direction[1], direction[0]) - math.pi / 2)
        size = max(scene.render.resolution_x, scene.render.resolution_y)
        scene.render.resolution_x, scene.render.resolution_y = size, size * 9 // 16
        scene.camera = side
        _pose_arms(bpy, 45.0)
        scene.render.film_transparent = False
        _stage(bpy, scene, (centre[0], centre[1]), 4.0 * radius)
        for amount, name in ((1.0, "crowd_side.png"), (0.0, "crowd_side_no_tint.png")):
            scene.crowdgaussian.photo_tint = amount  # the sidebar's "Photo Tint (everyone)"
            scene.render.filepath = str(out_dir / name)
            bpy.ops.render.render(write_still=True)
    print(f"docs renders: {camera_png} {out_dir / 'crowd_side.png'} {out_dir / 'crowd_side_no_tint.png'}")


def _stage(bpy: object, scene: object, xy: tuple[float, float], size: float) -> None:
    """A floor at z = 0 (centred at xy) lit by a sharp sun, so the people's body proxies cast their
    shadows; a grey backdrop seen by the camera only, and a faint floor glow for the shadowed side
    (noise-free at one sample)."""
    bpy.ops.mesh.primitive_plane_add(size=size, location=(xy[0], xy[1], 0.0))
    floor = bpy.context.active_object
    mat = bpy.data.materials.new("Floor")
    mat.use_nodes = True
    _shader_tree(mat.node_tree, [("ShaderNodeBsdfDiffuse", (0.35, 0.35, 0.37, 1.0)),
                                 ("ShaderNodeEmission", (0.06, 0.06, 0.065, 1.0))],
                 "ShaderNodeAddShader", "ShaderNodeOutputMaterial")
    floor.data.materials.append(mat)
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.data.energy, sun.data.angle = 2.5, 0.0
    sun.rotation_euler = (math.radians(40.0), 0.0, math.radians(-60.0))
    scene.collection.objects.link(sun)
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    world.use_nodes = True
    mix = _shader_tree(world.node_tree, [("ShaderNodeBackground", (0.0, 0.0, 0.0, 1.0)),
                                         ("ShaderNodeBackground", (0.18, 0.18, 0.2, 1.0))],
                       "ShaderNodeMixShader", "ShaderNodeOutputWorld")
    world.node_tree.links.new(world.node_tree.nodes.new("ShaderNodeLightPath").outputs["Is Camera Ray"], mix.inputs[0])


def _shader_tree(tree: object, shaders: list[tuple[str, tuple[float, ...]]], combiner: str, output: str) -> object:
    """Replace a node tree by `shaders` (node kind, colour) joined by `combiner` (an Add, or a Mix
    whose factor is left to the caller) into `output`; returns the combiner node."""
    tree.nodes.clear()
    join = tree.nodes.new(combiner)
    first = 1 if combiner == "ShaderNodeMixShader" else 0
    for i, (kind, colour) in enumerate(shaders):
        node = tree.nodes.new(kind)
        node.inputs["Color"].default_value = colour
        tree.links.new(node.outputs[0], join.inputs[first + i])
    tree.links.new(join.outputs[0], tree.nodes.new(output).inputs["Surface"])
    return join


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="6 people x 10k splats instead of 40k")
    p.add_argument("--render-docs", type=Path, metavar="BUNDLE", help="render README images of BUNDLE")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="folder for --render-docs")
    p.add_argument("--percent", type=int, default=100, help="render resolution percentage for --render-docs")
    args = p.parse_args()
    if args.render_docs:
        render_docs(args.render_docs, args.out, args.percent)
    else:
        benchmark(6, 10_000 if args.quick else 40_000)


if __name__ == "__main__":
    main()
