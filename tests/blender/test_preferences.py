"""Preferences: Check runs the doctor through the JSON protocol; environment creation steps and
their background runner (progress, failure report, log file)."""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_check_and_environment_steps(run_blender, tmp_path: Path) -> None:
    out = run_blender("preferences", command=[sys.executable, str(HERE / "fake_backend.py"), "--mode", "doctor"])
    assert "no backend found" in out["no_env"]["message"] and "Create backend environment" in out["no_env"]["lines"][0]
    doctor = out["doctor"]
    assert doctor["ok"] and doctor["lines"][:3] == ["crowdgaussian 0.1.0, Python 3.11.9",
                                                    "torch 2.13.0+cpu, CUDA: not available",
                                                    "default models: all installed"]
    assert "optional smplx: not found" in doctor["lines"] and "optional sam: found" in doctor["lines"]
    assert "device 'auto' runs on: cpu" in doctor["lines"]

    env = out["default_env"]
    assert env.startswith(str(tmp_path / "user" / "extensions")) and env.endswith("venv")
    labels = [label for label, _ in out["steps"]]
    argvs = [argv for _, argv in out["steps"]]
    assert labels[0] == "Creating virtual environment" and argvs[0] == ["PY", "-m", "venv", env]
    assert "torch==2.13.0" in argvs[1]
    if sys.platform.startswith("linux"):
        assert argvs[1][-2:] == ["--extra-index-url", "https://download.pytorch.org/whl/cpu"]
    backend = out["bundled_backend"]
    assert any(a[-1] == backend for a in argvs), argvs  # pip install <bundled backend>
    assert Path(backend, "pyproject.toml").is_file() and Path(backend, "crowdgaussian", "cli.py").is_file()
    assert argvs[-1][-1] == "install-models" and argvs[-1][0].endswith("crowdgaussian")

    failing = out["failing"]
    assert not failing["running"] and not failing["ok"]
    assert failing["lines"][0] == "second failed: boom" and failing["lines"][1].startswith("log: ")
    assert "step one" in out["log"] and "boom" in out["log"] and "[exit 3]" in out["log"]
