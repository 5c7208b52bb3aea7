"""`crowdgaussian.import_bundle`: validate a scene bundle and build the people and the camera.

The whole import is one operator call, hence one undo step; on any bundle problem nothing
is created and the user gets one readable error line.
"""
from __future__ import annotations

import logging
import time

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from . import assemble, handlers
from .bundle import BundleError, load_manifest, load_person

log = logging.getLogger(__name__)
POINTS_AUTO_THRESHOLD = 200_000  # total splats above which the viewport shows plain points


def import_bundle(context: bpy.types.Context, directory: str, viewport: str = "AUTO",
                  blending: str = "PHOTO") -> list[bpy.types.Collection]:
    """Validate and import the bundle at `directory`; returns the new person collections."""
    t0 = time.perf_counter()
    root, manifest = load_manifest(directory)
    people = [load_person(root, entry) for entry in manifest["persons"]]
    total = sum(len(p.splats.means) for p in people)
    if context.object is not None and context.object.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    viewport_points = viewport == "POINTS" or (viewport == "AUTO" and total > POINTS_AUTO_THRESHOLD)
    scene = context.scene
    cycles = scene.render.engine == "CYCLES"
    camera = assemble.build_camera(manifest, root, scene, scene.collection)
    camera["crowdgaussian_bundle"] = str(root)
    collections, armatures = [], []
    for person in people:  # armatures first: their edit-mode switches are cheaper in a light scene
        label = f"Person {person.id}"
        coll = bpy.data.collections.new(label)
        scene.collection.children.link(coll)
        coll["crowdgaussian_bundle"] = str(root)
        armatures.append(assemble.build_armature(context, person, f"{label} Armature", coll))
        collections.append(coll)
    for person, arm, coll in zip(people, armatures, collections):
        label = coll.name
        assemble.build_body(person, f"{label} Body", arm, coll)
        splats = assemble.build_splats(person, f"{label} Splats", arm, coll, camera, cycles, viewport_points,
                                       linear_colors=blending == "LINEAR")
        assemble.set_photo_tint([splats], scene.crowdgaussian.photo_tint)  # the sidebar's setting for everyone
    handlers.configure_scene(scene, blending)
    log.info("imported %d people, %d splats in %.2f s", len(people), total, time.perf_counter() - t0)
    return collections


class CROWDGAUSSIAN_OT_import_bundle(bpy.types.Operator, ImportHelper):
    """Import a CrowdGaussian scene bundle folder: rigged people as Gaussian splats and the photo camera"""

    bl_idname = "crowdgaussian.import_bundle"
    bl_label = "Import CrowdGaussian Bundle"
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(name="Bundle Folder", subtype="DIR_PATH")
    filename_ext = ""
    filter_glob: StringProperty(default="manifest.json", options={"HIDDEN"})
    viewport_display: EnumProperty(
        name="Viewport", default="AUTO",
        items=(("AUTO", "Auto", "Plain points above 200k splats in total, true splats otherwise"),
               ("SPLATS", "Splats", "Show true Gaussian splats in the viewport"),
               ("POINTS", "Points", "Fast point display in the viewport (renders stay true splats)")))
    color_blending: EnumProperty(
        name="Colour Blending", default="PHOTO",
        items=(("PHOTO", "Photo (exact 3DGS)", "Raw view transform and sRGB splat colours: splats blend on display "
                                               "values like the 3DGS rasterizer, so renders match the photo"),
               ("LINEAR", "Scene Linear", "Standard view transform and linear colours: splats blend in linear "
                                          "light like the rest of Blender (soft edges differ slightly from 3DGS)")))

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Import the chosen folder or report why it is not a valid bundle."""
        try:
            collections = import_bundle(context, self.directory, self.viewport_display, self.color_blending)
        except BundleError as exc:
            self.report({"ERROR"}, f"CrowdGaussian: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"CrowdGaussian: imported {len(collections)} people")
        return {"FINISHED"}


def menu_import(self: bpy.types.Menu, context: bpy.types.Context) -> None:
    """File › Import entry."""
    self.layout.operator(CROWDGAUSSIAN_OT_import_bundle.bl_idname, text="CrowdGaussian Bundle")
