"""BlazePose full landmark model on one rotated square crop: 33 keypoints, world points, segmentation."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import tflite
from .geometry import Roi, crop, roi_from_points, tensor_map_to_photo, to_photo

MODEL = "pose_landmark_full"
HIP_CENTRE, SCALE_POINT = 33, 34  # auxiliary points the model predicts for the next crop
FULL_BODY_ENLARGE = 1.25  # mediapipe's landmarks-to-ROI enlargement


@dataclass
class LandmarkResult:
    """The landmark model's answer for one crop, in photo pixels."""

    roi: Roi
    flag: float  # probability that a person fills the crop
    points: np.ndarray  # [39, 2] photo px (33 body + 6 auxiliary)
    visibility: np.ndarray  # [39] 0..1
    presence: np.ndarray  # [39] 0..1 (inside the crop, not necessarily unoccluded)
    world: np.ndarray  # [39, 3] meters, hip-centred, rotated like the crop
    seg_logits: np.ndarray  # [256, 256] logits in crop space
    affine: np.ndarray  # photo -> crop affine of the 256 crop

    def segmentation(self, shape: tuple[int, int]) -> np.ndarray:
        """Person probability [H, W] on the photo grid (0 outside the crop)."""
        logits = tensor_map_to_photo(self.affine, self.seg_logits, shape, fill=-20.0)
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -20.0, 20.0)))

    def refined_roi(self) -> Roi:
        """Mediapipe's tracking ROI from the model's own hip centre and scale point."""
        return roi_from_points(self.points[HIP_CENTRE], self.points[SCALE_POINT], FULL_BODY_ENLARGE)


def run_landmarks(rgb: np.ndarray, roi: Roi) -> LandmarkResult:
    """Run the landmark model on `roi` (border pixels replicated, as mediapipe does)."""
    h, w = tflite.input_size(MODEL)
    tensor, m = crop(rgb, roi, w, border=cv2.BORDER_REPLICATE)
    outs = tflite.run(MODEL, tensor)
    raw = next(o for o in outs if o.shape == (195,)).reshape(39, 5).astype(np.float64)
    flag = float(next(o for o in outs if o.shape == (1,))[0])
    seg = next(o for o in outs if o.shape == (h, w, 1))[..., 0]
    world = next(o for o in outs if o.shape == (117,)).reshape(39, 3).astype(np.float64)
    heatmap = next(o for o in outs if o.ndim == 3 and o.shape[-1] == 39)
    raw[:, :2] = refine_with_heatmap(raw[:, :2] / w, heatmap) * w
    c, s = np.cos(roi.rotation), np.sin(roi.rotation)
    world[:, :2] = world[:, :2] @ np.array([[c, s], [-s, c]])  # undo the crop's rotation (x right, y down)
    return LandmarkResult(
        roi=roi, flag=flag, points=to_photo(m, raw[:, :2]),
        visibility=_sigmoid(raw[:, 3]), presence=_sigmoid(raw[:, 4]),
        world=world, seg_logits=seg, affine=m)


def refine_with_heatmap(xy: np.ndarray, heatmap: np.ndarray, kernel: int = 7, min_confidence: float = 0.5
                        ) -> np.ndarray:
    """Mediapipe's RefineLandmarksFromHeatmap: confidence-weighted mean of a kernel window around each point.

    xy: [N, 2] normalised 0..1 crop coordinates; heatmap: [h, w, N] logits. Points whose window
    peaks below `min_confidence` (or that fall outside the heatmap) are left as they are.
    """
    hh, hw, _ = heatmap.shape
    out = xy.copy()
    half = (kernel - 1) // 2
    for i, (x, y) in enumerate(xy):
        col, row = int(x * hw), int(y * hh)
        if not (0 <= col < hw and 0 <= row < hh):
            continue
        win = _sigmoid(heatmap[max(0, row - half):row + half + 1, max(0, col - half):col + half + 1, i])
        if win.max() < min_confidence or win.sum() <= 0:
            continue
        rows, cols = np.mgrid[max(0, row - half):max(0, row - half) + win.shape[0],
                              max(0, col - half):max(0, col - half) + win.shape[1]]
        out[i] = ((cols * win).sum() / win.sum() / hw, (rows * win).sum() / win.sum() / hh)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, clipped so large logits do not overflow."""
    return 1.0 / (1.0 + np.exp(-np.clip(x.astype(np.float64), -50.0, 50.0)))
