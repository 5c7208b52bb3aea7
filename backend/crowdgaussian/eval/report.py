"""Benchmark output: Markdown tables shaped like the paper's Tables 1-2, PNG plots and image grids."""
from __future__ import annotations

import logging
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from .benchmark import THIGH_TOLERANCE_DEG, VARIANTS, Config
from .runner import SEATED_DEG

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


def now() -> str:
    """The current UTC time for result pages."""
    return f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"


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
             title: str, prefix: str = "quality") -> str:
    """The results page: protocol, Table 1 / Table 2 shapes, downsampling, scale, plots."""
    methods = [m for m in cfg.methods]
    occ = [f"occ{round(lv * 100)}" for lv in cfg.levels]
    lines = [f"# {title}", "",
             f"Run {now()} on {machine()}.", "",
             f"Scenes: seeds {cfg.seeds} with {cfg.n_people} people; photo {cfg.width}x{cfg.height}; "
             f"people mode **{cfg.people_mode}**"
             + (" (true masks and keypoints fed to the body fit; detection not judged)"
                if cfg.people_mode == "oracle" else " (the real detector)")
             + f"; {len(cfg.views)} of the 24 orbit views ({cfg.size} px, white background); "
             f"pipeline quality '{cfg.quality}'. {lpips_note}.", "",
             "Synthetic anny people with procedural clothing, not THuman2.1: numbers are comparable "
             "between our own runs only, not with the paper's. PSNR/SSIM are the paper's (all pixels of "
             "each view); 'PSNR on people pixels' (ours, not the paper's) only counts pixels the truth or "
             "the prediction covers, so empty background does not dilute it; 'orbit silhouette IoU' (ours) "
             "compares the shapes alone (alpha > 0.5), averaged over the views. Each reconstruction is "
             "rendered on the truth's orbit carried into its own world through the photo camera (same "
             "views relative to the photo camera, distance scaled by its root depth over the true one), "
             "so its own floor / up axis and the depth-size ambiguity are not judged, its pose is.", "",
             "## Table 1 shape: random occluder masks (all ratios pooled)", "",
             "| Method | PSNR ↑ | SSIM ↑ | LPIPS ↓ |", "|---|---|---|---|"]
    for m in methods:
        rows = [r for r in records if r["method"] == m and r["condition"] in occ]
        lines.append(f"| {METHOD_NAMES.get(m, m)} | {_fmt(_mean(rows, 'psnr'))} | {_fmt(_mean(rows, 'ssim'))} | "
                     f"{_fmt(_mean(rows, 'lpips'))} |")
    lines += ["", "## Table 2 shape: increasing occlusion ratio", "",
              "| Method | Occlusion ratio (measured) | PSNR ↑ | SSIM ↑ | LPIPS ↓ | PSNR on people pixels ↑ "
              "| orbit silhouette IoU ↑ | input-view PSNR (visible / amodal) |",
              "|---|---|---|---|---|---|---|---|"]
    for m in methods:
        for lv, cond in zip(cfg.levels, occ):
            rows = [r for r in records if r["method"] == m and r["condition"] == cond]
            lines.append(
                f"| {METHOD_NAMES.get(m, m)} | {round(lv * 100)}% ({_fmt(_mean(rows, 'occlusion'), 2)}) | "
                f"{_fmt(_mean(rows, 'psnr'))} | {_fmt(_mean(rows, 'ssim'))} | {_fmt(_mean(rows, 'lpips'))} | "
                f"{_fmt(_mean(rows, 'psnr_fg'))} | {_fmt(_mean(rows, 'orbit_iou'))} | "
                f"{_fmt(_mean(rows, 'photo_psnr_visible'), 2)} / {_fmt(_mean(rows, 'photo_psnr_amodal'), 2)} |")
    lines += ["", "## Downsampled inputs (no simulated occluder)", "",
              "| Method | Input | PSNR ↑ | SSIM ↑ | LPIPS ↓ |", "|---|---|---|---|---|"]
    for m in methods:
        for f in cfg.downsample:
            rows = [r for r in records if r["method"] == m and r["condition"] == f"down{f}x"]
            lines.append(f"| {METHOD_NAMES.get(m, m)} | {f}× | {_fmt(_mean(rows, 'psnr'))} | "
                         f"{_fmt(_mean(rows, 'ssim'))} | {_fmt(_mean(rows, 'lpips'))} |")
    if cfg.variants:
        lines += ["", "## The same crowds changed (no simulated occluder; not in the paper)", "",
                  *[f"- {name}: {VARIANTS[name][1]}" for name in cfg.variants], "",
                  "| Method | Scenes | PSNR ↑ | SSIM ↑ | LPIPS ↓ | PSNR on people pixels ↑ | orbit silhouette IoU ↑ "
                  "| people found |", "|---|---|---|---|---|---|---|---|"]
        for m in methods:
            for name in cfg.variants:
                rows = [r for r in records if r["method"] == m and r["condition"] == name]
                lines.append(f"| {METHOD_NAMES.get(m, m)} | {name} | {_fmt(_mean(rows, 'psnr'))} | "
                             f"{_fmt(_mean(rows, 'ssim'))} | {_fmt(_mean(rows, 'lpips'))} | "
                             f"{_fmt(_mean(rows, 'psnr_fg'))} | {_fmt(_mean(rows, 'orbit_iou'))} | "
                             f"{sum(r['matched'] for r in rows)} of {len(rows)} |")
        lines += [f"\n![grid: the first scene, {name}: input crop / truth / methods at front, side, back]"
                  f"({prefix}_{name}_grid.png)" for name in cfg.variants]
    lines += ["", "## Posture of the matched people (not in the paper)", "",
              "The body fit's, which both methods share: whether each person was fitted sitting or standing "
              f"as they truly are (sitting: thighs on average more than {SEATED_DEG:.0f}° from the vertical of "
              "their own world), and the angle between the fitted and the true thighs in the photo camera "
              "(mean of both legs). The PSNR columns move little when a posture flips (a person is a small "
              "share of each view), so this says what they cannot.", "",
              f"| Input | people judged | sit / stand right | truly seated / fitted seated | thighs within "
              f"{THIGH_TOLERANCE_DEG:.0f}° | median thigh error |", "|---|---|---|---|---|---|"]
    for cond, pose in summary.get("posture", {}).items():
        lines.append(f"| {cond} | {pose['people']} | {_fmt(pose['sit_stand_right'], 2)} | "
                     f"{pose['seated_true']} / {pose['seated_pred']} | {_fmt(pose['thighs_within'], 2)} | "
                     f"{_fmt(pose['thigh_error_median'], 1)}° |")
    if scale:
        lines += ["", *scale_table(scale), "", f"![scale]({prefix}_scale.png)"]
    lines += ["", f"Detection / matching recall (ours): {_fmt(summary.get('detection_recall'), 3)}.", "",
              f"![metric vs occlusion]({prefix}_occlusion.png) ![metric vs downsampling]({prefix}_downsampling.png)",
              "", f"![grid: per person, input crop / truth / methods at front, side, back]({prefix}_grid.png)", ""]
    return "\n".join(lines)


