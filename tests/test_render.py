"""Tests of crowdgaussian.render: CPU rasterizer vs the dense reference, edge cases, gsplat."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from crowdgaussian.render import camera_matrices, gsplat_available, rasterization
from crowdgaussian.render.projection import project_gaussians
from crowdgaussian.render.reference import rasterization_reference
from crowdgaussian.types import Camera

torch.set_num_threads(2)


def _scene(n: int, dtype: torch.dtype = torch.float32, seed: int = 0,
           spread: float = 0.5) -> list[torch.Tensor]:
    """Random Gaussians ~2.5 m in front of an identity camera, many straddling the borders."""
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g, dtype=dtype) - 0.5) * torch.tensor(
        [2 * spread, 2 * spread, 1.0], dtype=dtype) + torch.tensor([0, 0, 2.5], dtype=dtype)
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    scales = torch.rand(n, 3, generator=g, dtype=dtype) * 0.06 + 0.005
    opacities = torch.rand(n, generator=g, dtype=dtype) * 0.85 + 0.05
    colors = torch.rand(n, 3, generator=g, dtype=dtype)
    return [t.requires_grad_(True) for t in (means, quats, scales, opacities, colors)]


def _cameras(n_cams: int, width: int, height: int, dtype: torch.dtype = torch.float32):
    """n_cams pinhole cameras looking down +z, shifted sideways and slightly rotated."""
    viewmats = torch.eye(4, dtype=dtype).repeat(n_cams, 1, 1)
    for c in range(n_cams):
        a = 0.1 * c
        viewmats[c, :3, :3] = torch.tensor([[np.cos(a), 0, np.sin(a)], [0, 1, 0],
                                            [-np.sin(a), 0, np.cos(a)]], dtype=dtype)
        viewmats[c, 0, 3] = 0.15 * c
    Ks = torch.tensor([[1.6 * width, 0, width / 2], [0, 1.6 * width, height / 2], [0, 0, 1]],
                      dtype=dtype).repeat(n_cams, 1, 1)
    return viewmats, Ks


def _grads(out: tuple[torch.Tensor, torch.Tensor], params: list[torch.Tensor], seed: int = 1):
    """Gradients of a fixed random linear function of (colors, alphas) w.r.t. params."""
    g = torch.Generator().manual_seed(seed)
    wc = torch.rand(out[0].shape, generator=g, dtype=out[0].dtype).to(out[0].device)
    wa = torch.rand(out[1].shape, generator=g, dtype=out[1].dtype).to(out[1].device)
    return torch.autograd.grad((out[0] * wc).sum() + (out[1] * wa).sum(), params,
                               allow_unused=True)


@pytest.mark.parametrize("render_mode", ["RGB", "RGB+D"])
def test_matches_dense_reference_float32(render_mode: str) -> None:
    """Forward within 1e-5 and gradients within 1e-4 (relative to their scale) of the reference."""
    params = _scene(400, spread=0.6)
    viewmats, Ks = _cameras(2, 72, 56)
    bg = torch.tensor([[0.2, 0.5, 1.0], [1.0, 0.0, 0.3]], requires_grad=True)
    ours = rasterization(*params, viewmats, Ks, 72, 56, backgrounds=bg, render_mode=render_mode)
    ref = rasterization_reference(*params, viewmats, Ks, 72, 56, backgrounds=bg,
                                  render_mode=render_mode)
    assert ours[0].shape == (2, 56, 72, 4 if render_mode == "RGB+D" else 3)
    assert ours[1].shape == (2, 56, 72, 1)
    assert 0.2 < ours[1].mean().item() < 0.99  # a real, partly covered image
    assert (ours[0] - ref[0]).abs().max().item() <= 1e-5
    assert (ours[1] - ref[1]).abs().max().item() <= 1e-5
    for g_ours, g_ref in zip(_grads(ours[:2], params + [bg]), _grads(ref, params + [bg])):
        assert g_ref.abs().max() > 0
        assert ((g_ours - g_ref).abs().max() / g_ref.abs().max()).item() <= 1e-4


def test_matches_dense_reference_float64_expected_depth_and_sh() -> None:
    """In float64 the hand-written backward equals autograd of the dense formula to ~1e-9."""
    params = _scene(150, torch.float64, seed=3)
    g = torch.Generator().manual_seed(4)
    sh = (torch.randn(150, 16, 3, generator=g, dtype=torch.float64) * 0.3).requires_grad_(True)
    params[4] = sh
    viewmats, Ks = _cameras(2, 40, 48, torch.float64)
    for mode in ("RGB+ED", "ED"):
        ours = rasterization(*params, viewmats, Ks, 40, 48, sh_degree=3, render_mode=mode)
        ref = rasterization_reference(*params, viewmats, Ks, 40, 48, sh_degree=3,
                                      render_mode=mode)
        assert (ours[0] - ref[0]).abs().max().item() <= 1e-9
        for g_ours, g_ref in zip(_grads(ours[:2], params), _grads(ref, params)):
            if g_ref is None:  # colours do not reach a depth-only render
                assert g_ours is None and mode == "ED"
                continue
            assert (g_ours - g_ref).abs().max().item() <= 1e-8 * (1 + g_ref.abs().max().item())


def test_gradcheck_float64() -> None:
    """torch.autograd.gradcheck on a handful of Gaussians, all parameters and the background."""
    params = _scene(6, torch.float64, seed=7, spread=0.15)
    viewmats, Ks = _cameras(1, 20, 16, torch.float64)
    Ks[0, 0, 0] = Ks[0, 1, 1] = 25.0
    bg = torch.tensor([[0.3, 0.6, 0.9]], dtype=torch.float64, requires_grad=True)

    g = torch.Generator().manual_seed(8)  # 6 random mixes of all outputs: few backward calls
    mix_c = torch.randn(20 * 16 * 4, 6, generator=g, dtype=torch.float64)
    mix_a = torch.randn(20 * 16, 6, generator=g, dtype=torch.float64)

    def render(*args: torch.Tensor) -> torch.Tensor:
        out = rasterization(*args[:5], viewmats, Ks, 20, 16, backgrounds=args[5],
                            render_mode="RGB+D")
        return out[0].reshape(-1) @ mix_c + out[1].reshape(-1) @ mix_a

    assert torch.autograd.gradcheck(render, (*params, bg), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_sh_degree0_equals_rgb() -> None:
    """SH degree 0 with DC = (rgb - 0.5) / C0 renders exactly the RGB colours."""
    params = _scene(200)
    viewmats, Ks = _cameras(1, 48, 48)
    rgb = params[4].detach()
    dc = ((rgb - 0.5) / 0.28209479177387814)[:, None, :]
    direct = rasterization(*params[:4], rgb, viewmats, Ks, 48, 48)[0]
    via_sh = rasterization(*params[:4], dc, viewmats, Ks, 48, 48, sh_degree=0)[0]
    assert direct.abs().max() > 0.1
    assert torch.allclose(direct, via_sh, atol=1e-5)


def test_cameras_batch_equals_single_renders() -> None:
    """Three cameras in one call give the same images as three separate calls."""
    params = _scene(300)
    viewmats, Ks = _cameras(3, 50, 30)
    both = rasterization(*params, viewmats, Ks, 50, 30)[0]
    for c in range(3):
        single = rasterization(*params, viewmats[c:c + 1], Ks[c:c + 1], 50, 30)[0]
        assert torch.allclose(both[c:c + 1], single, atol=1e-6)
    assert (both[0] - both[2]).abs().max() > 0.1  # the views differ


def test_projection_of_isotropic_gaussian_on_axis() -> None:
    """Sphere of std s at depth z on the optical axis: centre (cx, cy), variance (f s/z)^2 + 0.3,
    radius to where alpha reaches 1/255 (gsplat's opacity-aware extent), culled under 1/255."""
    f, z, s = 100.0, 2.0, 0.05
    args = (torch.tensor([[0.0, 0.0, z]]), torch.tensor([[1.0, 0, 0, 0]]),
            torch.full((1, 3), s), torch.eye(4)[None],
            torch.tensor([[[f, 0, 32.0], [0, f, 24.0], [0, 0, 1]]]), 64, 48)
    proj = project_gaussians(*args)
    var = (f * s / z) ** 2 + 0.3
    assert torch.allclose(proj.means2d[0, 0], torch.tensor([32.0, 24.0]))
    assert torch.allclose(proj.conics[0, 0], torch.tensor([1 / var, 0.0, 1 / var]))
    assert proj.radii[0, 0].item() == int(np.ceil(3.33 * np.sqrt(var + 0.1)))  # no opacities
    for opacity, extend in ((1.0, 3.3290), (0.1, 2.5459)):  # sqrt(2 ln(255 opacity))
        radius = project_gaussians(*args, opacities=torch.tensor([opacity])).radii[0, 0].item()
        assert radius == int(np.ceil(extend * np.sqrt(var + 0.1)))
    assert project_gaussians(*args, opacities=torch.tensor([0.003])).radii[0, 0].item() == 0
    assert proj.depths[0, 0].item() == z


def test_camera_matrices_pixel_convention() -> None:
    """A small Gaussian projecting to the centre (u + 0.5, v + 0.5) of pixel (u, v) lights that pixel."""
    cam = Camera(fx=200.0, fy=200.0, cx=40.0, cy=30.0, width=80, height=60)
    viewmat, K, w, h = camera_matrices(cam, scale=0.5)
    assert (w, h) == (40, 30)
    u, v, z = 7.0, 22.0, 3.0  # target pixel in the half-size image
    k_ours = cam.K(0.5)
    point = torch.tensor([[(u + 0.5 - k_ours[0, 2]) * z / k_ours[0, 0],
                           (v + 0.5 - k_ours[1, 2]) * z / k_ours[1, 1], z]], dtype=torch.float32)
    img, _, _ = rasterization(point, torch.tensor([[1.0, 0, 0, 0]]), torch.full((1, 3), 0.003),
                              torch.ones(1), torch.ones(1, 3), viewmat[None], K[None], w, h)
    y, x = np.unravel_index(img[0, ..., 0].argmax().item(), (h, w))
    assert (x, y) == (u, v)
    assert img[0, y, x, 0] == pytest.approx(0.999, abs=1e-6)  # alpha clamp at the centre


def test_gaussians_behind_camera_and_zero_opacity_render_nothing() -> None:
    """Behind the camera (z < near) or with opacity 0: culled, empty image, zero finite grads."""
    params = _scene(50)
    with torch.no_grad():
        params[0][:25, 2] = -params[0][:25, 2]  # behind
        params[0][25:35, 2] = 0.005  # in front of the camera but closer than near_plane
        params[3][35:] = 0.0  # transparent
    viewmats, Ks = _cameras(1, 32, 32)
    img, alpha, meta = rasterization(*params, viewmats, Ks, 32, 32,
                                     backgrounds=torch.tensor([[0.1, 0.2, 0.3]]))
    assert (meta["radii"][0, :35] == 0).all()
    assert alpha.abs().max() == 0
    assert torch.allclose(img, torch.tensor([0.1, 0.2, 0.3]).expand_as(img))
    grads = _grads((img, alpha), params)
    assert all(torch.isfinite(g).all() and g.abs().max() == 0 for g in grads)


def test_means2d_gradient_is_available_for_densification() -> None:
    """meta["means2d"].retain_grad() gives pixel-space gradients (zero for culled Gaussians)."""
    params = _scene(100)
    with torch.no_grad():
        params[0][:10, 2] = -1.0  # behind the camera
    viewmats, Ks = _cameras(2, 40, 40)
    img, _, meta = rasterization(*params, viewmats, Ks, 40, 40)
    meta["means2d"].retain_grad()
    img.sum().backward()
    grad = meta["means2d"].grad
    assert grad.shape == (2, 100, 2)
    assert grad[:, :10].abs().max() == 0
    assert (grad[:, 10:].norm(dim=-1) > 0).float().mean() > 0.5


def test_huge_and_degenerate_scales_match_reference() -> None:
    """Huge (1e3 m), flat (one axis 0) and point-like (all 0) Gaussians: finite and exact."""
    params = _scene(60, seed=5)
    with torch.no_grad():
        params[2][:3] = 1e3
        params[2][3:10, 2] = 0.0
        params[2][10:15] = 0.0
    viewmats, Ks = _cameras(1, 40, 24)
    ours = rasterization(*params, viewmats, Ks, 40, 24)
    ref = rasterization_reference(*params, viewmats, Ks, 40, 24)
    assert torch.isfinite(ours[0]).all()
    assert (ours[0] - ref[0]).abs().max().item() <= 1e-5
    for g_ours, g_ref in zip(_grads(ours[:2], params), _grads(ref, params)):
        assert torch.isfinite(g_ours).all()
        assert (g_ours - g_ref).abs().max().item() <= 1e-4 * (1 + g_ref.abs().max().item())


def test_empty_scene() -> None:
    """No Gaussians at all: background colour, zero alpha, zero depth."""
    empty = [torch.zeros(0, 3), torch.zeros(0, 4), torch.zeros(0, 3), torch.zeros(0),
             torch.zeros(0, 3)]
    viewmats, Ks = _cameras(2, 20, 10)
    img, alpha, meta = rasterization(*empty, viewmats, Ks, 20, 10, render_mode="RGB+D",
                                     backgrounds=torch.ones(2, 3))
    assert img.shape == (2, 10, 20, 4) and alpha.shape == (2, 10, 20, 1)
    assert (img[..., :3] == 1).all() and (img[..., 3] == 0).all() and (alpha == 0).all()
    assert meta["radii"].shape == (2, 0)


def test_compositing_stops_at_transmittance_1e4() -> None:
    """Two 0.95-opaque green layers leave T = 0.0025; a red layer behind would bring T below
    1e-4, so it is not composited at all (gsplat's early stop), not even partly."""
    means = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    quats = torch.tensor([[1.0, 0, 0, 0]]).repeat(3, 1)
    colors = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    viewmats, Ks = _cameras(1, 16, 16)
    Ks[0, :2, 2] = 8.5  # pixel (8, 8) is sampled exactly at the projected centres
    img, alpha, _ = rasterization(means, quats, torch.full((3, 3), 0.5),
                                  torch.tensor([0.95, 0.95, 1.0]), colors, viewmats, Ks, 16, 16)
    assert img[0, 8, 8, 1].item() == pytest.approx(0.9975, abs=1e-6)
    assert img[0, 8, 8, 0].item() == 0.0
    assert alpha[0, 8, 8, 0].item() == pytest.approx(0.9975, abs=1e-6)


def test_antialiased_mode_dims_subpixel_gaussians() -> None:
    """Antialiased mode scales opacity by sqrt(det(cov2d) / det(cov2d + 0.3 I)), i.e. by
    var / (var + 0.3) for an isotropic Gaussian: ~0.05 at 0.125 px std, ~0.99 at 5 px."""
    means = torch.tensor([[0.0, 0.0, 2.0], [0.8, 0.0, 2.0]])  # on axis / off axis
    quats = torch.tensor([[1.0, 0, 0, 0]]).repeat(2, 1)
    scales = torch.tensor([[0.005] * 3, [0.2] * 3])
    viewmats, Ks = _cameras(1, 96, 32)
    Ks[0, 0, 0] = Ks[0, 1, 1] = 50.0  # std in pixels = 50 * scale / 2 (on axis)
    args = (means, quats, scales, torch.tensor([0.9, 0.9]), torch.ones(2, 3), viewmats, Ks, 96, 32)
    classic = rasterization(*args)[1][0, ..., 0]
    aa = rasterization(*args, rasterize_mode="antialiased")[1][0, ..., 0]
    for cols, std, tol in ((slice(0, 50), 0.125, 1e-4), (slice(50, 96), 5.0, 2e-3)):
        compensation = std**2 / (std**2 + 0.3)  # off axis the footprint is ~2% wider
        assert aa[:, cols].max().item() == pytest.approx(
            classic[:, cols].max().item() * compensation, rel=tol)
    assert aa[:, :50].max() < 0.03 < classic[:, :50].max()


@pytest.mark.skipif(not (torch.cuda.is_available() and gsplat_available()),
                    reason="needs CUDA and gsplat's kernels")
def test_matches_gsplat_cuda() -> None:
    """Our CPU images and gradients match gsplat's CUDA ones on the same scene (GPU only)."""
    params = _scene(2000, spread=0.6)
    viewmats, Ks = _cameras(2, 128, 96)
    cpu = rasterization(*params, viewmats, Ks, 128, 96, render_mode="RGB+D")
    cuda_params = [p.detach().cuda().requires_grad_(True) for p in params]
    gpu = rasterization(*cuda_params, viewmats.cuda(), Ks.cuda(), 128, 96, render_mode="RGB+D")
    assert (cpu[0] - gpu[0].cpu()).abs().max().item() <= 1e-4
    assert (cpu[1] - gpu[1].cpu()).abs().max().item() <= 1e-4
    for g_cpu, g_gpu in zip(_grads(cpu[:2], params), _grads(gpu[:2], cuda_params)):
        assert ((g_cpu - g_gpu.cpu()).abs().max() / g_cpu.abs().max()).item() <= 1e-3


@pytest.mark.skipif(not (torch.cuda.is_available() and gsplat_available()),
                    reason="needs CUDA and gsplat's kernels")
def test_sh_colours_match_gsplat_cuda() -> None:
    """Degree-2 SH colours (the bundle's photo tint) render alike on our CPU backend and gsplat (GPU only)."""
    means, quats, scales, opacities, _ = [p.detach() for p in _scene(2000, spread=0.6)]
    coeffs = torch.randn(len(means), 9, 3, generator=torch.Generator().manual_seed(1)) * 0.3
    viewmats, Ks = _cameras(2, 128, 96)
    cpu = rasterization(means, quats, scales, opacities, coeffs, viewmats, Ks, 128, 96, sh_degree=2)
    gpu = rasterization(*(t.cuda() for t in (means, quats, scales, opacities, coeffs, viewmats, Ks)), 128, 96,
                        sh_degree=2)
    assert (cpu[0] - gpu[0].cpu()).abs().max().item() <= 1e-4
