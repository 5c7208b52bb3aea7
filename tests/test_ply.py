"""The 3DGS PLY as the reference viewer reads it: a fixed record of 62 float32 per splat."""
from __future__ import annotations

import numpy as np
import pytest

from crowdgaussian.ply import SH_C0, read_gaussians_ply, write_gaussians_ply

REFERENCE_ORDER = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
                   + [f"f_rest_{i}" for i in range(45)]
                   + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])


def _splats(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"means": rng.normal(size=(n, 3)), "quats": rng.normal(size=(n, 4)),
            "scales": rng.uniform(0.01, 0.1, (n, 3)), "opacities": rng.uniform(0.1, 0.9, n),
            "colors": rng.uniform(0, 1, (n, 3))}


def _records(path) -> tuple[list[str], np.ndarray]:
    """Property names from the header and the body as SIBR reads it: raw 62-float records."""
    raw = path.read_bytes()
    end = raw.index(b"end_header\n") + len(b"end_header\n")
    header = raw[:end].decode("ascii").splitlines()
    assert "format binary_little_endian 1.0" in header
    names = [line.split()[2] for line in header if line.startswith("property float ")]
    return names, np.frombuffer(raw[end:], dtype="<f4").reshape(-1, 62)


def test_degree_2_tint_is_written_in_the_reference_degree_3_layout(tmp_path):
    rng = np.random.default_rng(0)
    g = _splats(5, rng)
    sh_rest = rng.normal(size=(5, 8, 3))  # degree 2, as the photo tint is
    write_gaussians_ply(tmp_path / "g.ply", **g, sh_rest=sh_rest)
    names, rec = _records(tmp_path / "g.ply")
    assert names == REFERENCE_ORDER and len(rec) == 5
    np.testing.assert_allclose(rec[:, :3], g["means"], atol=1e-6)
    np.testing.assert_allclose(rec[:, 6:9], (g["colors"] - 0.5) / SH_C0, atol=1e-5)
    rest = rec[:, 9:54].reshape(5, 3, 15)  # channel-major: 15 red, 15 green, 15 blue
    np.testing.assert_allclose(rest[:, :, :8], sh_rest.transpose(0, 2, 1), atol=1e-6)
    assert not rest[:, :, 8:].any()  # degree-3 band: zero
    np.testing.assert_allclose(1 / (1 + np.exp(-rec[:, 54])), g["opacities"], atol=1e-6)
    np.testing.assert_allclose(np.exp(rec[:, 55:58]), g["scales"], rtol=1e-5)
    back = read_gaussians_ply(tmp_path / "g.ply")
    np.testing.assert_allclose(back["sh_rest"], sh_rest, atol=1e-6)  # trimmed back to degree 2


def test_colours_without_sh_still_fill_the_whole_record(tmp_path):
    g = _splats(3, np.random.default_rng(1))
    write_gaussians_ply(tmp_path / "g.ply", **g)
    names, rec = _records(tmp_path / "g.ply")
    assert names == REFERENCE_ORDER and not rec[:, 9:54].any()
    back = read_gaussians_ply(tmp_path / "g.ply")
    assert "sh_rest" not in back
    np.testing.assert_allclose(back["colors"], g["colors"], atol=1e-5)


def test_sh_above_degree_3_is_refused(tmp_path):
    g = _splats(2, np.random.default_rng(2))
    with pytest.raises(ValueError, match="degree 3"):
        write_gaussians_ply(tmp_path / "g.ply", **g, sh_rest=np.zeros((2, 24, 3)))
    assert not (tmp_path / "g.ply").exists()
