"""Stage what a bare GPU machine (Python 3.12, torch, nvcc; no internet) lacks, for tools/device_check.sh.

Writes two carry folders, each under the 64 MiB a device call may carry (.gitignore lists .device/):
  .device/a  anny's wheel (the largest);
  .device/b  the other Python 3.12 wheels (gsplat compiles its CUDA kernels there on first
             use), ultralytics (files only: the tests' photos) and our mediapipe model files.
Run it here with the project's .venv installed (`python3 build.py test`), then on the device:
  call 1: carry [".device/a"], command `bash tools/device_check.sh install`
  call 2 (at once, while the machine is warm): carry [".device/b"], `bash tools/device_check.sh`.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".device"
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
WHEELS = {
    "a": ["anny==0.6.2"],
    "b": ["gsplat==1.5.3", "jaxtyping==0.3.11", "ai-edge-litert==2.3.0", "backports.strenum==1.2.8",
          "plyfile==1.1.3", "roma==1.8.0", "trimesh==5.2.0", "ultralytics==8.4.190"],
}
LIMIT = 60 * 2**20  # bytes per carry folder (the device call's limit is 64 MiB with the repository)


def download(spec: str, dest: Path) -> None:
    """One wheel for CPython 3.12 on x86-64 Linux, without its dependencies."""
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest), spec],
                   check=True)


def main() -> None:
    venv = ROOT / ".venv"
    models = venv / "share" / "crowdgaussian" / "models"
    if not models.is_dir():
        sys.exit("run `python3 build.py demo` first (it installs the model files)")
    shutil.rmtree(OUT, ignore_errors=True)
    for part, specs in WHEELS.items():
        for spec in specs:
            download(spec, OUT / part)
    shutil.copytree(models, OUT / "b" / "models")
    for part in WHEELS:
        size = sum(f.stat().st_size for f in (OUT / part).rglob("*") if f.is_file())
        print(f".device/{part}: {size / 2**20:.1f} MiB")
        if size > LIMIT:
            sys.exit(f".device/{part} is over {LIMIT / 2**20:.0f} MiB: a device call cannot carry it")


if __name__ == "__main__":
    main()
