"""Run one Blender scenario in a fresh process (bpy can be initialised once per process).

    python blender_run.py SCENARIO ARGS_JSON OUT_JSON

Installs the extension zip (args["zip"]) the way Edit › Preferences › Install from Disk does
(bpy.ops.extensions.package_install_files into the "user_default" repository, enabled on
install), then runs SCENARIO and writes its JSON-able result to OUT_JSON. The caller points
BLENDER_USER_CONFIG / BLENDER_USER_SCRIPTS / BLENDER_USER_EXTENSIONS at temporary folders.
"""
from __future__ import annotations

import importlib
import json
import math
import sys
import time

import bpy
import numpy as np

PACKAGE = "bl_ext.user_default.crowdgaussian"


def install(zip_path: str) -> object:
    """Install + enable the extension from its zip; returns the add-on module."""
    bpy.ops.extensions.repo_refresh_all()
    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default",
                                                      enable_on_install=True)
    if result != {"FINISHED"} or PACKAGE not in bpy.context.preferences.addons:
        raise RuntimeError(f"install failed: {result}")
    for obj in list(bpy.data.objects):  # the factory startup cube, light and camera
        bpy.data.objects.remove(obj)
    return importlib.import_module(PACKAGE)


def instances(obj_name: str) -> np.ndarray:
    """[M,4,4] world matrices of the instances an object's Geometry Nodes create (in order)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    out = [np.array(inst.matrix_world) for inst in depsgraph.object_instances
           if inst.is_instance and inst.parent is not None and inst.parent.original.name == obj_name]
    return np.array(out).reshape(-1, 4, 4)


def evaluated_vertices(obj_name: str) -> np.ndarray:
    """World positions of an object's evaluated mesh vertices."""
    obj = bpy.data.objects[obj_name]
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = ev.to_mesh()
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    ev.to_mesh_clear()
    m = np.array(obj.matrix_world)
    co = co.reshape(-1, 3).astype(np.float64)
    return co @ m[:3, :3].T + m[:3, 3]


def carrier_vertices(obj_name: str) -> np.ndarray:
    """World positions of the splat carrier triangles after the Armature modifier only."""
    mod = bpy.data.objects[obj_name].modifiers["Gaussian Splats"]
    mod.show_viewport = False
    try:
        return evaluated_vertices(obj_name)
    finally:
        mod.show_viewport = True


def scene_facts() -> dict:
    """Everything the import tests check: collections, objects, rig, skinning, camera, splats."""
    out: dict = {"collections": {}, "scene_camera": bpy.context.scene.camera and bpy.context.scene.camera.name}
    for coll in bpy.data.collections:
        if not coll.name.startswith("Person "):
            continue
        objs = {o.name: o.type for o in coll.objects}
        arm = next(o for o in coll.objects if o.type == "ARMATURE")
        body = bpy.data.objects[f"{coll.name} Body"]
        splats = bpy.data.objects[f"{coll.name} Splats"]
        out["collections"][coll.name] = {
            "objects": objs,
            "armature_matrix_world": np.array(arm.matrix_world).tolist(),
            "bones": [b.name for b in arm.data.bones],
            "bone_parents": [b.parent.name if b.parent else None for b in arm.data.bones],
            "bone_matrix_local": [np.array(b.matrix_local).tolist() for b in arm.data.bones],
            "pose_quaternions": [list(pb.rotation_quaternion) for pb in arm.pose.bones],
            "body_groups": [g.name for g in body.vertex_groups],
            "body_modifiers": [(m.type, getattr(m, "object", None) and m.object.name) for m in body.modifiers],
            "body_render": {"hide_render": body.hide_render, "camera": body.visible_camera,
                            "diffuse": body.visible_diffuse, "glossy": body.visible_glossy,
                            "shadow": body.visible_shadow},
            "body_parent": body.parent.name if body.parent else None,
            "splat_parent": splats.parent.name if splats.parent else None,
            "splat_modifiers": [m.type for m in splats.modifiers],
            "splat_groups": [g.name for g in splats.vertex_groups],
            "body_world": evaluated_vertices(body.name).tolist(),
            "carrier_world": carrier_vertices(splats.name).tolist(),
            "instances": instances(splats.name).tolist(),
        }
    cam = bpy.context.scene.camera
    if cam is not None:
        out["camera"] = {"matrix_world": np.array(cam.matrix_world).tolist(), "lens": cam.data.lens,
                         "sensor_width": cam.data.sensor_width, "sensor_fit": cam.data.sensor_fit,
                         "shift": [cam.data.shift_x, cam.data.shift_y],
                         "resolution": [bpy.context.scene.render.resolution_x, bpy.context.scene.render.resolution_y],
                         "background": [bg.image.filepath if bg.image else None for bg in cam.data.background_images],
                         "show_background": cam.data.show_background_images}
    return out


