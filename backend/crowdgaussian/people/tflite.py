"""Cached ai-edge-litert interpreters for the mediapipe tflite models (loaded once per process)."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from functools import lru_cache

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from ..models import mediapipe_model

NUM_THREADS = 2  # the budget is a 2-core CPU; more threads only contend
_lock = threading.Lock()  # an Interpreter is not re-entrant
log = logging.getLogger(__name__)


@lru_cache(maxsize=None)
def interpreter(name: str) -> Interpreter:
    """The allocated interpreter of mediapipe model `name` (e.g. "pose_detection")."""
    with _native_stderr_to_log():
        it = Interpreter(model_path=str(mediapipe_model(name)), num_threads=NUM_THREADS)
        it.allocate_tensors()
    return it


@contextlib.contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Send what the TFLite runtime prints straight to file descriptor 2 (its "Created TensorFlow
    Lite XNNPACK delegate" line) to the log instead: on a terminal it broke the progress bar."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                log.info("tflite: %s", line)


def input_size(name: str) -> tuple[int, int]:
    """(height, width) of the model's input tensor."""
    shape = interpreter(name).get_input_details()[0]["shape"]
    return int(shape[1]), int(shape[2])


def run(name: str, tensor: np.ndarray) -> list[np.ndarray]:
    """Run model `name` on one [H, W, 3] float32 tensor; outputs (batch dim dropped) in model order."""
    it = interpreter(name)
    with _lock:
        it.set_tensor(it.get_input_details()[0]["index"], tensor[None].astype(np.float32))
        it.invoke()
        return [it.get_tensor(d["index"])[0].copy() for d in it.get_output_details()]
