"""Progress reporting: a tqdm bar on a terminal, or the JSON-lines protocol for the add-on.

Protocol (`--progress json`): stdout carries one JSON object per line,
{"stage": str, "progress": 0..1 (whole run), "message": str}, then exactly one final
{"result": bundle_path} or {"error": message}. Logs go to stderr.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

Report = Callable[[float, str], None]


class Progress:
    """Weighted stages -> one overall fraction, shown as a bar or emitted as JSON lines."""

    def __init__(self, stages: dict[str, float], mode: str = "bar", stream: TextIO | None = None) -> None:
        total = sum(stages.values())
        self._start: dict[str, float] = {}
        acc = 0.0
        for name, weight in stages.items():
            self._start[name] = acc / total
            acc += weight
        self._weight = {name: w / total for name, w in stages.items()}
        self.mode = mode
        self._stream = stream or (sys.stdout if mode == "json" else sys.stderr)
        self._bar: tqdm | None = None
        self.timings: dict[str, float] = {}
        if mode == "bar":
            # the size is given: on a terminal that reports none (0 x 0, a bare pseudo-terminal) tqdm
            # would draw nothing at all; shutil falls back to $COLUMNS / $LINES, then 80 x 24 (one
            # column less, as tqdm takes it, so that the line never wraps)
            size = shutil.get_terminal_size()
            self._bar = tqdm(total=1000, file=self._stream, unit="", ncols=size.columns - 1, nrows=size.lines - 1,
                             bar_format="{desc:<40}{percentage:3.0f}%|{bar}| {elapsed}")

    def _emit(self, stage: str, fraction: float, message: str) -> None:
        overall = min(1.0, self._start[stage] + self._weight[stage] * max(0.0, min(1.0, fraction)))
        if self.mode == "json":
            self.send({"stage": stage, "progress": round(overall, 4), "message": message})
        elif self._bar is not None:
            self._bar.set_description_str(f"{stage}: {message}"[:40], refresh=False)
            self._bar.n = int(overall * 1000)
            self._bar.refresh()

    @contextmanager
    def stage(self, name: str) -> Iterator[Report]:
        """Context for one stage; yields report(fraction_of_stage, message) and records its time."""
        t0 = time.perf_counter()
        self._emit(name, 0.0, "started")
        yield lambda fraction, message="": self._emit(name, fraction, message)
        self.timings[name] = time.perf_counter() - t0
        self._emit(name, 1.0, f"done in {self.timings[name]:.1f} s")

    def send(self, obj: dict) -> None:
        """Write one protocol object (JSON mode only writes to the stream)."""
        if self.mode == "json":
            self._stream.write(json.dumps(obj) + "\n")
            self._stream.flush()

    def close(self) -> None:
        """Finish the bar (no-op in JSON mode)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