def pose_bone(person: str, bone: str, axis: str, degrees: float) -> None:
    """Rotate a pose bone about one of its local axes on top of its photo pose."""
    from mathutils import Quaternion, Vector

    arm = bpy.data.objects[f"{person} Armature"]
    pb = arm.pose.bones[bone]
    unit = Vector({"X": (1, 0, 0), "Y": (0, 1, 0), "Z": (0, 0, 1)}[axis])
    pb.rotation_quaternion = pb.rotation_quaternion @ Quaternion(unit, np.deg2rad(degrees))


def scenario_import(args: dict) -> dict:
    """Install, import the bundle, optionally pose a bone; report scene facts (and timing)."""
    install(args["zip"])
    t0 = time.perf_counter()
    result = bpy.ops.crowdgaussian.import_bundle(directory=args["bundle"])
    seconds = time.perf_counter() - t0
    if result != {"FINISHED"}:
        return {"result": sorted(result)}
    before = scene_facts()
    ui = {"file_import_menu": any(getattr(f, "__name__", "") == "menu_import"
                                  for f in bpy.types.TOPBAR_MT_file_import._dyn_ui_initialize()),
          "sidebar_panel": getattr(bpy.types, "VIEW3D_PT_crowdgaussian", None) is not None and
          bpy.types.VIEW3D_PT_crowdgaussian.bl_category == "CrowdGaussian"}
    out = {"result": sorted(result), "import_seconds": seconds, "before": before, "ui": ui}
    if args.get("pose"):
        pose_bone(*args["pose"])
        out["after"] = scene_facts()
    return out


def scenario_import_error(args: dict) -> dict:
    """Import a broken bundle: the operator must cancel with a readable report and create nothing."""
    install(args["zip"])
    n_objects = len(bpy.data.objects)
    try:
        result = bpy.ops.crowdgaussian.import_bundle(directory=args["bundle"])
        message = ""
    except RuntimeError as exc:  # bpy.ops raises the operator's ERROR report as RuntimeError
        result, message = {"CANCELLED"}, str(exc)
    return {"result": sorted(result), "message": message, "new_objects": len(bpy.data.objects) - n_objects}


def scenario_render(args: dict) -> dict:
    """Import, optionally pose, render through the photo camera with args["engine"] to args["png"]."""
    install(args["zip"])
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"  # the engine changes after the import: handlers must follow
    if "tint_at_import" in args:  # the sidebar's "Photo Tint (everyone)", set before the people exist
        scene.crowdgaussian.photo_tint = args["tint_at_import"]
    bpy.ops.crowdgaussian.import_bundle(directory=args["bundle"], viewport_display="SPLATS",
                                        color_blending=args.get("blending", "PHOTO"))
    scene.render.engine = args["engine"]
    if args.get("pose"):
        pose_bone(*args["pose"])
    if "tint" in args:  # the sidebar's "Photo Tint (everyone)"
        scene.crowdgaussian.photo_tint = args["tint"]
    scene.render.resolution_percentage = args.get("percent", 100)
    scene.render.use_compositing = scene.render.use_sequencer = False
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.filepath = args["png"]
    if args["engine"] == "CYCLES":
        scene.cycles.samples = args.get("samples", 1)
        scene.cycles.use_denoising = False
        scene.cycles.max_bounces = 0
        scene.cycles.device = "CPU"
        scene.cycles.pixel_filter_type = "BOX"
        scene.cycles.filter_width = 0.01
        scene.render.threads_mode = "FIXED"
        scene.render.threads = args.get("threads", 2)
    else:
        scene.eevee.taa_render_samples = args.get("samples", 1)
        scene.render.filter_size = 0.0
    t0 = time.perf_counter()
    bpy.ops.render.render(write_still=True)
    seconds = time.perf_counter() - t0
    group = bpy.data.node_groups["CrowdGaussian Splats"]
    key = next(i.identifier for i in group.interface.items_tree if i.name == "Point Spheres")
    spheres = {o.name: bool(o.modifiers["Gaussian Splats"][key]) for o in bpy.data.objects if "Gaussian Splats" in o.modifiers}
    return {"render_seconds": seconds, "png": args["png"], "point_spheres": spheres}


