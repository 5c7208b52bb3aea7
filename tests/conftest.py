"""Shared fixtures: the real photos shipped in the ultralytics wheel, and one real bundle per session."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any test module imports torch (see crowdgaussian/__init__)


def asset(name: str) -> Path:
    """A photo from the installed ultralytics package (files only; the package is never imported)."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or spec.origin is None:
        pytest.skip("ultralytics (for its sample photos) is not installed: run `python3 build.py test`")
    path = Path(spec.origin).parent / "assets" / name
    assert path.is_file(), path
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """Run `python -m crowdgaussian ARGS`, capturing stdout (protocol) and stderr (log)."""
    return subprocess.run([sys.executable, "-m", "crowdgaussian", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="session")
def bus_photo() -> Path:
    return asset("bus.jpg")


@pytest.fixture(scope="session")
def zidane_photo() -> Path:
    return asset("zidane.jpg")


@pytest.fixture(scope="session")
def bus_bundle(tmp_path_factory, bus_photo) -> Path:
    """bus.jpg reconstructed once per test session through the real CLI (JSON progress)."""
    out = tmp_path_factory.mktemp("bus") / "bundle"
    proc = run_cli("reconstruct", bus_photo, "-o", out, "--progress", "json", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[-1] == {"result": str(out)}
    return out
