"""Helpers shared by the backend tests (a plain module: conftest names clash across folders)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def asset(name: str, package: str = "ultralytics", folder: str = "assets") -> Path:
    """A photo from an installed package's data folder (ultralytics' assets, scikit-image's data):
    files only, the package is never imported."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        pytest.skip(f"{package} (for its sample photos) is not installed: run `python3 build.py test`")
    path = Path(spec.origin).parent / folder / name
    assert path.is_file(), path
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """Run `python -m crowdgaussian ARGS`, capturing stdout (protocol) and stderr (log)."""
    return subprocess.run([sys.executable, "-m", "crowdgaussian", *map(str, args)], capture_output=True, text=True)


def reconstruct_bundle(tmp_path_factory: pytest.TempPathFactory, photo: Path) -> Path:
    """`photo` through the real CLI with JSON progress; checks the protocol's final line."""
    out = tmp_path_factory.mktemp(photo.stem) / "bundle"
    proc = run_cli("reconstruct", photo, "-o", out, "--progress", "json",
                   "--device", os.environ.get("CROWDGAUSSIAN_TEST_DEVICE", "cpu"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[-1] == {"result": str(out)}
    fractions = [line["progress"] for line in lines[:-1]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    return out
