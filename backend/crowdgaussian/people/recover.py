"""Recover people the detector misses (cut by the border, no face): person pixels no one explains.

Selfie segmentation over the whole photo and tiles marks "person" pixels; those not owned by
any found person form connected regions. A region large and tall enough gets landmark crops
around it; it becomes a person when the crops agree on a skeleton whose visible torso lies on
the region (and, away from the border, when a real face sits on its nose).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from .candidates import LANDMARK_MIN_FLAG, Candidate, consensus
from .geometry import Roi
from .landmarks import run_landmarks

log = logging.getLogger(__name__)

MIN_AREA = 0.01  # region area as a share of the photo: smaller blobs are clutter, not a body
MIN_TALL = 0.6  # height / width of the region's box: bodies are upright-ish, cut or not
MIN_TORSO_POINTS = 3  # of shoulders + hips, visible, inside the photo and on the region
MIN_OVERLAP = 0.5  # share of the region covered by the skeleton's own segmentation
TORSO = np.array([11, 12, 23, 24])
ENLARGE = (1.25, 1.0, 1.6)  # crop side / region's long side


@dataclass
class Region:
    """A connected region of unexplained person pixels."""

    mask: np.ndarray
    box: np.ndarray  # x0 y0 x1 y1 (inclusive px)

    def touches_border(self) -> bool:
        """Whether the region reaches the photo's edge (the person is cut by the frame)."""
        h, w = self.mask.shape
        return bool(self.box[0] <= 1 or self.box[1] <= 1 or self.box[2] >= w - 2 or self.box[3] >= h - 2)


def unexplained_regions(person_prob: np.ndarray, owned: np.ndarray) -> list[Region]:
    """Large, tall connected regions of person pixels (prob >= 0.5) outside every owned mask."""
    h, w = person_prob.shape
    k = max(3, int(round(0.01 * max(h, w))) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    free = (person_prob >= 0.5) & ~cv2.dilate(owned.astype(np.uint8), kernel).astype(bool)
    free = cv2.morphologyEx(free.astype(np.uint8), cv2.MORPH_OPEN, kernel)  # cut thin bridges
    n, labels, stats, _ = cv2.connectedComponentsWithStats(free, connectivity=8)
    regions = []
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if area >= MIN_AREA * h * w and bh >= MIN_TALL * bw:
            regions.append(Region(labels == i, np.array([x, y, x + bw - 1, y + bh - 1], np.float64)))
    return regions


def torso_on_region(cand: Candidate, region: Region) -> int:
    """How many of the shoulders and hips are visible, inside the photo and on the region."""
    h, w = region.mask.shape
    count = 0
    for i in TORSO:
        x, y = np.round(cand.points[i]).astype(int)
        if cand.visibility[i] >= 0.5 and 0 <= x < w and 0 <= y < h and region.mask[y, x]:
            count += 1
    return count


def region_candidate(rgb: np.ndarray, region: Region) -> Candidate | None:
    """Consensus skeleton of crops around the region, if it agrees with the region's pixels."""
    x0, y0, x1, y1 = region.box
    side = max(x1 - x0, y1 - y0) + 1
    results = []
    for enlarge in ENLARGE:
        roi = Roi(float((x0 + x1) / 2), float((y0 + y1) / 2), float(side * enlarge))
        for _ in range(2):  # the crop, then the model's own re-crop
            lm = run_landmarks(rgb, roi)
            if lm.flag < LANDMARK_MIN_FLAG:
                break
            results.append(lm)
            roi = lm.refined_roi()
    if not results:
        return None
    cand = consensus(results, 0.0, None)
    seg = cand.landmarks.segmentation(region.mask.shape) >= 0.5
    overlap = float((seg & region.mask).sum()) / float(region.mask.sum())
    torso = torso_on_region(cand, region)
    log.debug("region %s: %d crops, torso %d, overlap %.2f", region.box, len(results), torso, overlap)
    if torso < MIN_TORSO_POINTS or overlap < MIN_OVERLAP:
        return None
    return cand
