"""Cost of the default pipeline for one photo of N people, measured in a fresh process.

    python -m crowdgaussian.eval.scale '{"n": 4, "seed": 1504, "width": 512, "height": 384, ...}'

prints one JSON line: seconds, peak_mb (resident memory the reconstruction added, sampled),
peak_rss_mb (the process's high-water mark) and n_reconstructed. A fresh process per size
keeps the memory figure honest (a warm process reuses what its allocator already holds);
a 1-person warm-up run first loads the models, so `seconds` is the cost of the photo alone.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

from crowdgaussian.errors import CrowdGaussianError
from crowdgaussian.synth.crowd import make_crowd

from .methods import run_methods


def _status_mb(key: str) -> float:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in MiB; 0 where unavailable."""
    try:
        with open(f"/proc/{os.getpid()}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PeakRss:
    """Context manager sampling this process's resident memory; `.peak_mb` above the start."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, _status_mb("VmRSS") - self._start)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._start = _status_mb("VmRSS")
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _status_mb("VmRSS") - self._start)


def measure(n: int, seed: int, width: int, height: int, truth_gaussians: int, people_mode: str, quality: str,
            device: str) -> dict:
    """Seconds and memory of `run_methods(..., ("ours",))` on a synthetic photo of n people."""
    import torch

    torch.set_num_threads(2)
    warm = make_crowd(seed + 100000, 1, width, height, truth_gaussians)
    run_methods(warm.photo, warm.camera, warm.oracle_people(), ("ours",), device, quality)
    scene = make_crowd(seed, n, width, height, truth_gaussians)
    people = scene.oracle_people() if people_mode == "oracle" else None
    with PeakRss() as mem:
        start = time.perf_counter()
        try:
            found = len(run_methods(scene.photo, scene.camera, people, ("ours",), device, quality)["ours"].people)
        except CrowdGaussianError:
            found = 0
        seconds = time.perf_counter() - start
    return {"n_people": n, "seconds": round(seconds, 2), "peak_mb": round(mem.peak_mb, 1),
            "peak_rss_mb": round(_status_mb("VmHWM"), 1), "n_reconstructed": found}


if __name__ == "__main__":
    print(json.dumps(measure(**json.loads(sys.argv[1]))), flush=True)
