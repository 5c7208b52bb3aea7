"""Shared fixtures for the Blender tests: the extension zip, a hand-made bundle and a runner
that executes one scenario of blender_run.py in a fresh process with temporary user folders."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("bpy")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tools"))

from bundle_fixture import make_bundle  # noqa: E402
from extension_zip import build_extension_zip  # noqa: E402


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension zip, built the way `build.py extension` builds it."""
    return build_extension_zip(REPO, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def small_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hand-made people with 400 Gaussians each (320x240 photo)."""
    return make_bundle(tmp_path_factory.mktemp("bundles") / "small", n_persons=2, n_splats=400)


def blender_env(root: Path) -> dict[str, str]:
    """Environment with temporary Blender user folders (config, scripts, extensions)."""
    env = dict(os.environ)
    for var, sub in (("BLENDER_USER_CONFIG", "config"), ("BLENDER_USER_SCRIPTS", "scripts"),
                     ("BLENDER_USER_EXTENSIONS", "extensions")):
        (root / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(root / sub)
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


@pytest.fixture
def run_blender(tmp_path: Path, extension_zip: Path) -> Callable[..., dict]:
    """run_blender(scenario, **args) -> the scenario's JSON result (fails with Blender's output)."""

    def run(scenario: str, timeout: float = 300, env_extra: dict[str, str] | None = None, **args) -> dict:
        out = tmp_path / f"{scenario}.json"
        env = blender_env(tmp_path / "user") | (env_extra or {})
        proc = subprocess.run([sys.executable, str(HERE / "blender_run.py"), scenario,
                               json.dumps({"zip": str(extension_zip), **args}), str(out)],
                              env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not out.is_file():
            pytest.fail(f"Blender scenario {scenario} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text())

    return run
