"""Decode any photo a user may hand us into an RGB working image, or fail with one clear line.

Converted rather than rejected: CMYK, 16-bit, alpha, palette and greyscale images; EXIF
orientation is applied. Huge photos are decoded downscaled (JPEG draft mode) so memory
stays bounded, while `Photo.full_width/full_height` keep the full-resolution size that the
camera intrinsics refer to.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import CrowdGaussianError
from .types import Photo

DEFAULT_MAX_SIDE = 1600  # working-image size: enough for detection and fitting, bounded cost
MAX_FRAME_ASPECT = 16 / 9  # wider (or taller) photos are sized by their short side (see working_scale)
MAX_PIXELS = 400_000_000  # refuse absurd sizes (decompression bombs) with a clear message

_EXIF_IFD = 0x8769
_FOCAL_LENGTH = 0x920A
_FOCAL_35MM = 0xA405


def _exif_focals(img: Image.Image) -> tuple[float | None, float | None]:
    """(focal length in mm, 35 mm-equivalent focal length) from EXIF, when present and sane."""
    try:
        ifd = img.getexif().get_ifd(_EXIF_IFD)
    except Exception:  # malformed EXIF must never stop a reconstruction
        return None, None

    def positive(value: object) -> float | None:
        try:
            f = float(value)  # IFDRational and ints both convert
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        return f if np.isfinite(f) and 0.5 < f < 5000 else None

    return positive(ifd.get(_FOCAL_LENGTH)), positive(ifd.get(_FOCAL_35MM))


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparent pixels are composited over white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() if arr.size else 1.0
        arr = arr / (65535.0 if hi > 255 else 255.0) * 255.0
        img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo if hi > lo else 1.0) * 255.0
        img = Image.fromarray(arr.astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("RGB")


def frame_side(width: int, height: int) -> float:
    """The longer side, or MAX_FRAME_ASPECT times the shorter if less: what sizes a photo's people."""
    long_side, short_side = max(width, height), min(width, height)
    return long_side if long_side <= MAX_FRAME_ASPECT * short_side + 1e-9 else MAX_FRAME_ASPECT * short_side


def working_scale(width: int, height: int, max_side: int | None = DEFAULT_MAX_SIDE) -> float:
    """The scale of the working image: a 16:9 frame of the short side at most `max_side` px, and no
    more pixels than a square photo at `max_side` (None: full resolution). Up to 16:9 that is the
    longer side at most `max_side`; a panorama keeps more of its height, where its people are."""
    if max_side is None:
        return 1.0
    return min(1.0, max_side / frame_side(width, height), float(np.sqrt(max_side * max_side / (width * height))))


def load_photo(path: str | Path, max_side: int | None = DEFAULT_MAX_SIDE) -> Photo:
    """Read `path` into a Photo whose working image is sized by `working_scale` (None: full resolution)."""
    path = Path(path)
    if not path.exists():
        raise CrowdGaussianError(f"{path}: no such file")
    if path.is_dir():
        raise CrowdGaussianError(f"{path}: is a directory, not an image")
    if path.stat().st_size == 0:
        raise CrowdGaussianError(f"{path}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            saved_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            try:
                img = Image.open(path)
                full_w, full_h = img.size
                focal_mm, focal_35 = _exif_focals(img)
                orientation = img.getexif().get(0x0112, 1)
                if orientation in (5, 6, 7, 8):  # EXIF rotation by 90/270 swaps the sides
                    full_w, full_h = full_h, full_w
                scale = working_scale(full_w, full_h, max_side)
                if scale < 1.0 and img.format == "JPEG":
                    # JPEG draft decodes at 1/2, 1/4 or 1/8 scale: bounded memory for huge photos.
                    img.draft("RGB", (max(1, int(img.size[0] * scale)), max(1, int(img.size[1] * scale))))
                img.load()
            finally:
                Image.MAX_IMAGE_PIXELS = saved_limit
            img = ImageOps.exif_transpose(img)
            img = _to_rgb(img)
    except Image.DecompressionBombError:
        raise CrowdGaussianError(f"{path}: image larger than {MAX_PIXELS // 1_000_000} megapixels") from None
    except UnidentifiedImageError:
        raise CrowdGaussianError(f"{path}: not an image (or an unsupported format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise CrowdGaussianError(f"{path}: cannot decode the image ({exc})") from None
    if min(img.size) < 16:
        raise CrowdGaussianError(f"{path}: image too small ({img.size[0]}x{img.size[1]} px)")
    work_w, work_h = max(1, round(full_w * scale)), max(1, round(full_h * scale))
    if img.size != (work_w, work_h):
        img = img.resize((work_w, work_h), Image.LANCZOS, reducing_gap=3.0)
    return Photo(rgb=np.ascontiguousarray(np.asarray(img, dtype=np.uint8)), full_width=full_w,
                 full_height=full_h, scale=work_w / full_w, path=str(path),
                 focal_35mm=focal_35, focal_mm=focal_mm)
