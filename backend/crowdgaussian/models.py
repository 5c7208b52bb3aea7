"""Where model files live, and the one set-up step that fetches the zero-download defaults.

The default person models are the Apache-2.0 `.tflite` files inside the mediapipe 0.10.21
wheel. `install_mediapipe_models()` takes them from that wheel (via `pip download`, a
set-up step run by build.py and by the Blender add-on's "Create backend environment");
nothing is ever downloaded while reconstructing.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .errors import CrowdGaussianError

MEDIAPIPE_VERSION = "0.10.21"
MEDIAPIPE_FILES = (
    "pose_detection/pose_detection.tflite",
    "pose_landmark/pose_landmark_full.tflite",
    "face_detection/face_detection_full_range_sparse.tflite",
    "face_detection/face_detection_short_range.tflite",
    "selfie_segmentation/selfie_segmentation.tflite",
)


def models_dir() -> Path:
    """Root folder of model files: $CROWDGAUSSIAN_MODELS, else <venv>/share/crowdgaussian/models."""
    env = os.environ.get("CROWDGAUSSIAN_MODELS")
    if env:
        return Path(env)
    return Path(sys.prefix) / "share" / "crowdgaussian" / "models"


def mediapipe_model(name: str) -> Path:
    """Path of one mediapipe tflite file (e.g. "pose_detection"); clear error when missing."""
    rel = next((f for f in MEDIAPIPE_FILES if Path(f).stem == name), None)
    if rel is None:
        raise KeyError(name)
    path = models_dir() / "mediapipe" / rel
    if not path.is_file():
        raise CrowdGaussianError(
            f"model file {path} is missing; run `crowdgaussian install-models` once "
            "(build.py and the Blender add-on's 'Create backend environment' do it for you)")
    return path


def missing_mediapipe_models() -> list[str]:
    """Names of the default model files that are not installed."""
    root = models_dir() / "mediapipe"
    return [f for f in MEDIAPIPE_FILES if not (root / f).is_file()]


def install_mediapipe_models(wheel: Path | None = None) -> Path:
    """Extract the tflite files from the mediapipe wheel into models_dir(); returns that dir.

    `wheel` may be a local mediapipe wheel; otherwise pip downloads it (no install, no deps).
    """
    dest = models_dir() / "mediapipe"
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   f"mediapipe=={MEDIAPIPE_VERSION}", "-d", tmp, "-q"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wheels = list(Path(tmp).glob("mediapipe-*.whl"))
            if proc.returncode != 0 or not wheels:
                raise CrowdGaussianError(
                    f"could not download mediapipe=={MEDIAPIPE_VERSION}: {proc.stderr.strip()[-300:]}")
            wheel = wheels[0]
        with zipfile.ZipFile(wheel) as zf:
            for rel in MEDIAPIPE_FILES:
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                part = target.with_suffix(".part")
                part.write_bytes(zf.read(f"mediapipe/modules/{rel}"))
                part.replace(target)
    return dest
