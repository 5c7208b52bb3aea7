"""Photo -> scene bundle: runs the stages in order, reports progress, writes atomically."""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from .bundle import SceneResult, write_bundle
from .camera import default_camera
from .errors import CrowdGaussianError
from .image_io import load_photo
from .progress import Progress
from .types import Body, Camera, Gaussians, Person, Photo

log = logging.getLogger(__name__)

# Relative stage weights for the overall progress fraction (roughly their CPU time share).
STAGES = {"load": 1.0, "people": 6.0, "bodies": 25.0, "gaussians": 45.0, "previews": 15.0, "write": 3.0}

# Quality presets: Gaussians per person and photometric-fit steps.
QUALITY = {
    "fast": {"n_per_person": 20000, "fit_steps": 30},
    "default": {"n_per_person": 24000, "fit_steps": None},
    "high": {"n_per_person": 60000, "fit_steps": 300},
}
# A person whose fitted body the photo sees almost none of (behind the others in the depth
# test) is invented, not reconstructed: on real photos a "person" around a face-like fold of a
# suit kept 2 of 24,000 Gaussians seen; real people under 60 % occlusion keep 75 or more of 20,000.
MIN_SEEN_SHARE = 0.001


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when a CUDA GPU and gsplat's kernels are usable, else 'cpu'; 'cuda'
    without a GPU is an error (without gsplat it runs, rendering on the CPU)."""
    import torch

    from .render import gsplat_available

    if device == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        if gsplat_available():
            return "cuda"
        log.warning("a CUDA GPU is present but gsplat's kernels are not: running on the CPU "
                    "(python3 build.py demo --cuda installs gsplat)")
        return "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise CrowdGaussianError("--device cuda was asked for, but no CUDA GPU is available to torch")
    if device not in ("cpu", "cuda"):
        raise CrowdGaussianError(f"unknown device {device!r} (use auto, cpu or cuda)")
    return device


def reconstruct_scene(photo: Photo, camera: Camera | None = None, device: str = "cpu",
                      max_persons: int | None = None, complete: bool = True, quality: str = "default",
                      progress: Progress | None = None, people: list[Person] | None = None) -> SceneResult:
    """Run people -> bodies -> gaussians on a decoded photo, in memory.

    `people` may be given (e.g. ground-truth detections in the quality benchmark) to skip
    detection; their masks are then kept as given, while detected masks are made to agree
    with the fitted bodies' depth order where people overlap.
    """
    from .bodies import fit_bodies
    from .bodies.ownership import masks_from_bodies
    from .gaussians import build_gaussians
    from .people import find_people

    progress = progress or Progress(STAGES, mode="none")
    camera = camera or default_camera(photo)
    settings = QUALITY[quality]
    detected = people is None
    if detected:
        with progress.stage("people") as report:
            people = find_people(photo, max_persons=max_persons, report=report)
    if not people:
        raise CrowdGaussianError(f"{photo.path}: no people found in the photo")
    with progress.stage("bodies") as report:
        bodies, camera = fit_bodies(photo, people, camera, device=device, report=report)
        if detected:
            people = masks_from_bodies(photo, people, bodies, camera)
    with progress.stage("gaussians") as report:
        gaussians = build_gaussians(photo, people, bodies, camera, device=device,
                                    n_per_person=settings["n_per_person"], complete=complete,
                                    fit_steps=settings["fit_steps"], report=report)
    people, bodies, gaussians = _seen_people(people, bodies, gaussians, MIN_SEEN_SHARE * settings["n_per_person"])
    if not people:
        raise CrowdGaussianError(f"{photo.path}: no person is visible enough to reconstruct")
    return SceneResult(photo=photo, camera=camera, people=people, bodies=bodies, gaussians=gaussians)


def _seen_people(people: list[Person], bodies: list[Body], gaussians: list[Gaussians],
                 min_seen: float) -> tuple[list[Person], list[Body], list[Gaussians]]:
    """The people whose Gaussians the photo sees at least `min_seen` of, renumbered 0.. in order."""
    keep = [i for i, g in enumerate(gaussians) if g.visible.sum() >= min_seen]
    if len(keep) == len(bodies):
        return people, bodies, gaussians
    for i in sorted(set(range(len(bodies))) - set(keep)):
        log.warning("person %d dropped: the photo sees %d of its Gaussians, the rest is hidden behind others",
                    bodies[i].person_id, int(gaussians[i].visible.sum()))
    by_id = {p.id: p for p in people}
    people = [dataclasses.replace(by_id[bodies[i].person_id], id=n) for n, i in enumerate(keep)]
    bodies = [dataclasses.replace(bodies[i], person_id=n) for n, i in enumerate(keep)]
    return people, bodies, [gaussians[i] for i in keep]


def check_output(out_dir: Path, overwrite: bool) -> None:
    """Fail before any work if the bundle cannot be written where asked."""
    if out_dir.exists() and not overwrite:
        raise CrowdGaussianError(f"{out_dir} already exists (use --overwrite to replace it)")
    if out_dir.exists() and not out_dir.is_dir():
        raise CrowdGaussianError(f"{out_dir} exists and is not a folder")
    parent = out_dir.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise CrowdGaussianError(f"cannot write to {out_dir}: {parent} is not a writable folder")


def reconstruct(image: str | Path, out_dir: str | Path, device: str = "auto", max_persons: int | None = None,
                quality: str = "default", overwrite: bool = False, progress: Progress | None = None) -> Path:
    """Reconstruct every person in `image` into a scene bundle at `out_dir`; returns its path."""
    import torch

    out_dir = Path(out_dir).absolute()
    check_output(out_dir, overwrite)
    if quality not in QUALITY:
        raise CrowdGaussianError(f"unknown quality {quality!r} (use {', '.join(QUALITY)})")
    device = resolve_device(device)
    progress = progress or Progress(STAGES, mode="none")
    try:
        with progress.stage("load") as report:
            report(0.1, Path(image).name)
            photo = load_photo(image)
        scene = reconstruct_scene(photo, device=device, max_persons=max_persons, quality=quality,
                                  progress=progress)
        with progress.stage("previews") as report:
            from . import previews
            from .people import draw_detections

            report(0.0, "detections")
            pictures = {"detections": draw_detections(photo, scene.people)}
            report(0.2, "overlay")
            pictures["overlay"] = previews.overlay(scene, device=device)
            report(0.5, "orbit views")
            pictures["views"] = previews.orbit_grid(scene, device=device)
        with progress.stage("write") as report:
            report(0.1, str(out_dir))
            return write_bundle(out_dir, scene, pictures, overwrite=overwrite)
    except torch.cuda.OutOfMemoryError:
        raise CrowdGaussianError("the GPU ran out of memory: try --device cpu, --quality fast "
                                 "or fewer --max-persons") from None
