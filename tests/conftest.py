"""Shared fixtures: the real photos shipped in the ultralytics wheel, and one real bundle per session."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support import asset, run_cli

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any test module imports torch (see crowdgaussian/__init__)


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
