"""The scene bundle on disk: written atomically, validated on read (format logic only).

Layout and fields are documented in README.md ("Scene bundle"). A bundle is first written
into a hidden temporary sibling folder and renamed into place at the end, so a failed or
cancelled run never leaves a half-written bundle behind.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from . import __version__
from .errors import CrowdGaussianError
from .ply import write_gaussians_ply
from .types import Body, Camera, Gaussians, Person, Photo

FORMAT = "crowdgaussian.bundle"
VERSION = 1
PERSON_FILES = ("gaussians", "gaussians_rest", "mask", "body", "body_params", "rig", "skin")


@dataclass
class SceneResult:
    """Everything one reconstruction produced, in memory (what the bundle stores)."""

    photo: Photo
    camera: Camera
    people: list[Person]
    bodies: list[Body]
    gaussians: list[Gaussians]


def _jsonable(value: object) -> object:
    """numpy scalars/arrays -> plain Python for json.dump."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(_jsonable(obj), indent=1))


def _copy_photo(photo: Photo, dest_dir: Path) -> str:
    """Store the photo at full resolution (EXIF rotation applied); returns its bundle name."""
    src = Path(photo.path)
    with Image.open(src) as img:
        plain_jpeg = img.format == "JPEG" and img.mode == "RGB" and img.getexif().get(0x0112, 1) == 1
    if plain_jpeg:
        shutil.copyfile(src, dest_dir / "image.jpg")
        return "image.jpg"
    from .image_io import load_photo  # full-resolution decode with all the mode conversions

    full = load_photo(src, max_side=None)
    Image.fromarray(full.rgb).save(dest_dir / "image.png", compress_level=1)
    return "image.png"


def _rig_json(body: Body) -> dict:
    """rig.json: bones at rest with the photo pose; only the root bone carries a location."""
    root_location = body.root_location if body.root_location is not None else np.zeros(3)
    bones = []
    for i, bone in enumerate(body.bones):
        entry = {"name": bone.name, "parent": bone.parent, "head": bone.head, "tail": bone.tail,
                 "roll": float(bone.roll), "pose_quaternion": body.bone_pose[i],
                 "pose_location": root_location if bone.parent < 0 else [0.0, 0.0, 0.0]}
        if bone.matrix is not None:
            entry["matrix"] = bone.matrix
        bones.append(entry)
    return {"bones": bones, "object_to_world": body.object_to_world,
            "root_translation": body.root_translation, "rest_to_world": body.rest_to_world}


