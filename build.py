#!/usr/bin/env python3
"""CrowdGaussian project entry point (standard library only).

    python3 build.py demo        create .venv, install the backend, reconstruct bus.jpg into out/demo/
    python3 build.py test        same environment + test extras, run the whole test suite
    python3 build.py extension   write dist/crowdgaussian-<version>.zip for Blender's Install from Disk
    python3 build.py bench       run the benchmarks (--quick for the short quality run)

Options for demo/test/bench: --cuda installs the CUDA path (gsplat) even when no NVIDIA GPU
is detected; --cpu skips it even when one is.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
REQ = ROOT / "requirements"
ULTRALYTICS = "ultralytics==8.4.190"  # ships assets/bus.jpg and zidane.jpg (files only, never imported)
SKIMAGE = "scikit-image==0.26.0"  # ships real photos in skimage/data (files only, never imported)
INSIGHTFACE = "insightface==2.1"  # ships a group of six behind a table, data/images/t1.jpg (files only)
CACHE = ROOT / ".cache"


def run(cmd: list[str], **kw) -> None:
    """Run a command, echoing it; stop the build with its exit code on failure."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    proc = subprocess.run([str(c) for c in cmd], **kw)
    if proc.returncode != 0:
        sys.exit(proc.returncode)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def has_nvidia_gpu() -> bool:
    """True when an NVIDIA driver answers (nvidia-smi lists a GPU)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def ensure_env(test: bool, cuda: bool) -> Path:
    """Create .venv and install pinned requirements (+ test extras, + CUDA path); idempotent."""
    if sys.version_info[:2] != (3, 11):
        print(f"warning: Python {sys.version.split()[0]}; the pinned set (bpy==5.0.1) needs Python 3.11",
              file=sys.stderr)
    files = [REQ / "backend.txt", ROOT / "backend" / "pyproject.toml"] + ([REQ / "test.txt"] if test else [])
    pinned = repr((test, cuda, ULTRALYTICS, SKIMAGE, INSIGHTFACE)).encode()
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files) + pinned).hexdigest()
    stamp = VENV / ".crowdgaussian-installed"
    py = venv_python()
    if stamp.is_file() and stamp.read_text() == digest and py.exists():
        return py
    if not py.exists():
        run([sys.executable, "-m", "venv", VENV])
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check"]
    run(pip + ["-r", REQ / "backend.txt"])
    run(pip + ["--no-deps", "-e", ROOT / "backend"])
    if test:
        run(pip + ["-r", REQ / "test.txt"])
        run(pip + ["--no-deps", ULTRALYTICS, SKIMAGE, INSIGHTFACE])
    if cuda:
        # gsplat compiles its CUDA kernels on first use (needs the CUDA toolkit); torch==2.13.0
        # from PyPI on Linux is already a CUDA build on a GPU machine.
        run(pip + ["gsplat==1.5.3"])
    check = subprocess.run([py, "-m", "crowdgaussian", "doctor", "--progress", "json"], capture_output=True, text=True)
    if '"default_models_missing": []' not in check.stdout:
        run([py, "-m", "crowdgaussian", "install-models"])
    # compile the CPU rasterizer's numba kernels once now rather than in the first reconstruction
    run([py, "-c", "from crowdgaussian.render import warmup; warmup()"])
    if cuda:  # and gsplat's CUDA kernels (77-89 s on 16 cores), which it builds on first import
        print("building gsplat's CUDA kernels once (minutes; needs the CUDA toolkit's nvcc)", flush=True)
        built = subprocess.run([py, "-c", "import sys; from crowdgaussian.render import gsplat_available; "
                                "sys.exit(0 if gsplat_available() else 1)"]).returncode == 0
        if not built:
            print("warning: gsplat's CUDA kernels could not be built; reconstructions will render on the CPU",
                  file=sys.stderr)
    stamp.write_text(digest)
    return py


def use_cuda(args: argparse.Namespace) -> bool:
    return bool(args.cuda or (not args.cpu and has_nvidia_gpu()))


def demo_photo() -> Path:
    """bus.jpg from the ultralytics wheel (pip download, files only), cached in .cache/."""
    target = CACHE / "bus.jpg"
    if target.is_file():
        return target
    CACHE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        run([venv_python(), "-m", "pip", "download", "--no-deps", "-q", ULTRALYTICS, "-d", tmp])
        wheel = next(Path(tmp).glob("ultralytics-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            target.write_bytes(zf.read("ultralytics/assets/bus.jpg"))
    return target


def cmd_demo(args: argparse.Namespace) -> None:
    cuda = use_cuda(args)
    py = ensure_env(test=False, cuda=cuda)
    out = ROOT / "out" / "demo"
    run([py, "-m", "crowdgaussian", "reconstruct", demo_photo(), "-o", out, "--overwrite",
         "--device", "auto" if cuda else "cpu"])  # auto: the GPU where torch and gsplat can use one
    print(f"\nDemo bundle: {out}\nPreviews:    {out / 'previews'} (detections.png, overlay.png, views.png)")


def cmd_test(args: argparse.Namespace) -> None:
    py = ensure_env(test=True, cuda=use_cuda(args))
    run([py, "-m", "pytest", "-q", "-rs", *args.pytest_args], cwd=ROOT)


def cmd_extension(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    from extension_zip import build_extension_zip

    print(f"extension: {build_extension_zip(ROOT, ROOT / 'dist')}")


def cmd_bench(args: argparse.Namespace) -> None:
    py = ensure_env(test=True, cuda=use_cuda(args))
    quick = ["--quick"] if args.quick else []
    for script in ("rasterizer.py", "pipeline.py", "blender_import.py", "quality/run.py"):
        run([py, ROOT / "benchmarks" / script, *quick], cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("demo", "reconstruct the demo photo"), ("test", "run the test suite"),
                           ("bench", "run the benchmarks")):
        p = sub.add_parser(name, help=helptext)
        gpu = p.add_mutually_exclusive_group()
        gpu.add_argument("--cuda", action="store_true", help="install and use the CUDA path (gsplat)")
        gpu.add_argument("--cpu", action="store_true", help="never install the CUDA path")
        if name == "test":
            p.add_argument("pytest_args", nargs="*", help="extra arguments for pytest")
        if name == "bench":
            p.add_argument("--quick", action="store_true", help="short runs (quality benchmark ≤ 10 min)")
    sub.add_parser("extension", help="build dist/crowdgaussian-<version>.zip")
    args = parser.parse_args()
    {"demo": cmd_demo, "test": cmd_test, "extension": cmd_extension, "bench": cmd_bench}[args.command](args)


if __name__ == "__main__":
    main()
