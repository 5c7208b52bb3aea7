"""CrowdGaussian Blender extension: reconstruct a crowd from one photo with the backend and
import the scene bundle as rigged people made of Gaussian splats (bpy + numpy only)."""
from __future__ import annotations

import bpy

from . import handlers, importer, preferences, reconstruct, ui

_CLASSES = (*preferences.CLASSES, *reconstruct.CLASSES, importer.CROWDGAUSSIAN_OT_import_bundle, *ui.CLASSES)


def register() -> None:
    """Register classes, properties, the File › Import entry and the render handlers."""
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    reconstruct.register_properties()
    bpy.types.TOPBAR_MT_file_import.append(importer.menu_import)
    handlers.register()


def unregister() -> None:
    """Undo register()."""
    handlers.unregister()
    bpy.types.TOPBAR_MT_file_import.remove(importer.menu_import)
    reconstruct.unregister_properties()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