def scenario_shadow(args: dict) -> dict:
    """Import onto a floor lit by a low sun and render through the photo camera with args["engine"],
    with the bodies casting shadows (args["png"]) and without (args["png_without"])."""
    install(args["zip"])
    bpy.ops.crowdgaussian.import_bundle(directory=args["bundle"], viewport_display="SPLATS")
    scene = bpy.context.scene
    scene.render.engine = args["engine"]
    bpy.ops.mesh.primitive_plane_add(size=40.0, location=(0.0, 0.0, 0.0))
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.data.energy = 3.0
    sun.data.angle = 0.0
    sun.rotation_euler = (math.radians(55.0), 0.0, math.radians(150.0))  # shadows fall back and to the side
    scene.collection.objects.link(sun)
    scene.world = scene.world or bpy.data.worlds.new("World")
    scene.world.color = (0.05, 0.05, 0.05)
    scene.render.film_transparent = False
    scene.render.resolution_percentage = args.get("percent", 100)
    scene.render.image_settings.file_format = "PNG"
    scene.cycles.samples = 4
    scene.cycles.use_denoising = False
    scene.cycles.device = "CPU"
    scene.render.threads_mode = "FIXED"
    scene.render.threads = 2
    out = {}
    for key in ("png", "png_without"):
        if key == "png_without":
            for obj in bpy.data.objects:
                if obj.name.endswith(" Body"):
                    obj.visible_shadow = False
        scene.render.filepath = args[key]
        bpy.ops.render.render(write_still=True)
        out[key] = args[key]
    return out


def _setup_reconstruct(args: dict) -> object:
    """Install, point the add-on at the stand-in backend and fill the sidebar options."""
    install(args["zip"])
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.backend_command = json.dumps(args["command"])
    settings = bpy.context.scene.crowdgaussian
    settings.photo = args["photo"]
    settings.output, settings.output_dir = "CUSTOM", args["output_dir"]
    settings.device, settings.quality, settings.max_persons = "cpu", "fast", 3
    return importlib.import_module(PACKAGE + ".reconstruct")


def _job_state() -> dict:
    state = bpy.context.window_manager.crowdgaussian_job
    return {"running": state.running, "stage": state.stage, "progress": state.progress,
            "message": state.message, "last_error": state.last_error,
            "objects": sorted(o.name for o in bpy.data.objects)}


def scenario_reconstruct(args: dict) -> dict:
    """Run crowdgaussian.reconstruct (blocking variant) against the stand-in backend."""
    _setup_reconstruct(args)
    try:
        result, message = bpy.ops.crowdgaussian.reconstruct(), ""
    except RuntimeError as exc:  # the operator's ERROR report
        result, message = {"CANCELLED"}, str(exc)
    return {"result": sorted(result), "message": message, **_job_state()}


def scenario_reconstruct_cancel(args: dict) -> dict:
    """Start a session the way the modal operator does, cancel it mid-run, check nothing changed."""
    module = _setup_reconstruct(args)
    before = sorted(o.name for o in bpy.data.objects)
    argv, bundle = module.build_argv(bpy.context.scene.crowdgaussian)
    session = module.ReconstructSession(argv)
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        outcome = session.step(bpy.context)
        seen.append(bpy.context.window_manager.crowdgaussian_job.progress)
        if seen[-1] > 0 or outcome != "RUNNING":
            break
        time.sleep(0.05)
    t0 = time.monotonic()
    session.cancel()
    return {"outcome_before_cancel": outcome, "progress_seen": max(seen), "cancel_seconds": time.monotonic() - t0,
            "returncode": session.job.proc.returncode, "bundle_exists": bundle.exists(),
            "objects_before": before, **_job_state()}


def _drain(runner: object, timeout: float = 60) -> None:
    """Call a preferences StepRunner's timer callback until it stops (no event loop here)."""
    deadline = time.monotonic() + timeout
    while runner.tick() is not None:
        if time.monotonic() > deadline:
            raise TimeoutError("runner did not finish")
        time.sleep(0.05)


def scenario_preferences(args: dict) -> dict:
    """Check (doctor) through the stand-in, the environment steps, a failing step runner and its log."""
    install(args["zip"])
    prefs_mod = importlib.import_module(PACKAGE + ".preferences")
    env_mod = importlib.import_module(PACKAGE + ".backend_env")
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    no_env = {}
    try:
        bpy.ops.crowdgaussian.check_env()
    except RuntimeError as exc:
        no_env = {"message": str(exc), "lines": prefs_mod.STATUS["doctor"]["lines"]}
    prefs.backend_command = json.dumps(args["command"])
    bpy.ops.crowdgaussian.check_env()
    _drain(prefs_mod.RUNNERS["doctor"])
    doctor = dict(prefs_mod.STATUS["doctor"])
    steps = env_mod.creation_steps(env_mod.default_env_dir(), python="PY", nvidia=False)
    log_path = env_mod.user_dir("logs") / "test.log"
    runner = prefs_mod.StepRunner("env", [("first", [sys.executable, "-c", "print('step one')"]),
                                          ("second", [sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"])],
                                  log_path)
    _drain(runner)
    return {"no_env": no_env, "doctor": doctor, "steps": steps, "default_env": str(env_mod.default_env_dir()),
            "bundled_backend": str(env_mod.BUNDLED_BACKEND), "failing": prefs_mod.STATUS["env"],
            "log": log_path.read_text()}


def main() -> None:
    scenario, args_json, out_json = sys.argv[1:4]
    args = json.loads(args_json)
    result = globals()[f"scenario_{scenario}"](args)
    with open(out_json, "w", encoding="utf-8") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
