"""Stage what a bare GPU machine (Python 3.12, torch, nvcc; no internet) lacks, for tools/device_check.sh.

Writes one carry folder, .device/gpu (.gitignore lists .device/), under the 64 MiB a device
call may carry, so that the whole check is one call:
  site.tar.xz    the Python 3.12 wheels our backend needs beyond that machine's packages,
                 unpacked and pruned: anny without the data our model never reads (SOMA,
                 other rigs), ai-edge-litert without its command-line tools, gsplat
                 (it compiles its CUDA kernels there on first use), plyfile, roma, trimesh,
                 backports.strenum and ultralytics (files only: the tests' photos). anny's
                 warp-lang dependency (150 MB) stays behind: our body model never calls it.
  models.tar.xz  our mediapipe model files.
Run it here after `python3 build.py demo`; then one device call:
  carry [".device/gpu"], command `bash tools/device_check.sh`.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".device" / "gpu"
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
WHEELS = ["anny==0.6.2", "gsplat==1.5.3", "ai-edge-litert==2.3.0", "backports.strenum==1.2.8",
          "plyfile==1.1.3", "roma==1.8.0", "trimesh==5.2.0", "ultralytics==8.4.190"]
PRUNE = ["anny/data/soma", "anny/data/cached/soma.pth", "anny/examples",
         "ai_edge_litert/tools"]
KEEP_RIG = {"rig.default.json", "weights.default.json"}  # the only anny rig our model loads
LIMIT = 60 * 2**20  # bytes (the device call's limit is 64 MiB with the repository)


def download(spec: str, dest: Path) -> Path:
    """One wheel for CPython 3.12 on x86-64 Linux, without its dependencies."""
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest), spec],
                   check=True)
    name = spec.split("==")[0].replace("-", "_").replace(".", "_").lower()
    return next(w for w in dest.glob("*.whl") if w.name.lower().replace(".", "_").startswith(name))


def main() -> None:
    models = ROOT / ".venv" / "share" / "crowdgaussian" / "models"
    if not models.is_dir():
        sys.exit("run `python3 build.py demo` first (it installs the model files)")
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheels, site = Path(tmp) / "wheels", Path(tmp) / "site"
        for spec in WHEELS:
            with zipfile.ZipFile(download(spec, wheels)) as zf:
                zf.extractall(site)
        for rel in PRUNE:
            path = site / rel
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        for path in (site / "anny" / "data" / "mpfb2" / "rigs").rglob("*"):
            if path.is_file() and path.name not in KEEP_RIG:
                path.unlink()
        with tarfile.open(OUT / "site.tar.xz", "w:xz") as tar:
            tar.add(site, arcname=".")
    with tarfile.open(OUT / "models.tar.xz", "w:xz") as tar:
        tar.add(models, arcname="models")
    size = sum(f.stat().st_size for f in OUT.iterdir())
    print(f".device/gpu: {size / 2**20:.1f} MiB")
    if size > LIMIT:
        sys.exit(f".device/gpu is over {LIMIT / 2**20:.0f} MiB: a device call cannot carry it")


if __name__ == "__main__":
    main()
