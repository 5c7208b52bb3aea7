"""The methods the benchmark compares, all through the real pipeline stages on one input photo.

- "ours": `pipeline.reconstruct_scene` with completion (the default pipeline);
- "visible_only": the same people and fitted bodies, Gaussians from visible pixels only
  (`build_gaussians(..., complete=False)`), the paper-style no-completion baseline.
People come from detection (`people=None`) or, in the labelled oracle mode, are given.
"""
from __future__ import annotations

import time

from crowdgaussian import types

from .runner import Prediction

METHODS = ("visible_only", "ours")


def run_methods(photo: types.Photo, camera: types.Camera | None, people: list[types.Person] | None,
                methods: tuple[str, ...] = METHODS, device: str = "cpu", quality: str = "fast",
                ) -> dict[str, Prediction]:
    """Predictions of the asked methods for one photo (bodies are fitted once and shared)."""
    from crowdgaussian.gaussians import build_gaussians
    from crowdgaussian.pipeline import QUALITY, reconstruct_scene

    start = time.perf_counter()
    res = reconstruct_scene(photo, camera=camera, device=device, complete=True, quality=quality, people=people)
    roots = [b.root_translation for b in res.bodies]
    out = {"ours": Prediction(res.camera, res.people, roots, res.gaussians, time.perf_counter() - start,
                              res.bodies)}
    if "visible_only" in methods:
        start = time.perf_counter()
        settings = QUALITY[quality]
        gaussians = build_gaussians(photo, res.people, res.bodies, res.camera, device=device,
                                    n_per_person=settings["n_per_person"], complete=False,
                                    fit_steps=settings["fit_steps"])
        out["visible_only"] = Prediction(res.camera, res.people, roots, gaussians, time.perf_counter() - start,
                                         res.bodies)
    return {m: out[m] for m in methods}
