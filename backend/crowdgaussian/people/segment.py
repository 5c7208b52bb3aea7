"""Class-level "person pixel" probability from mediapipe's selfie segmentation, whole photo + tiles."""
from __future__ import annotations

import numpy as np

from . import tflite
from .geometry import crop, square_tiles, tensor_map_to_photo

MODEL = "selfie_segmentation"


def person_probability(rgb: np.ndarray, levels: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """[H, W] float32 probability that a pixel shows a person: max over the whole photo and tiles."""
    h, w = rgb.shape[:2]
    size = tflite.input_size(MODEL)[0]
    prob = np.zeros((h, w), np.float32)
    for roi in square_tiles(w, h, levels):
        tensor, m = crop(rgb, roi, size)
        out = tflite.run(MODEL, tensor)[0][..., 0]
        np.maximum(prob, tensor_map_to_photo(m, out, (h, w), fill=0.0), out=prob)
    return prob
