"""Rasterizer benchmark: CPU numba backend vs the dense torch reference (and gsplat on CUDA).

Scene: N Gaussians uniformly in a 1.6 x 1.6 x 0.6 m box 3 m in front of a pinhole camera
(focal 1.1 x image size, so the box fills ~1/3 of the image), random rotations, scales
log-uniform in 4..30 mm, opacities 0.1..1, RGB colours. Loss = sum of the image.

The dense reference costs the same for every pixel (each pixel visits all N Gaussians),
so it is timed on a few random 1 x 32 pixel windows and scaled to the full image; those
numbers are labelled "extrapolated". Timings are medians of repeats after a warm-up call.
With CUDA and gsplat it also times gsplat and measures parity on every scene: the largest
|rgb| and |alpha| difference between our CPU image and gsplat's, and for 10k at 512 the
largest gradient difference per parameter relative to that gradient's largest magnitude;
the 99.99th percentile and the count of rgb values over 1e-3 show how rare the largest are.
Prints a table, then one JSON line (last line of stdout).
Usage: python benchmarks/rasterizer.py [--quick] [--threads 2] [--cuda-only]
"""
from __future__ import annotations

import os

# libgomp threads that spin after a parallel region starve numba's kernels on a loaded
# 2-core machine (measured 2-5x slower); must be set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import torch  # noqa: E402

from crowdgaussian.render import gsplat_available, rasterization  # noqa: E402
from crowdgaussian.render.projection import project_gaussians  # noqa: E402
from crowdgaussian.render.reference import composite_dense  # noqa: E402

WINDOW = 32  # reference window width in pixels


def make_scene(n: int, size: int, device: str = "cpu", seed: int = 0):
    """(params requiring grad, viewmats, Ks) of the benchmark scene (see module doc)."""
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g) - 0.5) * torch.tensor([1.6, 1.6, 0.6])
    means += torch.tensor([0.0, 0.0, 3.0])
    quats = torch.randn(n, 4, generator=g)
    scales = torch.exp(torch.empty(n, 3).uniform_(-5.5, -3.5, generator=g))
    opacities = torch.rand(n, generator=g) * 0.9 + 0.1
    colors = torch.rand(n, 3, generator=g)
    params = [t.to(device).requires_grad_(True) for t in (means, quats, scales, opacities, colors)]
    viewmats = torch.eye(4, device=device)[None]
    Ks = torch.tensor([[1.1 * size, 0, size / 2], [0, 1.1 * size, size / 2], [0, 0, 1]],
                      device=device)[None]
    return params, viewmats, Ks


