"""Shared fixtures: real photos from installed wheels, and one real bundle per photo per session."""
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


def _reconstruct(tmp_path_factory: pytest.TempPathFactory, photo: Path) -> Path:
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


@pytest.fixture(scope="session")
def bus_bundle(tmp_path_factory, bus_photo) -> Path:
    """bus.jpg reconstructed once per test session."""
    return _reconstruct(tmp_path_factory, bus_photo)


@pytest.fixture(scope="session")
def zidane_bundle(tmp_path_factory, zidane_photo) -> Path:
    """zidane.jpg reconstructed once per test session."""
    return _reconstruct(tmp_path_factory, zidane_photo)


@pytest.fixture(scope="session")
def table_bundle(tmp_path_factory) -> Path:
    """insightface's t1.jpg (six people round a card table) reconstructed once per test session."""
    return _reconstruct(tmp_path_factory, asset("t1.jpg", "insightface", "data/images"))
