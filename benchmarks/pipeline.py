"""Whole-pipeline benchmark on bus.jpg: time per stage, total, peak memory, persons found.

Ends with one JSON line {"total_s", "peak_rss_gib", "persons", "stages": {...}, "device"}
(plus "peak_cuda_gib", torch's peak GPU allocation, with --device cuda).
Goal on the 2-core CPU: total <= 120 s (aim 60 s), peak memory <= 6 GiB.
"""
from __future__ import annotations

import argparse
import cProfile
import importlib.util
import json
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from crowdgaussian.pipeline import STAGES, reconstruct
from crowdgaussian.progress import Progress


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", type=Path, default=None, help="photo (default: ultralytics' bus.jpg)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--quality", default="default", choices=["fast", "default", "high"])
    parser.add_argument("--quick", action="store_true", help="accepted for build.py bench; same run")
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the bundle in this new folder (default: a temporary one)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print the N functions with the most self time (cProfile)")
    args = parser.parse_args()
    image = args.image
    if image is None:
        spec = importlib.util.find_spec("ultralytics")
        if spec is None or spec.origin is None:
            sys.exit("ultralytics (for bus.jpg) is not installed: run `python3 build.py test` first")
        image = Path(spec.origin).parent / "assets" / "bus.jpg"
    progress = Progress(STAGES, mode="none")
    with tempfile.TemporaryDirectory() as tmp:
        profiler = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        bundle = reconstruct(image, args.out or Path(tmp) / "bundle", device=args.device,
                             quality=args.quality, progress=progress)
        total = time.perf_counter() - t0
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
        persons = len(json.loads((bundle / "manifest.json").read_text())["persons"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    print(f"image: {image}")
    for name, seconds in progress.timings.items():
        print(f"  {name:<10} {seconds:7.2f} s")
    print(f"  {'total':<10} {total:7.2f} s   (goal <= 120 s, aim 60 s; ratio to goal {total / 120:.2f})")
    print(f"  peak RSS   {peak:7.2f} GiB (goal <= 6 GiB)")
    print(f"  persons    {persons}")
    summary = {"total_s": round(total, 2), "peak_rss_gib": round(peak, 3), "persons": persons,
               "device": args.device, "quality": args.quality,
               "stages": {k: round(v, 2) for k, v in progress.timings.items()}}
    if args.device != "cpu" and torch.cuda.is_available():
        summary["peak_cuda_gib"] = round(torch.cuda.max_memory_allocated() / 1024**3, 3)
        summary["gpu"] = torch.cuda.get_device_name()
        print(f"  peak GPU   {summary['peak_cuda_gib']:7.2f} GiB ({summary['gpu']})")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
