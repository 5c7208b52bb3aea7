"""Shared fixtures: real photos from installed wheels, and one real bundle per photo per session."""
from __future__ import annotations

from pathlib import Path

import crowdgaussian  # noqa: F401  (first: it sets OMP_WAIT_POLICY before any test module loads torch)
import pytest

from support import asset, reconstruct_bundle


@pytest.fixture(scope="session")
def bus_photo() -> Path:
    return asset("bus.jpg")


@pytest.fixture(scope="session")
def zidane_photo() -> Path:
    return asset("zidane.jpg")


@pytest.fixture(scope="session")
def bus_bundle(tmp_path_factory, bus_photo) -> Path:
    """bus.jpg reconstructed once per test session."""
    return reconstruct_bundle(tmp_path_factory, bus_photo)


@pytest.fixture(scope="session")
def zidane_bundle(tmp_path_factory, zidane_photo) -> Path:
    """zidane.jpg reconstructed once per test session."""
    return reconstruct_bundle(tmp_path_factory, zidane_photo)


@pytest.fixture(scope="session")
def table_bundle(tmp_path_factory) -> Path:
    """insightface's t1.jpg (six people round a card table) reconstructed once per test session."""
    return reconstruct_bundle(tmp_path_factory, asset("t1.jpg", "insightface", "data/images"))
