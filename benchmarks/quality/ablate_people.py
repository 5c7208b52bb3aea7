"""Where detected people lose to the oracle: swap one part of each detected person for the truth.

    python benchmarks/quality/ablate_people.py                  # reported seeds 1000-1007, 0 % and 40 %
    python benchmarks/quality/ablate_people.py --seeds 0-7      # tuning seeds

People are found by the real detector; each one matched to a true person (mask IoU) then gets,
in turn, the truth's 2D keypoints, its 3D landmarks, both, or its mask, and the scene is
reconstructed again ("ours", fast quality). The orbit PSNR of the matched people under each
variant says how much a better model for that part could gain (a learned 3D pose model plugs in
at `Person.keypoints_3d`). Writes benchmarks/results/quality_ablation.md and ends with one JSON line.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from crowdgaussian import types
from crowdgaussian.eval.benchmark import Config, scale_people, scene_inputs
from crowdgaussian.eval.methods import run_methods
from crowdgaussian.eval.runner import match_people, score_people, truth_views
from crowdgaussian.people import find_people
from crowdgaussian.synth.crowd import make_crowd

RESULTS = Path(__file__).resolve().parents[1] / "results"
# variant -> which fields of a matched detected person are replaced by the truth's
VARIANTS = {
    "detected": (),
    "true 2D keypoints": ("keypoints",),
    "true 3D landmarks": ("keypoints_3d",),
    "true 2D + 3D": ("keypoints", "keypoints_3d"),
    "true mask": ("mask", "bbox"),
}


def _swapped(detected: list[types.Person], truth: dict[int, types.Person], fields: tuple[str, ...]
             ) -> list[types.Person]:
    """The detected people with `fields` taken from their matched true person (index -> Person)."""
    return [replace(p, **{f: getattr(truth[j], f) for f in fields}) if j in truth else p
            for j, p in enumerate(detected)]


def run(seeds: list[int], conditions: tuple[str, ...], size: int, views: list[int]) -> list[dict]:
    """One record per matched person, condition and variant (plus the oracle people's own run)."""
    cfg = Config(seeds=seeds, n_people=[1 + s % 4 for s in seeds], levels=(0.0, 0.2, 0.4, 0.6), size=size,
                 views=views)  # the levels of the full quality run, so that the occluders are the same
    records = []
    for seed, n in zip(cfg.seeds, cfg.n_people):
        scene = make_crowd(seed, n, cfg.width, cfg.height, cfg.truth_gaussians)
        truths = [truth_views(scene, p, size, views) for p in scene.people]
        rng = np.random.default_rng(scene.seed + 7919)  # the same occluders as the quality benchmark
        for condition, photo, occluder, ratios in scene_inputs(scene, cfg, rng):
            if condition not in conditions:
                continue
            visible = [p.mask & ~occluder if occluder is not None else p.mask for p in scene.people]
            oracle = scale_people(scene.oracle_people(occluder), photo)
            detected = find_people(photo)
            matches = match_people([p.mask for p in detected], visible)
            logging.info("seed %d %s: %d of %d people found", seed, condition, len(matches), n)
            if not matches:  # nobody to compare: every variant would score no one
                continue
            by_id = {o.id: o for o in oracle}
            truth = {j: by_id[scene.people[i].id] for i, (j, _) in matches.items() if scene.people[i].id in by_id}
            people = {name: _swapped(detected, truth, fields) for name, fields in VARIANTS.items()}
            people["oracle people"] = oracle
            for name, given in people.items():
                pred = run_methods(photo, scene.camera, given, ("ours",), "cpu", "fast")["ours"]
                scores, _ = score_people(scene, pred, truths, size, views, visible, ratios, None)
                for i, s in enumerate(scores):
                    if i in matches:  # only people the detector found: the same set under every variant
                        records.append({"seed": seed, "condition": condition, "person": i, "variant": name,
                                        "psnr": s.psnr, "orbit_iou": s.orbit_iou})
    return records


def summarize(records: list[dict], conditions: tuple[str, ...]) -> dict:
    """Mean PSNR / orbit IoU per condition and variant over the people found."""
    out = {}
    for c in conditions:
        rows = [r for r in records if r["condition"] == c]
        out[c] = {v: {"psnr": round(float(np.mean([r["psnr"] for r in rows if r["variant"] == v])), 3),
                      "orbit_iou": round(float(np.mean([r["orbit_iou"] for r in rows if r["variant"] == v])), 3),
                      "people": sum(r["variant"] == v for r in rows)}
                  for v in [*VARIANTS, "oracle people"] if any(r["variant"] == v for r in rows)}
    return out


def write_markdown(path: Path, summary: dict, seeds: list[int], size: int, views: list[int]) -> None:
    """The ablation table, one row per variant, PSNR / orbit IoU per condition."""
    conditions = list(summary)
    lines = [
        "# Where detected people lose to the oracle",
        "",
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, `benchmarks/quality/ablate_people.py`; seeds "
        f"{seeds[0]}-{seeds[-1]}, photo 512x384, {len(views)} of 24 orbit views at {size} px, quality 'fast'.",
        "Only the people the detector found count (the same people in every row); each row replaces one "
        "part of every found person by the truth and reconstructs the scene again.",
        "",
        "| Variant | " + " | ".join(f"{c} PSNR / orbit IoU" for c in conditions) + " |",
        "|---|" + "---|" * len(conditions),
    ]
    for v in [*VARIANTS, "oracle people"]:
        cells = [f"{summary[c][v]['psnr']:.2f} / {summary[c][v]['orbit_iou']:.3f}" if v in summary[c] else "–"
                 for c in conditions]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines += ["", "People found: " + ", ".join(f"{c}: {summary[c]['detected']['people']}" for c in conditions), ""]
    path.write_text("\n".join(lines))


def _seeds(text: str) -> list[int]:
    """'1000-1007' or '1,2,5' -> a list of seeds."""
    if "-" in text:
        lo, hi = (int(v) for v in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(v) for v in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    """Run the ablation, write the table, print the JSON summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1000-1007", help="scene seeds, '1000-1007' or '1,2,5' (1 to 4 people each)")
    parser.add_argument("--conditions", default="occ0,occ40", help="occ0 (unoccluded), occ20, occ40, occ60")
    parser.add_argument("--size", type=int, default=128, help="orbit view size, px")
    parser.add_argument("--out", type=Path, default=RESULTS / "quality_ablation.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    seeds, conditions, views = _seeds(args.seeds), tuple(args.conditions.split(",")), list(range(0, 24, 3))
    summary = summarize(run(seeds, conditions, args.size, views), conditions)
    write_markdown(args.out, summary, seeds, args.size, views)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
