"""Build Blender data from a loaded bundle: per person an armature, a skinned body mesh and
the splat carrier object; one camera matching the photo.

Placement: bundle world == Blender world (meters, Z up), so no axis change is applied.
Each armature object gets rig.json's `object_to_world` (which puts the body-local frame at
the person's root translation); body and splats are parented to it with an identity local
transform because their rest geometry is stored in that body-local frame.
"""
from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from . import splat_nodes
from .bundle import SH_BANDS, PersonData, SplatData, quat_to_matrix
from .camera import opencv_to_blender

MIN_BONE_LENGTH = 1e-3  # Blender deletes zero-length bones when leaving edit mode


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded 0..1 -> scene-linear (Blender stores emission colours linear)."""
    rgb = np.clip(rgb, 0.0, 1.0)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def srgb_to_linear_slope(rgb: np.ndarray) -> np.ndarray:
    """d(scene-linear)/d(sRGB) at each sRGB value: carries a small sRGB colour offset (the SH tint
    around the DC colour) into scene-linear."""
    rgb = np.clip(rgb, 0.0, 1.0)
    return np.where(rgb <= 0.04045, 1.0 / 12.92, 2.4 / 1.055 * ((rgb + 0.055) / 1.055) ** 1.4)


def _assign_weights(obj: bpy.types.Object, bone_names: list[str], indices: np.ndarray, weights: np.ndarray,
                    repeat: int = 1) -> None:
    """Vertex groups named after the bones; vertices repeat·r .. repeat·r + repeat-1 get skin row r.

    Entries are grouped by (bone, exact weight) so that one VertexGroup.add call covers every
    vertex sharing them (rigidly bound vertices: one call per bone).
    """
    groups = [obj.vertex_groups.new(name=name) for name in bone_names]
    rows, cols = np.nonzero((weights > 0) & (indices >= 0))
    if not len(rows):
        return
    bones, values = indices[rows, cols], weights[rows, cols].astype(np.float32)
    order = np.lexsort((values, bones))
    rows, bones, values = rows[order], bones[order], values[order]
    cuts = np.flatnonzero((np.diff(bones) != 0) | (np.diff(values) != 0)) + 1
    verts = (rows[:, None] * repeat + np.arange(repeat)).ravel().tolist()
    for start, end in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(rows)].tolist()):
        groups[bones[start]].add(verts[start * repeat:end * repeat], float(values[start]), "ADD")


def _armature_modifier(obj: bpy.types.Object, armature: bpy.types.Object) -> None:
    """Linear blend skinning by vertex groups (no envelopes, no preserve-volume)."""
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = armature
    mod.use_vertex_groups = True
    mod.use_bone_envelopes = False
    mod.use_deform_preserve_volume = False


def build_armature(context: bpy.types.Context, person: PersonData, name: str,
                   collection: bpy.types.Collection) -> bpy.types.Object:
    """Armature from rig.json: named bones at the rest pose, the photo pose applied."""
    rig = person.rig
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    collection.objects.link(obj)
    obj.matrix_world = Matrix(np.asarray(rig["object_to_world"], dtype=np.float64).tolist())
    obj.show_in_front = True
    previous = context.view_layer.objects.active
    context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        edit_bones = []
        for bone in rig["bones"]:
            eb = data.edit_bones.new(bone["name"])
            head = np.asarray(bone["head"], dtype=np.float64)
            tail = np.asarray(bone["tail"], dtype=np.float64)
            if np.linalg.norm(tail - head) < MIN_BONE_LENGTH:
                tail = head + np.array([0.0, 0.0, MIN_BONE_LENGTH])
            eb.head, eb.tail, eb.roll = head.tolist(), tail.tolist(), float(bone.get("roll", 0.0))
            edit_bones.append(eb)
        for eb, bone in zip(edit_bones, rig["bones"]):
            if bone.get("parent", -1) >= 0:
                eb.parent = edit_bones[bone["parent"]]
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        context.view_layer.objects.active = previous
    for bone in rig["bones"]:
        pb = obj.pose.bones[bone["name"]]
        pb.rotation_mode = "QUATERNION"
        pb.rotation_quaternion = bone.get("pose_quaternion", (1.0, 0.0, 0.0, 0.0))
        pb.location = bone.get("pose_location", (0.0, 0.0, 0.0))
    obj["crowdgaussian_person"] = person.id
    return obj


def _new_child_mesh(name: str, vertices: np.ndarray, faces: np.ndarray, armature: bpy.types.Object,
                    collection: bpy.types.Collection) -> bpy.types.Object:
    """Mesh object parented to the armature with an identity local transform."""
    mesh = bpy.data.meshes.new(name)
    faces = np.asarray(faces, dtype=np.int32)
    mesh.vertices.add(len(vertices))
    mesh.vertices.foreach_set("co", np.asarray(vertices, dtype=np.float32).ravel())
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    obj.parent = armature
    return obj


def build_body(person: PersonData, name: str, armature: bpy.types.Object,
               collection: bpy.types.Collection) -> bpy.types.Object:
    """The body-model mesh skinned to the armature: a proxy or collider, which renders only as the
    person's shadow (the splats are self-lit and cast none): invisible to the camera and to
    reflections, visible to shadow rays."""
    body = person.body
    obj = _new_child_mesh(name, body["vertices_rest"], body["faces"], armature, collection)
    bone_names = [b["name"] for b in person.rig["bones"]]
    _assign_weights(obj, bone_names, body["skin_indices"], body["skin_weights"])
    _armature_modifier(obj, armature)
    obj.visible_camera = obj.visible_diffuse = obj.visible_glossy = False
    obj.visible_transmission = obj.visible_volume_scatter = False
    obj.visible_shadow = True
    obj.display_type = "WIRE"
    obj["crowdgaussian_person"] = person.id
    return obj


def carrier_geometry(splats: SplatData) -> tuple[np.ndarray, np.ndarray]:
    """One triangle per splat: (mean, mean + EDGE·axis1, mean + EDGE·axis2) and its faces."""
    rot = quat_to_matrix(splats.quats)
    verts = np.stack([splats.means, splats.means + splat_nodes.EDGE * rot[:, :, 0],
                      splats.means + splat_nodes.EDGE * rot[:, :, 1]], axis=1).reshape(-1, 3)
    faces = np.arange(3 * len(splats.means), dtype=np.int32).reshape(-1, 3)
    return verts, faces


def _face_attribute(mesh: bpy.types.Mesh, name: str, kind: str, values: np.ndarray) -> None:
    """Store a per-face attribute from a numpy array."""
    attr = mesh.attributes.new(name, kind, "FACE")
    key = "value" if kind == "FLOAT" else ("color" if kind == "FLOAT_COLOR" else "vector")
    attr.data.foreach_set(key, np.ascontiguousarray(values, dtype=np.float32).ravel())


def build_splats(person: PersonData, name: str, armature: bpy.types.Object, collection: bpy.types.Collection,
                 camera: bpy.types.Object | None, use_point_spheres: bool, viewport_points: bool,
                 linear_colors: bool) -> bpy.types.Object:
    """The splat carrier object: skinned triangles + the splat node group as a modifier.

    linear_colors: store scene-linear colours (for the Standard view transform) instead of the
    photo's sRGB values (for the Raw view transform, which blends exactly like 3DGS).
    """
    s = person.splats
    verts, faces = carrier_geometry(s)
    obj = _new_child_mesh(name, verts, faces, armature, collection)
    bone_names = [b["name"] for b in person.rig["bones"]]
    _assign_weights(obj, bone_names, person.splat_skin_indices, person.splat_skin_weights, repeat=3)
    mesh = obj.data
    _face_attribute(mesh, "cg_scale", "FLOAT_VECTOR", s.scales)
    _face_attribute(mesh, "cg_opacity", "FLOAT", s.opacities)
    rgb = srgb_to_linear(s.colors) if linear_colors else np.clip(s.colors, 0.0, 1.0)
    rgba = np.concatenate([rgb, np.ones((len(s.colors), 1))], axis=1)
    _face_attribute(mesh, "cg_color", "FLOAT_COLOR", rgba)
    # the photo tint: SH bands 1-2, evaluated per view in the material (zeros where the bundle has
    # none: a missing attribute reads alpha 1 in Cycles)
    tint = np.zeros((len(s.colors), SH_BANDS, 3)) if s.sh_rest is None else s.sh_rest * (
        srgb_to_linear_slope(s.colors)[:, None] if linear_colors else 1.0)
    for c, channel in enumerate("rgb"):  # per channel, bands 1-4 and 5-8 as two RGBA attributes
        for half in range(2):
            _face_attribute(mesh, splat_nodes.sh_attribute(channel, half), "FLOAT_COLOR",
                            tint[:, 4 * half:4 * half + 4, c])
    _armature_modifier(obj, armature)
    group = splat_nodes.splat_group()
    mod = obj.modifiers.new("Gaussian Splats", "NODES")
    mod.node_group = group
    mod[splat_nodes.input_identifier(group, "Point Spheres")] = use_point_spheres
    mod[splat_nodes.input_identifier(group, "Viewport Points")] = viewport_points
    if camera is not None:
        mod[splat_nodes.input_identifier(group, "Camera")] = camera
        _drive_screen_blur(obj, mod, splat_nodes.input_identifier(group, "Screen Blur"), camera)
    # the splats show the photo's light and cast no shadow (the body proxy does); they light
    # nothing either (diffuse rays hitting their emission speckled a floor beside them)
    obj.visible_shadow = obj.visible_diffuse = False
    obj["crowdgaussian_person"] = person.id
    obj["crowdgaussian_splats"] = len(s.means)
    return obj


def set_photo_tint(objects, amount: float) -> None:
    """Set the Photo Tint input (0..1) of every splat object among `objects`."""
    for obj in objects:
        mod = obj.modifiers.get("Gaussian Splats") if obj.type == "MESH" else None
        if mod is not None and mod.node_group is not None and mod.node_group.name == splat_nodes.GROUP_NAME:
            mod[splat_nodes.input_identifier(mod.node_group, "Photo Tint")] = float(amount)
            obj.update_tag()


def _drive_screen_blur(obj: bpy.types.Object, mod: bpy.types.Modifier, key: str, camera: bpy.types.Object) -> None:
    """Screen Blur = sqrt(0.3) / focal length in render pixels, following lens and resolution."""
    fcurve = obj.driver_add(f'modifiers["{mod.name}"]["{key}"]')
    driver = fcurve.driver
    driver.type = "SCRIPTED"
    for var_name, id_type, ident, path in (("lens", "CAMERA", camera.data, "lens"),
                                          ("sw", "CAMERA", camera.data, "sensor_width"),
                                          ("rx", "SCENE", None, "render.resolution_x"),
                                          ("pct", "SCENE", None, "render.resolution_percentage")):
        var = driver.variables.new()
        var.name = var_name
        var.type = "SINGLE_PROP"
        var.targets[0].id_type = id_type
        var.targets[0].id = ident if ident is not None else bpy.context.scene
        var.targets[0].data_path = path
    blur = math.sqrt(splat_nodes.SCREEN_BLUR_PX2)
    driver.expression = f"{blur!r} * sw * 100 / (lens * rx * pct)"


def build_camera(manifest: dict, root: Path, scene: bpy.types.Scene,
                 collection: bpy.types.Collection) -> bpy.types.Object:
    """Camera matching the photo (pose, focal, principal point as shift), photo as background."""
    cam_info, image = manifest["camera"], manifest["image"]
    width, height = int(image["width"]), int(image["height"])
    params = opencv_to_blender(cam_info["fx"], cam_info["cx"], cam_info["cy"], width, height,
                               np.asarray(cam_info["world_to_camera"], dtype=np.float64))
    data = bpy.data.cameras.new("CrowdGaussian Camera")
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = params.sensor_width_mm
    data.lens = params.lens_mm
    data.shift_x, data.shift_y = params.shift_x, params.shift_y
    data.clip_start, data.clip_end = 0.05, 1000.0
    photo = bpy.data.images.load(str(root / image["file"]), check_existing=True)
    background = data.background_images.new()
    background.image = photo
    background.frame_method = "STRETCH"
    background.alpha = 1.0
    data.show_background_images = True
    obj = bpy.data.objects.new("CrowdGaussian Camera", data)
    collection.objects.link(obj)
    obj.matrix_world = Matrix(params.matrix_world.tolist())
    scene.render.resolution_x, scene.render.resolution_y = params.resolution
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    scene.camera = obj
    return obj