def scale_table(scale: list[dict]) -> list[str]:
    """Markdown lines: time and memory of the default pipeline vs people in one photo."""
    lines = ["## Cost vs number of people (default pipeline, one photo, fresh process each, after a warm-up)",
             "", "| People | Seconds | s / person | Memory added (MiB) | Process peak RSS (MiB) | Reconstructed |",
             "|---|---|---|---|---|---|"]
    return lines + [f"| {s['n_people']} | {s['seconds']:.1f} | {s['seconds'] / s['n_people']:.1f} | "
                    f"{s['peak_mb']:.0f} | {s['peak_rss_mb']:.0f} | {s['n_reconstructed']} |" for s in scale]


def _pyplot():
    """matplotlib.pyplot on the Agg backend, or None (logged) where matplotlib is not installed.

    matplotlib is a benchmark-only dependency (pinned 3.11.2 here).
    """
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed: no plots (pip install matplotlib==3.11.2)")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _metric_plot(plt, records: list[dict], cfg: Config, xs: list[float], conditions: list[str], xlabel: str,
                 path: Path) -> Path:
    """PSNR and SSIM side by side against one input degradation, a line per method."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, metric in zip(axes, ("psnr", "ssim")):
        for m in cfg.methods:
            ax.plot(xs, [_mean(records, metric, method=m, condition=c) for c in conditions], "o-",
                    label=METHOD_NAMES.get(m, m))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(metric.upper())
        ax.set_xticks(xs)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plots(records: list[dict], scale: list[dict], cfg: Config, out_dir: Path, prefix: str = "quality",
          ) -> list[Path]:
    """PNG plots: PSNR/SSIM vs occlusion ratio and vs downsampling per method; time/memory vs people."""
    plt = _pyplot()
    if plt is None:
        return []
    factors, conditions = list(cfg.downsample), [f"down{f}x" for f in cfg.downsample]
    if 0.0 in cfg.levels:  # the unoccluded full-resolution input is the 1x point
        factors, conditions = [1, *factors], ["occ0", *conditions]
    paths = [
        _metric_plot(plt, records, cfg, [lv * 100 for lv in cfg.levels],
                     [f"occ{round(lv * 100)}" for lv in cfg.levels], "occlusion ratio (%)",
                     out_dir / f"{prefix}_occlusion.png"),
        _metric_plot(plt, records, cfg, factors, conditions, "downsampling factor",
                     out_dir / f"{prefix}_downsampling.png")]
    if scale:
        paths.append(scale_plot(scale, out_dir / f"{prefix}_scale.png"))
    return [p for p in paths if p is not None]


def scale_plot(scale: list[dict], path: Path) -> Path | None:
    """Seconds (with the linear-growth line through the 1-person cost) and peak memory vs people."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    n = [s["n_people"] for s in scale]
    ax.plot(n, [s["seconds"] for s in scale], "o-", color="C0", label="seconds")
    ax.plot(n, [scale[0]["seconds"] / scale[0]["n_people"] * k for k in n], ":", color="C0", label="linear")
    ax.set_xlabel("people in the photo")
    ax.set_ylabel("seconds", color="C0")
    ax2 = ax.twinx()
    ax2.plot(n, [s["peak_mb"] for s in scale], "s-", color="C1")
    ax2.set_ylabel("memory added (MiB)", color="C1")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _crop(img: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Square crop of `img` around a pixel box (10 % margin, padded with white), resized to size."""
    x0, y0, x1, y1 = box
    half = 0.55 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    pad = int(half) + 1
    padded = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    a, b = int(cx - half) + pad, int(cy - half) + pad
    side = int(2 * half)
    return cv2.resize(padded[b:b + side, a:a + side], (size, size), interpolation=cv2.INTER_AREA)


def image_grid(grid: dict, out_path: Path, view_cols: tuple[int, ...] = (0, 1)) -> Path:
    """Rows = people; columns: their crop of the input photo, then truth / each method at chosen views."""
    truth = grid["truth"]
    size = truth[0].shape[1]
    inp = grid["input"]
    scale = inp.shape[1] / grid["photo_width"]
    rows = []
    for i in range(len(truth)):
        box = tuple(int(round(v * scale)) for v in grid["boxes"][i])
        cells = [_crop(inp, box, size)]
        for images in [truth] + [grid["methods"][m] for m in grid["methods"]]:
            cells += [(np.clip(images[i][v], 0, 1) * 255).astype(np.uint8) for v in view_cols if v < len(images[i])]
        rows.append(np.concatenate(cells, axis=1))
    img = np.concatenate(rows, axis=0)
    labels = ["input"] + [f"{name} v{v}" for name in ["truth"] + list(grid["methods"]) for v in view_cols]
    x = size
    bar = np.full((18, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, labels[0], (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for k, text in enumerate(labels[1:]):
        cv2.putText(bar, text[:22], (x + k * size + 3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
    cv2.imwrite(str(out_path), cv2.cvtColor(np.concatenate([bar, img]), cv2.COLOR_RGB2BGR))
    return out_path
