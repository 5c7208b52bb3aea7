"""The "CrowdGaussian" tab of the 3D viewport sidebar."""
from __future__ import annotations

import bpy

from .importer import CROWDGAUSSIAN_OT_import_bundle
from .reconstruct import CROWDGAUSSIAN_OT_cancel, CROWDGAUSSIAN_OT_reconstruct
from .splat_nodes import GROUP_NAME, input_identifier


class VIEW3D_PT_crowdgaussian(bpy.types.Panel):
    """Photo, options, Reconstruct Crowd with progress and Cancel, bundle import."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "CrowdGaussian"
    bl_label = "CrowdGaussian"

    def draw(self, context: bpy.types.Context) -> None:
        """Draw the panel."""
        layout = self.layout
        settings = context.scene.crowdgaussian
        state = context.window_manager.crowdgaussian_job
        col = layout.column()
        col.enabled = not state.running
        col.prop(settings, "photo")
        col.prop(settings, "device")
        col.prop(settings, "max_persons")
        col.prop(settings, "quality")
        col.prop(settings, "output")
        if settings.output == "CUSTOM":
            col.prop(settings, "output_dir")
        if state.running:
            layout.progress(factor=state.progress, text=f"{state.stage} {state.progress * 100:.0f}%")
            if state.message:
                layout.label(text=state.message)
            layout.operator(CROWDGAUSSIAN_OT_cancel.bl_idname, icon="CANCEL")
        else:
            layout.operator(CROWDGAUSSIAN_OT_reconstruct.bl_idname, icon="COMMUNITY")
        if state.last_error:
            box = layout.box()
            box.label(text="Reconstruction failed:", icon="ERROR")
            box.label(text=state.last_error)
        layout.separator()
        layout.operator(CROWDGAUSSIAN_OT_import_bundle.bl_idname, icon="IMPORT")
        layout.prop(settings, "photo_tint", text="Photo Tint (everyone)", slider=True)
        obj = context.object
        mod = obj.modifiers.get("Gaussian Splats") if obj is not None and obj.type == "MESH" else None
        group = bpy.data.node_groups.get(GROUP_NAME)
        if mod is not None and group is not None and mod.node_group == group:
            layout.prop(mod, f'["{input_identifier(group, "Viewport Points")}"]', text="Fast Viewport Points")
            layout.prop(mod, f'["{input_identifier(group, "Photo Tint")}"]', text="Photo Tint (this person)", slider=True)


CLASSES = (VIEW3D_PT_crowdgaussian,)
