"""Quality benchmark on synthetic ground-truth crowds (issue #6): tables, plots, grids, one JSON line.

    python benchmarks/quality/run.py --quick            # 2 scenes x 2 people, minutes on 2 CPU cores
    python benchmarks/quality/run.py                    # the full run (documented in README.md)
    python benchmarks/quality/run.py --people detect    # judge the real detector too

Writes benchmarks/results/quality[_quick][_detect].{md,json} and its PNGs, and ends
with one JSON line on stdout: psnr/ssim/baseline_psnr per occlusion ratio, psnr_2x, psnr_4x,
seconds_per_person, and how the run was configured.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from crowdgaussian.eval import benchmark, report

RESULTS = Path(__file__).resolve().parents[1] / "results"


def config(args: argparse.Namespace) -> tuple[benchmark.Config, tuple[int, ...]]:
    """The run's configuration and the people counts of the scale test."""
    start = benchmark.REPORT_SEED_START if not args.tuning else 0
    if args.quick:
        cfg = benchmark.Config(seeds=[start, start + 1], n_people=[2, 2], size=128, views=list(range(0, 24, 3)),
                               width=448, height=336, truth_gaussians=12000, people_mode=args.people,
                               quality="fast")
        return cfg, ((1, 2, 4) if args.scale else ())
    seeds = list(range(start, start + args.scenes))
    width, height = (int(v) for v in args.photo.lower().split("x"))
    cfg = benchmark.Config(seeds=seeds, n_people=[1 + (s % args.max_people) for s in seeds],
                           levels=(0.0, 0.2, 0.4, 0.6), size=256, people_mode=args.people, quality=args.quality,
                           width=width, height=height)
    return cfg, (1, 2, 4, 8, 16)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write the results, print the JSON summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small run for CI: 2 scenes x 2 people, 8 of 24 views at 128 px, no scale test")
    parser.add_argument("--scenes", type=int, default=8, help="scenes in the full run (1 to --max-people people each)")
    parser.add_argument("--max-people", type=int, default=4,
                        help="people per scene cycle through 1..N (full run; results get an _upto<N> tag unless 4)")
    parser.add_argument("--photo", default="512x384", help="synthetic photo size WxH (full run)")
    parser.add_argument("--scale", action="store_true", help="also run the scale test in --quick (1, 2, 4 people)")
    parser.add_argument("--people", choices=("oracle", "detect"), default="oracle",
                        help="oracle: true masks/keypoints feed the body fit; detect: the real detector")
    parser.add_argument("--quality", default="fast", help="pipeline quality preset for the full run")
    parser.add_argument("--tuning", action="store_true", help="use the tuning seeds (0..) instead of the reported ones")
    parser.add_argument("--no-scale", action="store_true", help="skip the time/memory vs people test")
    parser.add_argument("--scale-only", action="store_true", help="only the time/memory vs people test (1..16)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(2)
    cfg, counts = config(args)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.scale_only:
        return scale_only(cfg, args.out)
    tag = "quality_quick" if args.quick else "quality"
    tag += f"_upto{args.max_people}" if args.max_people != 4 and not args.quick else ""
    tag += "_detect" if args.people == "detect" else ""
    start = time.perf_counter()
    records, grids, lpips_note = benchmark.run(cfg)
    scale = [] if args.no_scale or not counts else benchmark.scale_test(counts, benchmark.REPORT_SEED_START + 500, cfg)
    summary = benchmark.summarize(records, cfg)
    n_views = len(cfg.views)
    report.plots(records, scale, cfg, args.out, tag)
    if grids and grids[0]:
        cols = (0, n_views // 4, n_views // 2)
        report.image_grid(grids[0], args.out / f"{tag}_grid.png", view_cols=cols)
        for name in cfg.variants:
            report.image_grid(grids[0][name], args.out / f"{tag}_{name}_grid.png", view_cols=cols)
    title = "Quality benchmark (quick)" if args.quick else "Quality benchmark"
    (args.out / f"{tag}.md").write_text(report.markdown(records, scale, cfg, summary, lpips_note, title, tag))
    summary.update(people_mode=cfg.people_mode, views=n_views, view_size=cfg.size, scenes=len(cfg.seeds),
                   seeds=cfg.seeds, lpips_note=lpips_note, scale=scale,
                   seconds_total=round(time.perf_counter() - start, 1),
                   note="synthetic anny crowds, not THuman2.1; "
                        + (f"{n_views} of 24 views" if n_views < 24 else "24 views"))
    summary = benchmark.jsonable(summary)
    (args.out / f"{tag}.json").write_text(
        json.dumps({"summary": summary, "records": benchmark.jsonable(records)}, indent=1, allow_nan=False))
    print(json.dumps(summary, allow_nan=False), flush=True)
    return 0


def scale_only(cfg: benchmark.Config, out: Path) -> int:
    """Time and memory vs 1, 2, 4, 8, 16 people: quality_scale.{md,json,png}; prints the JSON rows."""
    rows = benchmark.scale_test((1, 2, 4, 8, 16), benchmark.REPORT_SEED_START + 500, cfg)
    report.scale_plot(rows, out / "quality_scale.png")
    text = [f"# Pipeline cost vs people ({cfg.people_mode} people, photo {cfg.width}x{cfg.height})", "",
            f"Run {report.now()} on {report.machine()}.", "", *report.scale_table(rows), "",
            "![scale](quality_scale.png)", ""]
    (out / "quality_scale.md").write_text("\n".join(text))
    rows = benchmark.jsonable(rows)
    (out / "quality_scale.json").write_text(json.dumps(rows, indent=1, allow_nan=False))
    print(json.dumps({"scale": rows}, allow_nan=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
