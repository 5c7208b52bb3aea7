"""The backend's Python environment: where its CLI is, how to create it, how to check it.

Creating it (Preferences › Create backend environment) runs, one after another, as
background jobs logged to <extension user folder>/logs/create-env.log:
python -m venv; pip install torch==2.13.0 (the CPU build unless an NVIDIA GPU answers
nvidia-smi); pip install -r the bundled pins; pip install the bundled backend source
(backend/ inside this extension); `crowdgaussian install-models`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import bpy

ADDON_DIR = Path(__file__).resolve().parent
BUNDLED_BACKEND = ADDON_DIR / "backend"
TORCH_PIN = "torch==2.13.0"
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def preferences() -> bpy.types.AddonPreferences:
    """This add-on's preferences."""
    return bpy.context.preferences.addons[__package__].preferences


def user_dir(*parts: str) -> Path:
    """A folder in the extension's user folder (created)."""
    return Path(bpy.utils.extension_path_user(__package__, path=os.path.join(*parts) if parts else "", create=True))


def default_env_dir() -> Path:
    """Where "Create backend environment" puts the venv."""
    return user_dir() / "venv"


def env_bin(env_dir: Path, name: str) -> Path:
    """An executable inside a venv (bin/ or Scripts/ on Windows)."""
    return env_dir / ("Scripts" if os.name == "nt" else "bin") / (name + (".exe" if os.name == "nt" else ""))


def backend_command() -> list[str]:
    """argv prefix that runs the backend CLI: the hidden override, else the environment's CLI."""
    prefs = preferences()
    if prefs.backend_command.strip():
        argv = json.loads(prefs.backend_command)
        if not isinstance(argv, list) or not argv:
            raise ValueError("backend command override must be a JSON list of strings")
        return [str(a) for a in argv]
    env_dir = Path(bpy.path.abspath(prefs.env_path)) if prefs.env_path else default_env_dir()
    cli = env_bin(env_dir, "crowdgaussian")
    if not cli.exists():
        raise FileNotFoundError(f"no backend found in {env_dir}: set the environment in the add-on "
                                "preferences or click Create backend environment")
    return [str(cli)]


def has_nvidia_gpu() -> bool:
    """True when nvidia-smi lists a GPU."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def creation_steps(env_dir: Path, python: str | None = None, nvidia: bool | None = None) -> list[tuple[str, list[str]]]:
    """(label, argv) of every step that builds the backend environment in env_dir."""
    py = str(env_bin(env_dir, "python"))
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check"]
    torch = pip + [TORCH_PIN]
    if sys.platform.startswith("linux") and not (has_nvidia_gpu() if nvidia is None else nvidia):
        torch += ["--extra-index-url", CPU_TORCH_INDEX]  # PyPI's Linux torch is the large CUDA build
    steps = [("Creating virtual environment", [python or sys.executable, "-m", "venv", str(env_dir)]),
             ("Installing PyTorch", torch)]
    pins = BUNDLED_BACKEND / "requirements.txt"
    if pins.is_file():
        steps.append(("Installing pinned dependencies", pip + ["-r", str(pins)]))
        steps.append(("Installing the CrowdGaussian backend", pip + ["--no-deps", str(BUNDLED_BACKEND)]))
    else:
        steps.append(("Installing the CrowdGaussian backend", pip + [str(BUNDLED_BACKEND)]))
    steps.append(("Installing the default models", [str(env_bin(env_dir, "crowdgaussian")), "install-models"]))
    return steps


def summarize_doctor(report: dict) -> list[str]:
    """The doctor's JSON report as short readable lines for the preferences panel."""
    packages = report.get("packages", {})
    cuda = report.get("cuda_available")
    lines = [f"crowdgaussian {report.get('crowdgaussian', '?')}, Python {report.get('python', '?')}",
             "torch " + str(packages.get("torch")) + (f", CUDA: {report.get('cuda_device')}" if cuda else ", CUDA: not available")]
    missing = report.get("default_models_missing") or []
    lines.append("default models: " + ("all installed" if not missing else "missing " + ", ".join(map(str, missing))))
    if cuda:
        lines.append("gsplat kernels: " + ("loaded" if report.get("gsplat_kernels") else "not available (renders on the CPU)"))
    lines.append(f"device 'auto' runs on: {report.get('auto_device', '?')}")
    for name, info in (report.get("optional_weights") or {}).items():
        found = info.get("found") if isinstance(info, dict) else bool(info)
        lines.append(f"optional {name}: {'found' if found else 'not found'}")
    return lines
