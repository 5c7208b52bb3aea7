"""Read and validate a CrowdGaussian scene bundle with numpy only (no bpy, no backend).

The bundle format is documented in docs/ARCHITECTURE.md ("Scene bundle"); this reader
checks the manifest (format, version, required fields, every file inside the bundle and
present) and decodes the per-person files into plain numpy arrays for the importer.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "crowdgaussian.bundle"
VERSION = 1
SH_C0 = 0.28209479177387814
REQUIRED_PERSON_FILES = ("gaussians_rest", "body", "rig", "skin")
_PLY_TYPES = {"char": "i1", "uchar": "u1", "short": "i2", "ushort": "u2", "int": "i4", "uint": "u4",
              "float": "f4", "double": "f8", "int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2",
              "int32": "i4", "uint32": "u4", "float32": "f4", "float64": "f8"}


class BundleError(Exception):
    """A bundle that cannot be imported; the message is one readable line."""


@dataclass
class SplatData:
    """Gaussians in linear form: means [N,3], quats [N,4] (w x y z, unit), scales [N,3] (m),
    opacities [N] (0..1), colors [N,3] (sRGB 0..1, the SH DC term), sh_rest [N,8,3] (the SH
    bands 1-2, the photo tint, in the splat's own frame; None when the bundle has none)."""

    means: np.ndarray
    quats: np.ndarray
    scales: np.ndarray
    opacities: np.ndarray
    colors: np.ndarray
    sh_rest: np.ndarray | None = None


@dataclass
class PersonData:
    """Everything the importer needs for one person (rest-frame splats, skin, body, rig)."""

    id: int
    root_translation: np.ndarray
    splats: SplatData
    splat_skin_indices: np.ndarray  # [N, K] int
    splat_skin_weights: np.ndarray  # [N, K] float
    body: dict[str, np.ndarray]
    rig: dict


def _resolve_inside(root: Path, rel: object, what: str) -> Path:
    """Bundle-relative path -> absolute path, refusing anything outside the bundle or missing."""
    if not isinstance(rel, str) or not rel:
        raise BundleError(f"manifest.json: {what} has no file name")
    target = (root / rel).resolve()
    if root != target and root not in target.parents:
        raise BundleError(f"manifest.json: {what} path {rel!r} points outside the bundle")
    if not target.is_file():
        raise BundleError(f"manifest.json: {what} file {rel!r} is missing")
    return target


def load_manifest(directory: str | Path) -> tuple[Path, dict]:
    """Validate `directory`/manifest.json; returns (resolved bundle root, manifest dict)."""
    root = Path(directory).resolve()
    path = root / "manifest.json"
    if not path.is_file():
        raise BundleError(f"{root} is not a CrowdGaussian bundle (no manifest.json)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"manifest.json is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"manifest.json: format must be {FORMAT!r}, got {manifest.get('format')!r}"
                          if isinstance(manifest, dict) else "manifest.json: not a JSON object")
    if manifest.get("version") != VERSION:
        raise BundleError(f"manifest.json: unsupported bundle version {manifest.get('version')!r} "
                          f"(this add-on reads version {VERSION})")
    try:
        image, camera, persons = manifest["image"], manifest["camera"], manifest["persons"]
        _resolve_inside(root, image["file"], "image")
        int(image["width"]), int(image["height"])
        for key in ("fx", "fy", "cx", "cy"):
            float(camera[key])
        if np.asarray(camera["world_to_camera"], dtype=np.float64).shape != (4, 4):
            raise BundleError("manifest.json: camera.world_to_camera must be a 4x4 matrix")
        for person in persons:
            for key in REQUIRED_PERSON_FILES:
                _resolve_inside(root, person["files"].get(key), f"person {person.get('id')} {key}")
            for key, rel in person["files"].items():
                if key not in REQUIRED_PERSON_FILES and rel is not None:
                    _resolve_inside(root, rel, f"person {person.get('id')} {key}")
            int(person["id"])
            if np.asarray(person["root_translation"], dtype=np.float64).shape != (3,):
                raise BundleError(f"manifest.json: person {person['id']} root_translation must have 3 numbers")
        for name, rel in manifest.get("previews", {}).items():
            _resolve_inside(root, rel, f"preview {name}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BundleError(f"manifest.json: missing or malformed field ({type(exc).__name__}: {exc})") from None
    return root, manifest


def read_ply_vertices(path: Path) -> np.ndarray:
    """The vertex element of a binary little-endian PLY as a numpy structured array."""
    with open(path, "rb") as fh:
        if fh.readline().strip() != b"ply":
            raise BundleError(f"{path.name}: not a PLY file")
        fields: list[tuple[str, str]] = []
        count, in_vertex, fmt = 0, False, None
        while True:
            line = fh.readline()
            if not line:
                raise BundleError(f"{path.name}: truncated PLY header")
            words = line.decode("ascii", "replace").split()
            if not words or words[0] in ("comment", "obj_info"):
                continue
            if words[0] == "format":
                fmt = words[1]
            elif words[0] == "element":
                in_vertex = words[1] == "vertex"
                if in_vertex:
                    count = int(words[2])
                elif not fields:
                    raise BundleError(f"{path.name}: the vertex element must come first")
            elif words[0] == "property" and in_vertex:
                if words[1] == "list" or words[1] not in _PLY_TYPES:
                    raise BundleError(f"{path.name}: unsupported vertex property {' '.join(words[1:])}")
                fields.append((words[2], "<" + _PLY_TYPES[words[1]]))
            elif words[0] == "end_header":
                break
        if fmt != "binary_little_endian":
            raise BundleError(f"{path.name}: only binary little-endian PLY is supported (got {fmt})")
        data = np.fromfile(fh, dtype=np.dtype(fields), count=count)
    if len(data) != count:
        raise BundleError(f"{path.name}: file ends after {len(data)} of {count} vertices")
    return data


def read_splats(path: Path) -> SplatData:
    """A 3DGS PLY -> linear Gaussian parameters (exp scales, sigmoid opacity, SH DC -> RGB)."""
    v = read_ply_vertices(path)
    try:
        means = np.stack([v["x"], v["y"], v["z"]], 1).astype(np.float64)
        dc = np.stack([v["f_dc_0"], v["f_dc_1"], v["f_dc_2"]], 1).astype(np.float64)
        logit = v["opacity"].astype(np.float64)
        scales = np.exp(np.stack([v[f"scale_{i}"] for i in range(3)], 1).astype(np.float64))
        quats = np.stack([v[f"rot_{i}"] for i in range(4)], 1).astype(np.float64)
    except ValueError as exc:
        raise BundleError(f"{path.name}: not a 3DGS PLY ({exc})") from None
    quats /= np.maximum(np.linalg.norm(quats, axis=1, keepdims=True), 1e-12)
    return SplatData(means=means, quats=quats, scales=scales, opacities=1.0 / (1.0 + np.exp(-logit)),
                     colors=np.clip(dc * SH_C0 + 0.5, 0.0, 1.0))


SH_BANDS = 8  # SH coefficients of degrees 1 and 2 (the photo tint's degree); higher bands are not drawn
# Real SH basis of degrees 1-2 in gsplat's order and signs, as (factor, monomial) over the unit
# direction d = (x, y, z) from the camera to the splat; Y6 adds a constant.
SH_BASIS = ((-0.48860251190292, "y"), (0.48860251190292, "z"), (-0.48860251190292, "x"),
            (1.092548430592079, "xy"), (-1.092548430592079, "yz"), (0.9461746957575601, "zz"),
            (-1.092548430592079, "xz"), (0.5462742152960395, "xx-yy"))
SH_Y6_CONSTANT = -0.3153915652525201


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """[N,4] unit quaternions (w x y z) -> [N,3,3] rotation matrices (columns: the splat's axes)."""
    w, x, y, z = np.asarray(q, dtype=np.float64).T
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=1).reshape(-1, 3, 3)


def sh_basis(dirs: np.ndarray) -> np.ndarray:
    """[..., SH_BANDS] values of the SH basis functions of degrees 1-2 at unit directions [..., 3]."""
    x, y, z = dirs[..., 0], dirs[..., 1], dirs[..., 2]
    monomials = {"x": x, "y": y, "z": z, "xy": x * y, "yz": y * z, "xz": x * z, "zz": z * z, "xx-yy": x * x - y * y}
    return np.stack([f * monomials[m] + (SH_Y6_CONSTANT if m == "zz" else 0.0) for f, m in SH_BASIS], axis=-1)


def _fibonacci_sphere(n: int) -> np.ndarray:
    """[n, 3] unit directions spread evenly over the sphere."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = np.pi * (1 + 5 ** 0.5) * k
    return np.stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z], axis=1)


def sh_to_splat_frame(bands: np.ndarray, quats: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """SH bands 1-2 [N, SH_BANDS, 3] of world-direction functions f -> those of g(l) = f(R l), R
    each splat's rotation (columns: its axes). Read at the view direction in the splat's frame
    (R^T d), g gives f(d) at the photo pose, and turns with the splat when a rig poses it.

    Rotations keep each degree's functions among themselves, so sampling the rotated function
    on 32 directions and solving for the coefficients is exact."""
    samples = _fibonacci_sphere(32)
    solve = np.linalg.pinv(sh_basis(samples))  # [SH_BANDS, 32]
    out = np.empty_like(bands, dtype=np.float64)
    for start in range(0, len(bands), chunk):
        rot = quat_to_matrix(quats[start:start + chunk])
        world = np.einsum("nij,kj->nki", rot, samples)  # R s: where local sample s points in the world
        values = np.einsum("nkb,nbc->nkc", sh_basis(world), bands[start:start + chunk])
        out[start:start + chunk] = np.einsum("bk,nkc->nbc", solve, values)
    return out


def read_sh_bands(path: Path, count: int) -> np.ndarray | None:
    """[count, SH_BANDS, 3] SH coefficients of degrees 1-2 of a 3DGS PLY (f_rest_*, stored channel
    by channel), turned into each splat's own frame (`sh_to_splat_frame`, with the file's
    rotations), or None if it has none or they are all zero."""
    v = read_ply_vertices(path)
    names = sorted((n for n in v.dtype.names if n.startswith("f_rest_")), key=lambda n: int(n.rsplit("_", 1)[1]))
    if not names:
        return None
    if len(v) != count:
        raise BundleError(f"{path.name}: {len(v)} Gaussians, its rest-pose file has {count}")
    per_channel = len(names) // 3
    rest = np.stack([v[n] for n in names], 1).astype(np.float64).reshape(count, 3, per_channel).transpose(0, 2, 1)
    bands = rest[:, :SH_BANDS]
    if bands.shape[1] < SH_BANDS:
        bands = np.concatenate([bands, np.zeros((count, SH_BANDS - bands.shape[1], 3))], axis=1)
    if not np.any(bands):
        return None
    try:
        quats = np.stack([v[f"rot_{i}"] for i in range(4)], 1).astype(np.float64)
    except ValueError as exc:
        raise BundleError(f"{path.name}: not a 3DGS PLY ({exc})") from None
    quats /= np.maximum(np.linalg.norm(quats, axis=1, keepdims=True), 1e-12)
    return sh_to_splat_frame(bands, quats)


def _npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Load the named arrays of an .npz (no pickles), with a clear error for a missing key."""
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in keys if k not in data.files]
        if missing:
            raise BundleError(f"{path.name}: missing arrays {missing}")
        return {k: data[k] for k in data.files}


