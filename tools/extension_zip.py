"""Build the installable Blender extension zip (standard library only).

Layout of dist/crowdgaussian-<version>.zip (what Blender's Install from Disk expects):
blender_manifest.toml and the add-on modules at the zip root, plus backend/ holding the
backend's source (pyproject.toml, requirements.txt with the pinned versions, crowdgaussian/**.py)
so the add-on's "Create backend environment" can pip-install it without the repository.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

ADDON_DIR = "crowdgaussian_addon"


def manifest_version(manifest: Path) -> str:
    """The `version = "x.y.z"` of blender_manifest.toml."""
    match = re.search(r'^version\s*=\s*"([^"]+)"', manifest.read_text(encoding="utf-8"), re.MULTILINE)
    if match is None:
        raise ValueError(f"{manifest}: no version")
    return match.group(1)


def _sources(folder: Path) -> list[Path]:
    """Python files below `folder`, sorted, without caches."""
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def build_extension_zip(repo_root: Path, out_dir: Path) -> Path:
    """Write out_dir/crowdgaussian-<version>.zip from the repository; returns the zip path."""
    repo_root, out_dir = Path(repo_root), Path(out_dir)
    manifest = repo_root / "blender_manifest.toml"
    addon = repo_root / ADDON_DIR
    backend = repo_root / "backend"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"crowdgaussian-{manifest_version(manifest)}.zip"
    tmp = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(manifest, "blender_manifest.toml")
        for path in _sources(addon):
            zf.write(path, path.relative_to(addon).as_posix())
        zf.write(backend / "pyproject.toml", "backend/pyproject.toml")
        pins = repo_root / "requirements" / "backend.txt"
        if pins.is_file():
            zf.write(pins, "backend/requirements.txt")
        for path in _sources(backend / "crowdgaussian"):
            zf.write(path, "backend/" + path.relative_to(backend).as_posix())
    tmp.replace(target)
    return target


if __name__ == "__main__":
    import sys

    root = Path(__file__).resolve().parents[1]
    sys.stdout.write(f"{build_extension_zip(root, root / 'dist')}\n")