def _median_time(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    """Median wall time of fn() over repeats."""
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_rasterization(n: int, size: int, repeats: int, device: str = "cpu") -> dict:
    """Forward and forward+backward seconds of rasterization() on device."""
    params, viewmats, Ks = make_scene(n, size, device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def fwd():
        with torch.no_grad():
            return rasterization(*params, viewmats, Ks, size, size)

    def fwd_bwd():
        img, alpha, _ = rasterization(*params, viewmats, Ks, size, size)
        img.sum().backward()

    t0 = time.perf_counter()
    _, alpha, meta = rasterization(*params, viewmats, Ks, size, size)
    first = time.perf_counter() - t0
    fwd_bwd()
    return {"fwd_s": _median_time(fwd, repeats, sync),
            "fwd_bwd_s": _median_time(fwd_bwd, repeats, sync), "first_call_s": first,
            "fragments": int(meta.get("n_fragments", -1)), "coverage": alpha.mean().item()}


def parity(n: int, size: int, grads: bool) -> dict:
    """Largest CPU-vs-gsplat differences on the benchmark scene (rgb, alpha; gradients)."""
    out: dict[str, float] = {}
    results = []
    for device in ("cpu", "cuda"):
        params, viewmats, Ks = make_scene(n, size, device)
        img, alpha, _ = rasterization(*params, viewmats, Ks, size, size)
        if grads:
            (img * torch.linspace(0.5, 1.5, 3, device=device)).sum().backward()
        results.append((img.detach().cpu(), alpha.detach().cpu(),
                        [p.grad.cpu() if grads else None for p in params]))
    (img_c, alpha_c, grad_c), (img_g, alpha_g, grad_g) = results
    diff = (img_c - img_g).abs()
    out["max_rgb_diff"] = diff.max().item()
    out["p9999_rgb_diff"] = torch.quantile(diff.flatten()[::7].double(), 0.9999).item()
    out["rgb_values_over_1e-3"] = int((diff > 1e-3).sum())
    out["max_alpha_diff"] = (alpha_c - alpha_g).abs().max().item()
    if grads:
        for name, gc, gg in zip(("means", "quats", "scales", "opacities", "colors"), grad_c, grad_g):
            out[f"grad_{name}_rel_diff"] = ((gc - gg).abs().max() / gc.abs().max()).item()
    return out


def bench_reference(n: int, size: int, n_windows: int) -> dict:
    """Dense reference seconds for the full image, extrapolated from random pixel windows."""
    params, viewmats, Ks = make_scene(n, size)
    g = torch.Generator().manual_seed(1)
    t_fwd = t_bwd = 0.0
    for _ in range(n_windows):
        y = int(torch.randint(0, size, (1,), generator=g))
        x = int(torch.randint(0, size - WINDOW + 1, (1,), generator=g))
        t0 = time.perf_counter()
        proj = project_gaussians(*params[:3], viewmats, Ks, size, size)
        img, alpha = composite_dense(proj.means2d[0], proj.conics[0], params[4], params[3],
                                     proj.radii[0], proj.depths[0], size, size,
                                     window=(y, y + 1, x, x + WINDOW))
        t1 = time.perf_counter()
        img.sum().backward()
        t2 = time.perf_counter()
        t_fwd += t1 - t0
        t_bwd += t2 - t1
    scale = size * size / (n_windows * WINDOW)
    return {"fwd_s": t_fwd * scale, "fwd_bwd_s": (t_fwd + t_bwd) * scale, "extrapolated": True}


def main() -> None:
    """Run the grid of sizes and print the table and the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k at 512 only, fewer repeats")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--cuda-only", action="store_true",
                        help="gsplat timings and parity only (no CPU timings, no reference)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    grid = [(100_000, 512)] if args.quick else [
        (10_000, 512), (100_000, 512), (500_000, 512),
        (10_000, 1024), (100_000, 1024), (500_000, 1024)]
    repeats, n_windows = (2, 2) if args.quick else (3, 4)
    has_gsplat = torch.cuda.is_available() and gsplat_available()
    if args.cuda_only and not has_gsplat:
        raise SystemExit("--cuda-only needs a CUDA GPU and gsplat's kernels")
    summary: dict[str, object] = {"omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                                  "torch_threads": args.threads}
    print(f"{'N':>8} {'size':>5} {'frags':>9} {'cpu fwd':>8} {'cpu f+b':>8} "
          f"{'ref f+b*':>9} {'speedup':>8} {'gsplat f+b':>10} {'max|drgb|':>10}")
    for n, size in grid:
        tag = f"{n // 1000}k_{size}"
        row = f"{n:>8} {size:>5} " + " " * 47
        if not args.cuda_only:
            cpu = bench_rasterization(n, size, repeats)
            ref = bench_reference(n, size, n_windows)
            speedup = ref["fwd_bwd_s"] / cpu["fwd_bwd_s"]
            summary[f"cpu_fwd_s_{tag}"] = round(cpu["fwd_s"], 4)
            summary[f"cpu_fwd_bwd_s_{tag}"] = round(cpu["fwd_bwd_s"], 4)
            summary[f"cpu_first_call_s_{tag}"] = round(cpu["first_call_s"], 3)
            summary[f"fragments_{tag}"] = cpu["fragments"]
            summary[f"reference_fwd_bwd_s_{tag}_extrapolated"] = round(ref["fwd_bwd_s"], 2)
            summary[f"speedup_vs_reference_{tag}"] = round(speedup, 1)
            row = (f"{n:>8} {size:>5} {cpu['fragments']:>9} {cpu['fwd_s']:>8.3f} "
                   f"{cpu['fwd_bwd_s']:>8.3f} {ref['fwd_bwd_s']:>9.1f} {speedup:>7.0f}x")
        if has_gsplat:
            gpu = bench_rasterization(n, size, 10, device="cuda")  # GPU runs are ms: more repeats
            summary[f"gsplat_fwd_s_{tag}"] = round(gpu["fwd_s"], 5)
            summary[f"gsplat_fwd_bwd_s_{tag}"] = round(gpu["fwd_bwd_s"], 5)
            match = parity(n, size, grads=(n, size) == (10_000, 512))
            summary.update({f"gsplat_{k}_{tag}": float(f"{v:.3g}") for k, v in match.items()})
            row += f" {gpu['fwd_bwd_s']:>10.4f} {match['max_rgb_diff']:>10.2e}"
        print(row, flush=True)
    print("* reference extrapolated from random 1x32 pixel windows (cost is uniform per pixel)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