def load_person(root: Path, entry: dict) -> PersonData:
    """Read one person's rest-frame splats, per-splat skin, body mesh and rig (BundleError if unreadable)."""
    try:
        return _load_person(root, entry)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:  # JSONDecodeError is a ValueError
        raise BundleError(f"person {entry.get('id')}: unreadable file ({type(exc).__name__}: {exc})") from None


def _load_person(root: Path, entry: dict) -> PersonData:
    files = entry["files"]
    splats = read_splats(_resolve_inside(root, files["gaussians_rest"], "gaussians_rest"))
    # the photo tint lives in the photo-pose file (world view directions, turned into each splat's
    # frame there); the splat order is shared
    splats.sh_rest = read_sh_bands(_resolve_inside(root, files["gaussians"], "gaussians"), len(splats.means))
    skin = _npz(_resolve_inside(root, files["skin"], "skin"), ("indices", "weights"))
    body = _npz(_resolve_inside(root, files["body"], "body"),
                ("vertices_rest", "faces", "skin_indices", "skin_weights"))
    rig = json.loads(_resolve_inside(root, files["rig"], "rig").read_text(encoding="utf-8"))
    n = len(splats.means)
    if skin["indices"].shape[0] != n or skin["weights"].shape != skin["indices"].shape:
        raise BundleError(f"person {entry['id']}: skin.npz has {skin['indices'].shape[0]} rows for {n} Gaussians")
    bones = rig.get("bones") or []
    if not bones:
        raise BundleError(f"person {entry['id']}: rig.json has no bones")
    for idx, wts in ((skin["indices"], skin["weights"]), (body["skin_indices"], body["skin_weights"])):
        if np.any(((idx < 0) | (idx >= len(bones))) & (wts > 0)):
            raise BundleError(f"person {entry['id']}: skin refers to a bone index outside the rig")
    return PersonData(id=int(entry["id"]), root_translation=np.asarray(entry["root_translation"], dtype=np.float64),
                      splats=splats, splat_skin_indices=skin["indices"].astype(np.int64),
                      splat_skin_weights=skin["weights"].astype(np.float64), body=body, rig=rig)
