"""Photo decoding: odd formats are converted, broken inputs fail with one clear line."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from crowdgaussian.camera import default_camera
from crowdgaussian.errors import CrowdGaussianError
from crowdgaussian.image_io import load_photo


def _gradient(w: int = 96, h: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 128)], -1).astype(np.uint8)


@pytest.mark.parametrize("mode", ["CMYK", "P", "L", "LA", "RGBA", "I;16"])
def test_modes_are_converted_to_rgb(tmp_path, mode):
    rgb = _gradient()
    img = Image.fromarray(rgb)
    if mode == "I;16":
        img = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
        assert img.mode.startswith("I;16")
    else:
        img = img.convert(mode)
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I;16") else "x.png")
    img.save(path)
    photo = load_photo(path)
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == (64, 96, 3)
    if mode == "I;16":  # 16-bit grey: the red ramp must survive as 8-bit intensity
        np.testing.assert_allclose(photo.rgb[..., 1], rgb[..., 0], atol=1)
    elif mode in ("L", "LA"):  # grey: luminance copied to all three channels
        grey = np.asarray(Image.fromarray(rgb).convert("L")).astype(int)
        assert np.abs(photo.rgb.astype(int) - grey[..., None]).max() <= 1
    elif mode != "P":
        assert np.abs(photo.rgb.astype(int) - rgb).max() <= 3


def test_alpha_is_composited_over_white(tmp_path):
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[:, :16] = (255, 0, 0, 255)  # left half opaque red, right half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    photo = load_photo(tmp_path / "a.png")
    assert tuple(photo.rgb[5, 5]) == (255, 0, 0) and tuple(photo.rgb[5, 30]) == (255, 255, 255)


def test_exif_rotation_is_honoured(tmp_path):
    rgb = np.zeros((40, 80, 3), np.uint8)
    rgb[:, :10] = 255  # white stripe on the left of the stored pixels
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img.save(tmp_path / "r.jpg", exif=exif, quality=95)
    photo = load_photo(tmp_path / "r.jpg")
    assert (photo.full_width, photo.full_height) == (40, 80) and photo.rgb.shape == (80, 40, 3)
    assert photo.rgb[:8].mean() > 200 and photo.rgb[-8:].mean() < 40  # stripe now on top


def test_huge_image_is_downscaled_but_camera_stays_full_resolution(tmp_path):
    img = Image.new("RGB", (12000, 9000), (90, 120, 150))
    img.save(tmp_path / "huge.jpg", quality=70)
    del img
    photo = load_photo(tmp_path / "huge.jpg", max_side=1600)
    assert (photo.full_width, photo.full_height) == (12000, 9000)
    assert max(photo.rgb.shape[:2]) == 1600 and abs(photo.scale - 1600 / 12000) < 1e-9
    cam = default_camera(photo)
    assert cam.width == 12000 and cam.cx == 6000.0
    np.testing.assert_allclose(cam.K(photo.scale)[0, 2], 800.0)


@pytest.mark.parametrize("size, working", [((6000, 500), (5543, 462)), ((500, 6000), (462, 5543)),
                                           ((3200, 1800), (1600, 900)), ((2000, 2000), (1600, 1600)),
                                           ((1000, 1000), (1000, 1000))])
def test_a_panorama_keeps_its_height_where_a_photo_keeps_its_longer_side(tmp_path, size, working):
    """Up to 16:9 the working image is at most 1600 px on its longer side; a panorama (or a strip)
    is sized by its short side as a 16:9 frame, within a square photo's pixel count (1600x1600), so
    its people do not shrink to a few pixels (6000x500 became 1600x133 before)."""
    Image.new("RGB", size, (90, 120, 150)).save(tmp_path / "p.jpg", quality=70)
    photo = load_photo(tmp_path / "p.jpg")
    assert (photo.full_width, photo.full_height) == size
    assert (photo.rgb.shape[1], photo.rgb.shape[0]) == working
    assert photo.rgb.shape[0] * photo.rgb.shape[1] <= 1600 * 1600 * 1.001  # rounding to whole pixels


def test_exif_focal_sets_intrinsics(tmp_path):
    img = Image.fromarray(_gradient(120, 80))
    exif = img.getexif()
    exif.get_ifd(0x8769)[0xA405] = 26  # 26 mm equivalent
    img.save(tmp_path / "f.jpg", exif=exif)
    cam = default_camera(load_photo(tmp_path / "f.jpg"))
    expected = 26 * np.hypot(120, 80) / np.hypot(36, 24)
    assert abs(cam.fx - expected) < 1e-6 and cam.fx == cam.fy


@pytest.mark.parametrize("kind, message", [
    ("text", "not an image"), ("empty", "empty"), ("dir", "directory"),
    ("truncated", "cannot decode"), ("missing", "no such file")])
def test_bad_inputs_fail_with_one_line(tmp_path, kind, message):
    path = tmp_path / "bad.jpg"
    if kind == "text":
        path.write_text("hello, I am not a photo\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "dir":
        path.mkdir()
    elif kind == "truncated":
        Image.fromarray(_gradient(400, 300)).save(tmp_path / "ok.jpg", quality=95)
        path.write_bytes((tmp_path / "ok.jpg").read_bytes()[:1500])
    with pytest.raises(CrowdGaussianError, match=message) as info:
        load_photo(path)
    assert "\n" not in str(info.value)