def write_bundle(out_dir: str | Path, scene: SceneResult, previews: dict[str, np.ndarray],
                 overwrite: bool = False) -> Path:
    """Write `scene` as a bundle folder at out_dir (atomically); returns the final path."""
    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and not overwrite:
        raise CrowdGaussianError(f"{out_dir} already exists (use --overwrite to replace it)")
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=parent))
    except OSError as exc:
        raise CrowdGaussianError(f"cannot write to {parent}: {exc.strerror or exc}") from None
    try:
        _write_contents(tmp, scene, previews)
        if out_dir.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=parent))
            out_dir.rename(trash / "old")
            tmp.rename(out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _write_contents(root: Path, scene: SceneResult, previews: dict[str, np.ndarray]) -> None:
    photo, cam = scene.photo, scene.camera
    image_name = _copy_photo(photo, root)
    (root / "previews").mkdir()
    preview_files = {}
    for name, rgb in previews.items():
        Image.fromarray(rgb).save(root / "previews" / f"{name}.png")
        preview_files[name] = f"previews/{name}.png"
    persons = []
    inv = 1.0 / photo.scale
    for person, body, gs in zip(scene.people, scene.bodies, scene.gaussians, strict=True):
        rel = f"persons/{person.id}"
        d = root / rel
        d.mkdir(parents=True)
        write_gaussians_ply(d / "gaussians.ply", gs.means, gs.quats, gs.scales, gs.opacities, gs.colors, gs.sh_rest)
        # the photo tint (gaussians.tint) belongs to the photo's pose and camera: the rest pose has none
        write_gaussians_ply(d / "gaussians_rest.ply", gs.means_rest, gs.quats_rest, gs.scales, gs.opacities,
                            gs.colors)
        np.savez_compressed(d / "skin.npz", indices=gs.skin_indices.astype(np.int32),
                            weights=gs.skin_weights.astype(np.float32))
        np.savez_compressed(d / "body.npz", vertices_rest=body.vertices_rest.astype(np.float32),
                            faces=body.faces.astype(np.int32), skin_indices=body.skin_indices.astype(np.int32),
                            skin_weights=body.skin_weights.astype(np.float32),
                            vertices_world=body.vertices_world.astype(np.float32))
        _write_json(d / "body.json", {"model": body.params.get("model", "anny"), "params": body.params,
                                      "height_m": body.height_m,
                                      "reprojection_error_px": body.reprojection_error_px})
        _write_json(d / "rig.json", _rig_json(body))
        mask = cv2.resize(person.mask.astype(np.uint8) * 255, (photo.full_width, photo.full_height),
                          interpolation=cv2.INTER_LINEAR)
        Image.fromarray(np.where(mask >= 128, 255, 0).astype(np.uint8)).save(d / "mask.png", optimize=True)
        files = {"gaussians": f"{rel}/gaussians.ply", "gaussians_rest": f"{rel}/gaussians_rest.ply",
                 "mask": f"{rel}/mask.png", "body": f"{rel}/body.npz", "body_params": f"{rel}/body.json",
                 "rig": f"{rel}/rig.json", "skin": f"{rel}/skin.npz"}
        persons.append({"id": int(person.id), "bbox": [float(v) * inv for v in person.bbox],
                        "score": float(person.score), "truncated": bool(person.truncated),
                        "root_translation": body.root_translation, "height_m": body.height_m,
                        "reprojection_error_px": body.reprojection_error_px,
                        "num_gaussians": int(len(gs.means)), "files": files})
    manifest = {
        "format": FORMAT, "version": VERSION,
        "generator": f"crowdgaussian {__version__}",
        "coordinate_system": "world: meters, Z up, ground plane z = 0 (same axes as Blender); "
                             "camera: OpenCV (x right, y down, z forward)",
        "image": {"file": image_name, "width": photo.full_width, "height": photo.full_height},
        "camera": {"fx": cam.fx, "fy": cam.fy, "cx": cam.cx, "cy": cam.cy, "width": cam.width,
                   "height": cam.height, "world_to_camera": cam.world_to_camera},
        "persons": persons, "previews": preview_files,
    }
    _write_json(root / "manifest.json", manifest)


def validate_bundle(path: str | Path) -> dict:
    """Check a bundle's manifest (format, version, fields, every file inside and present)."""
    root = Path(path).resolve()
    mf = root / "manifest.json"
    if not mf.is_file():
        raise CrowdGaussianError(f"{root}: no manifest.json (not a CrowdGaussian bundle)")
    try:
        manifest = json.loads(mf.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CrowdGaussianError(f"{mf}: invalid JSON ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise CrowdGaussianError(f"{mf}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    if manifest.get("version") != VERSION:
        raise CrowdGaussianError(f"{mf}: unsupported version {manifest.get('version')!r} (this reader: {VERSION})")

    def inside(rel: object) -> Path:
        if not isinstance(rel, str) or not rel:
            raise CrowdGaussianError(f"{mf}: bad file entry {rel!r}")
        target = (root / rel).resolve()
        if root not in target.parents:
            raise CrowdGaussianError(f"{mf}: path {rel!r} points outside the bundle")
        if not target.is_file():
            raise CrowdGaussianError(f"{mf}: missing file {rel!r}")
        return target

    inside(manifest["image"]["file"])
    cam = manifest["camera"]
    for key in ("fx", "fy", "cx", "cy"):
        if not isinstance(cam.get(key), (int, float)):
            raise CrowdGaussianError(f"{mf}: camera.{key} missing")
    if np.asarray(cam["world_to_camera"], dtype=float).shape != (4, 4):
        raise CrowdGaussianError(f"{mf}: camera.world_to_camera must be 4x4")
    for person in manifest["persons"]:
        for key in ("id", "bbox", "score", "root_translation", "files"):
            if key not in person:
                raise CrowdGaussianError(f"{mf}: person without {key!r}")
        for key in PERSON_FILES:
            inside(person["files"].get(key))
    for rel in manifest.get("previews", {}).values():
        inside(rel)
    return manifest
