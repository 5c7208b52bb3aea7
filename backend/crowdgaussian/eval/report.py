"""Benchmark output: Markdown tables shaped like the paper's Tables 1-2, PNG plots and image grids."""
from __future__ import annotations

import logging
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from .benchmark import Config

log = logging.getLogger(__name__)

METHOD_NAMES = {"visible_only": "Visible-only (no completion)", "ours": "Ours (default pipeline)",
                "refiner": "Ours + refiner"}


def _fmt(x: float | None, digits: int = 3) -> str:
    """Number for a table cell ('–' when missing)."""
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _mean(records: list[dict], key: str, **match: object) -> float | None:
    """Mean of `key` over records matching all `match` fields (None when there are none)."""
    vals = [r[key] for r in records if all(r[k] == v for k, v in match.items()) and r[key] is not None]
    return float(np.mean(vals)) if vals else None


def machine() -> str:
    """One line describing this machine (CPU model, cores, Python)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores usable, Python {platform.python_version()}"


def markdown(records: list[dict], scale: list[dict], cfg: Config, summary: dict, lpips_note: str,
             title: str) -> str:
    """The results page: protocol, Table 1 / Table 2 shapes, downsampling, scale, plots."""
    methods = [m for m in cfg.methods]
    occ = [f"occ{round(lv * 100)}" for lv in cfg.levels]
    lines = [f"# {title}", "",
             f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {machine()}.", "",
             f"Scenes: seeds {cfg.seeds} with {cfg.n_people} people; photo {cfg.width}x{cfg.height}; "
             f"people mode **{cfg.people_mode}**"
             + (" (true masks and keypoints fed to the body fit; detection not judged)"
                if cfg.people_mode == "oracle" else " (the real detector)")
             + f"; {len(cfg.views)} of the 24 orbit views ({cfg.size} px, white background); "
             f"pipeline quality '{cfg.quality}'. {lpips_note}.", "",
             "Synthetic anny people with procedural clothing, not THuman2.1: numbers are comparable "
             "between our own runs only, not with the paper's.", "",
             "## Table 1 shape: random occluder masks (all ratios pooled)", "",
             "| Method | PSNR ↑ | SSIM ↑ | LPIPS ↓ |", "|---|---|---|---|"]
    for m in methods:
        rows = [r for r in records if r["method"] == m and r["condition"] in occ]
        lines.append(f"| {METHOD_NAMES.get(m, m)} | {_fmt(_mean(rows, 'psnr'))} | {_fmt(_mean(rows, 'ssim'))} | "
                     f"{_fmt(_mean(rows, 'lpips'))} |")
    lines += ["", "## Table 2 shape: increasing occlusion ratio", "",
              "| Method | Occlusion ratio (measured) | PSNR ↑ | SSIM ↑ | LPIPS ↓ | input-view PSNR (visible / amodal) |",
              "|---|---|---|---|---|---|"]
    for m in methods:
        for lv, cond in zip(cfg.levels, occ):
            rows = [r for r in records if r["method"] == m and r["condition"] == cond]
            lines.append(
                f"| {METHOD_NAMES.get(m, m)} | {round(lv * 100)}% ({_fmt(_mean(rows, 'occlusion'), 2)}) | "
                f"{_fmt(_mean(rows, 'psnr'))} | {_fmt(_mean(rows, 'ssim'))} | {_fmt(_mean(rows, 'lpips'))} | "
                f"{_fmt(_mean(rows, 'photo_psnr_visible'), 2)} / {_fmt(_mean(rows, 'photo_psnr_amodal'), 2)} |")
    lines += ["", "## Downsampled inputs (no simulated occluder)", "",
              "| Method | Input | PSNR ↑ | SSIM ↑ | LPIPS ↓ |", "|---|---|---|---|---|"]
    for m in methods:
        for f in cfg.downsample:
            rows = [r for r in records if r["method"] == m and r["condition"] == f"down{f}x"]
            lines.append(f"| {METHOD_NAMES.get(m, m)} | {f}× | {_fmt(_mean(rows, 'psnr'))} | "
                         f"{_fmt(_mean(rows, 'ssim'))} | {_fmt(_mean(rows, 'lpips'))} |")
    if scale:
        lines += ["", "## Cost vs number of people (default pipeline, one photo)", "",
                  "| People | Seconds | s / person | Peak extra memory (MiB) | Reconstructed |", "|---|---|---|---|---|"]
        lines += [f"| {s['n_people']} | {s['seconds']:.1f} | {s['seconds'] / s['n_people']:.1f} | "
                  f"{s['peak_mb']:.0f} | {s['n_reconstructed']} |" for s in scale]
    lines += ["", f"Detection / matching recall (ours): {_fmt(summary.get('detection_recall'), 3)}.", "",
              "![metric vs occlusion](quality_occlusion.png) ![metric vs downsampling](quality_downsampling.png)",
              "", "![scale](quality_scale.png)", "", "![grid](quality_grid.png)", ""]
    return "\n".join(lines)


def plots(records: list[dict], scale: list[dict], cfg: Config, out_dir: Path) -> list[Path]:
    """PNG plots: PSNR/SSIM vs occlusion ratio and vs downsampling per method; time/memory vs people.

    Needs matplotlib (a benchmark-only dependency); without it no plot is written (logged).
    """
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed: no plots (pip install matplotlib==3.11.2)")
        return []

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, metric in zip(axes, ("psnr", "ssim")):
        for m in cfg.methods:
            ys = [_mean(records, metric, method=m, condition=f"occ{round(lv * 100)}") for lv in cfg.levels]
            ax.plot([lv * 100 for lv in cfg.levels], ys, "o-", label=METHOD_NAMES.get(m, m))
        ax.set_xlabel("occlusion ratio (%)")
        ax.set_ylabel(metric.upper())
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "quality_occlusion.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    factors = list(cfg.downsample)
    for ax, metric in zip(axes, ("psnr", "ssim")):
        for m in cfg.methods:
            ys = [_mean(records, metric, method=m, condition=f"down{f}x") for f in factors]
            ax.plot(factors, ys, "o-", label=METHOD_NAMES.get(m, m))
        ax.set_xlabel("downsampling factor")
        ax.set_ylabel(metric.upper())
        ax.set_xticks(factors)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "quality_downsampling.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    if scale:
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        n = [s["n_people"] for s in scale]
        ax.plot(n, [s["seconds"] for s in scale], "o-", color="C0", label="seconds")
        ax.plot(n, [scale[0]["seconds"] / scale[0]["n_people"] * k for k in n], ":", color="C0", label="linear")
        ax.set_xlabel("people in the photo")
        ax.set_ylabel("seconds", color="C0")
        ax2 = ax.twinx()
        ax2.plot(n, [s["peak_mb"] for s in scale], "s-", color="C1")
        ax2.set_ylabel("peak extra memory (MiB)", color="C1")
        ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        paths.append(out_dir / "quality_scale.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def image_grid(grid: dict, out_path: Path, view_cols: tuple[int, ...] = (0, 1)) -> Path:
    """Rows = people; columns: input photo crop, then truth / each method at the chosen orbit views."""
    truth = grid["truth"]
    size = truth[0].shape[1]
    inp = grid["input"]
    rows = []
    for i in range(len(truth)):
        cells = [cv2.resize(inp, (size * inp.shape[1] // inp.shape[0], size), interpolation=cv2.INTER_AREA)]
        for images in [truth] + [grid["methods"][m] for m in grid["methods"]]:
            cells += [(np.clip(images[i][v], 0, 1) * 255).astype(np.uint8) for v in view_cols if v < len(images[i])]
        rows.append(np.concatenate(cells, axis=1))
    img = np.concatenate(rows, axis=0)
    labels = ["input"] + [f"{name} v{v}" for name in ["truth"] + list(grid["methods"]) for v in view_cols]
    x = size * inp.shape[1] // inp.shape[0]
    bar = np.full((18, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, labels[0], (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for k, text in enumerate(labels[1:]):
        cv2.putText(bar, text[:22], (x + k * size + 3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
    cv2.imwrite(str(out_path), cv2.cvtColor(np.concatenate([bar, img]), cv2.COLOR_RGB2BGR))
    return out_path
