"""SSD anchors and box/keypoint decoding of mediapipe's BlazePose / BlazeFace detectors.

Options come from mediapipe's public graphs (pose_detection_cpu, face_detection_*): all use
fixed-size anchors, so only anchor centres matter; layers sharing a stride share one grid.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class SsdSpec:
    """Anchor layout and decoding options of one mediapipe detector."""

    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int
    num_keypoints: int


POSE = SsdSpec(224, (8, 16, 32, 32, 32), 2, 4)
FACE_FULL = SsdSpec(192, (4,), 1, 6)
FACE_SHORT = SsdSpec(128, (8, 16, 16, 16), 2, 6)


@lru_cache(maxsize=None)
def anchor_centres(spec: SsdSpec) -> np.ndarray:
    """[N, 2] anchor centres in 0..1 (x, y), in mediapipe's SsdAnchorsCalculator order."""
    out = []
    i = 0
    while i < len(spec.strides):
        stride = spec.strides[i]
        n_layers = 1
        while i + n_layers < len(spec.strides) and spec.strides[i + n_layers] == stride:
            n_layers += 1
        grid = int(np.ceil(spec.input_size / stride))
        ys, xs = np.meshgrid((np.arange(grid) + 0.5) / grid, (np.arange(grid) + 0.5) / grid, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(cells, n_layers * spec.anchors_per_layer, axis=0))
        i += n_layers
    return np.concatenate(out)


def decode(spec: SsdSpec, raw_boxes: np.ndarray, raw_scores: np.ndarray,
           min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode raw outputs -> (boxes [M,4] x0 y0 x1 y1, keypoints [M,K,2], scores [M]) in tensor px."""
    anchors = anchor_centres(spec) * spec.input_size
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1).astype(np.float64), -100.0, 100.0)))
    keep = scores >= min_score
    raw, anc, scores = raw_boxes[keep], anchors[keep], scores[keep]
    centre = raw[:, 0:2] + anc
    half = raw[:, 2:4] / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    kps = raw[:, 4:4 + 2 * spec.num_keypoints].reshape(-1, spec.num_keypoints, 2) + anc[:, None, :]
    return boxes, kps, scores
