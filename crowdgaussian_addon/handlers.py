"""Keep each engine on its best splat representation and the scene set up for splats.

EEVEE renders splats best as sorted ico instances, Cycles fastest as point spheres (see
splat_nodes.py). A render_init handler (F12 and animation renders alike) and a message-bus
subscription on the render engine (viewport) flip every splat modifier's "Point Spheres"
input to match the scene's engine.
"""
from __future__ import annotations

import bpy
from bpy.app.handlers import persistent

from . import splat_nodes

TRANSPARENT_BOUNCES = 1024  # a Cycles ray that runs out of transparent bounces turns opaque
_OWNER = object()


def configure_scene(scene: bpy.types.Scene, blending: str) -> None:
    """Settings splats need: enough transparent bounces and the view transform of `blending`.

    PHOTO: "Raw" view transform, splat colours are the photo's sRGB values, so alpha blending
    happens on display values exactly like the 3DGS rasterizer; LINEAR: "Standard" view
    transform with linearised colours (blending in scene-linear light, like the rest of Blender).
    """
    scene.cycles.transparent_max_bounces = max(scene.cycles.transparent_max_bounces, TRANSPARENT_BOUNCES)
    # no Russian roulette through splats: it would end rays at random (black speckle)
    scene.cycles.min_transparent_bounces = scene.cycles.transparent_max_bounces
    scene.view_settings.view_transform = "Raw" if blending == "PHOTO" else "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    sync_engine(scene)


def sync_engine(scene: bpy.types.Scene) -> None:
    """Point Spheres on for Cycles, off otherwise, on every splat modifier in the file."""
    group = bpy.data.node_groups.get(splat_nodes.GROUP_NAME)
    if group is None:
        return
    key = splat_nodes.input_identifier(group, "Point Spheres")
    want = scene.render.engine == "CYCLES"
    for obj in bpy.data.objects:
        for mod in obj.modifiers:
            if mod.type == "NODES" and mod.node_group == group and bool(mod[key]) != want:
                mod[key] = want
                obj.update_tag()


@persistent
def _on_render_init(scene: bpy.types.Scene, *_args) -> None:
    sync_engine(scene)


def _on_engine_change() -> None:
    if bpy.context.scene is not None:
        sync_engine(bpy.context.scene)


@persistent
def _on_load_post(*_args) -> None:
    _subscribe()


def _subscribe() -> None:
    bpy.msgbus.clear_by_owner(_OWNER)
    bpy.msgbus.subscribe_rna(key=(bpy.types.RenderSettings, "engine"), owner=_OWNER, args=(),
                             notify=_on_engine_change)


def register() -> None:
    """Install the handlers (idempotent)."""
    for lst, fn in ((bpy.app.handlers.render_init, _on_render_init), (bpy.app.handlers.load_post, _on_load_post)):
        if fn not in lst:
            lst.append(fn)
    _subscribe()


def unregister() -> None:
    """Remove the handlers."""
    bpy.msgbus.clear_by_owner(_OWNER)
    for lst, fn in ((bpy.app.handlers.render_init, _on_render_init), (bpy.app.handlers.load_post, _on_load_post)):
        if fn in lst:
            lst.remove(fn)
