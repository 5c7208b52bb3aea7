"""Recover people the first pass misses (cut by the border, no face) by explaining the found ones away.

With every found person inpainted away, the models stop snapping to them: the pose detector
and the selfie segmentation then fire on what is left, and the landmark model, cropped there,
describes the remaining person. A skeleton from such crops becomes a person when its visible
torso lies on its own unexplained segmentation (or beyond the photo's edge), the crops agree
on it, and either a real face sits on its nose or the frame cuts that face (a faceless
skeleton with its face in view is as likely a flower or a blurred crowd as a person).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from ..image_io import frame_side
from .candidates import (CORE, LANDMARK_MIN_FLAG, Candidate, all_detections, body_scale, cluster_by_face, consensus,
                         seed_rois)
from .faces import neck_length
from .geometry import Roi
from .landmarks import LandmarkResult, run_landmarks
from .segment import person_probability

log = logging.getLogger(__name__)

MIN_AREA = 0.004  # unexplained person area as a share of the photo: smaller blobs are clutter
MIN_TALL = 0.6  # height / width of a selfie region's box: bodies are upright-ish, cut or not
MIN_TORSO_POINTS = 3  # of shoulders + hips: visible, and on the person's pixels or beyond the edge
MIN_TORSO_ON = 1  # ... of which on the person's pixels inside the photo (not a skeleton wholly off-frame),
MIN_LIMBS_ON = 3  # ... or the nose and this many visible elbows, wrists, knees, ankles on them: the torso cut
# off by the edge, the head in view (a skeleton with neither head nor torso in the photo is only limbs:
# on bus.jpg's leopard-coat sliver at the left border such crops squash a whole body into the coat)
LIMBS = np.array([13, 14, 15, 16, 25, 26, 27, 28])
RECOVERY_MIN_FLAG = 0.25  # half mediapipe's 0.5, for people cut by the frame only (see Recovered.strong):
# there the pose flag swings from 0.02 to 0.94 as the crop moves by a tenth of its side while the
# points hold still (bus.jpg's man walking out on the right, blurred); elsewhere such crops let in
# clutter that a face-like patch then confirms (a galaxy field, a motorcycle)
TORSO = np.array([11, 12, 23, 24])
NOSE = 0
FACE_CUT = 0.5  # nose within this many neck lengths of the edge: half the face is out (cut people: 0.23..0.34)
MIN_CROPS = 2  # a lone crop's answer is not evidence
MIN_WEAK_CROPS = 3  # ... and two weak ones (flag under 0.5) are not either (bus.jpg rotated 5 degrees: a
# skeleton on the coat hem at the corner, where the rotation's black wedge meets it)
MAX_SPREAD = 0.2  # crops must agree: median head/torso point offset per torso size (people: <= 0.05)
EDGE_MARGIN = 0.01  # "on the edge" tolerance, share of the long side
ENLARGE = (1.25, 1.0, 1.6)  # crop side / selfie region's long side
BORDER_SHIFTS = (0.15, 0.3)  # a region cut by the frame: crops also centred this share of its side towards the edge
INPAINT_SIDE = 320  # px: inpainting resolution (large holes, low detail needed)
DETECTION_SEEDS = 1  # detections per cluster used as crop seeds
MAX_CLUSTERS = 8  # leftover detection clusters tried, best first (bounds the cost on busy photos)


@dataclass
class Recovered:
    """A skeleton found on the explained-away photo, with the unexplained pixels it covers."""

    cand: Candidate
    pixels: np.ndarray  # bool [H, W]: its own segmentation minus everybody found before
    strong: bool  # at least MIN_CROPS crops with mediapipe's own pose flag (0.5), not only RECOVERY_MIN_FLAG

    def touches_border(self) -> bool:
        """Whether its pixels reach the photo's edge (the person is cut by the frame)."""
        h, w = self.pixels.shape
        m = max(1, int(round(EDGE_MARGIN * frame_side(w, h))))
        return bool(self.pixels[:m].any() or self.pixels[-m:].any() or self.pixels[:, :m].any()
                    or self.pixels[:, -m:].any())


def explain_away(rgb: np.ndarray, owned: np.ndarray) -> np.ndarray:
    """Copy of the photo with the found people (slightly grown) inpainted away from their surroundings.

    Inpainting (not a flat fill) matters: a black silhouette still looks like a person to the
    detector. It runs on a copy shrunk to INPAINT_SIDE px, so the cost does not grow with the photo.
    """
    h, w = owned.shape
    k = max(3, int(round(EDGE_MARGIN * frame_side(w, h))) | 1)
    grown = cv2.dilate(owned.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    f = min(1.0, INPAINT_SIDE / max(h, w))
    small = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(grown, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    filled = cv2.inpaint(small, small_mask, 3, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    out = rgb.copy()
    out[grown.astype(bool)] = filled[grown.astype(bool)]
    return out


def selfie_regions(blanked: np.ndarray) -> list[np.ndarray]:
    """Boxes (x0 y0 x1 y1) of large, tall connected regions of selfie-segmentation person pixels."""
    h, w = blanked.shape[:2]
    k = max(3, int(round(EDGE_MARGIN * frame_side(w, h))) | 1)
    person = (person_probability(blanked) >= 0.5).astype(np.uint8)
    person = cv2.morphologyEx(person, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(person, connectivity=8)
    boxes = []
    for x, y, bw, bh, area in stats[1:]:
        if area >= 2 * MIN_AREA * h * w and bh >= MIN_TALL * bw:
            boxes.append(np.array([x, y, x + bw - 1, y + bh - 1], np.float64))
    return boxes


def seed_sets(blanked: np.ndarray) -> list[list[Roi]]:
    """Crop sets to try, one per leftover detection cluster and per leftover selfie region."""
    sets = []
    for cluster in cluster_by_face(all_detections(blanked))[:MAX_CLUSTERS]:
        sets.append([roi for det in cluster[:DETECTION_SEEDS] for roi in seed_rois(det)])
    shifted = []
    for x0, y0, x1, y1 in selfie_regions(blanked):
        side = max(x1 - x0, y1 - y0) + 1
        cx, cy = float((x0 + x1) / 2), float((y0 + y1) / 2)
        rois = [Roi(cx, cy, float(side * e)) for e in ENLARGE]
        rois.append(Roi(cx, float(y0 + side), float(2 * side)))  # the region may be only the upper body
        sets.append(rois)
        # tried last, when the crops above found nobody: their masks miss what lies near the
        # crop's far side (bus.jpg at half size: the arm of the man walking out on the right)
        shifted += [[Roi(cx + f * side * dx, cy + f * side * dy, float(side * e))
                     for f in BORDER_SHIFTS for e in ENLARGE[:2]]
                    for dx, dy in _towards_edges((x0, y0, x1, y1), blanked.shape[:2])]
    return sets + shifted


def _towards_edges(box: tuple[float, float, float, float], shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Unit steps (dx, dy) towards each photo edge the box touches: the person continues beyond it,
    so the body's centre lies nearer that edge than the region's."""
    h, w = shape
    x0, y0, x1, y1 = box
    m = EDGE_MARGIN * frame_side(w, h)
    return [d for d, cut in (((-1, 0), x0 <= m), ((1, 0), x1 >= w - 1 - m), ((0, -1), y0 <= m),
                             ((0, 1), y1 >= h - 1 - m)) if cut]


def seen_on(points: np.ndarray, visibility: np.ndarray, pixels: np.ndarray, which: np.ndarray) -> tuple[int, int]:
    """(visible points `which` on `pixels`, visible ones beyond the photo's edge)."""
    h, w = pixels.shape
    seen = [points[i] for i in which if visibility[i] >= 0.5]
    beyond = sum(not (0 <= round(x) < w and 0 <= round(y) < h) for x, y in seen)
    return sum(_on(pixels, p) for p in seen), beyond


def _on(mask: np.ndarray, point: np.ndarray) -> bool:
    """Whether a photo point falls on a True pixel of `mask` (False outside the photo)."""
    x, y = np.round(point).astype(int)
    return bool(0 <= x < mask.shape[1] and 0 <= y < mask.shape[0] and mask[y, x])


def face_cut(points: np.ndarray, shape: tuple[int, int]) -> bool:
    """Whether the frame cuts the face: the nose lies beyond the edge or within half a neck length of it."""
    h, w = shape
    x, y = points[NOSE]
    return bool(min(x, y, w - 1 - x, h - 1 - y) <= FACE_CUT * neck_length(points))


def recover(blanked: np.ndarray, owned: np.ndarray, rois: list[Roi]) -> Recovered | None:
    """Consensus skeleton of the crops on the blanked photo, if it stands on enough unexplained pixels."""
    h, w = owned.shape
    results: list[LandmarkResult] = []
    for roi in rois:
        for _ in range(2):  # the crop, then the model's own re-crop
            lm = run_landmarks(blanked, roi)
            if lm.flag < RECOVERY_MIN_FLAG:
                break
            results.append(lm)
            roi = lm.refined_roi()
    confident = [r for r in results if r.flag >= LANDMARK_MIN_FLAG]
    strong = len(confident) >= MIN_CROPS
    if strong:
        results = confident  # the weak crops' limbs stray (a cut man's arms spread wide with them)
    if not results:
        return None
    cand = consensus(results, 0.0, None)
    if cand is None:
        return None  # upside down
    pixels = (cand.segmentation((h, w)) >= 0.5) & ~owned
    area = float(pixels.sum()) / (h * w)
    on, beyond = seen_on(cand.points, cand.visibility, pixels, TORSO)
    limbs, _ = seen_on(cand.points, cand.visibility, pixels, LIMBS)
    scale = body_scale(cand.points)
    spread = float(np.median([np.median(np.linalg.norm(r.points[CORE] - cand.points[CORE], axis=1))
                              for r in results])) / scale
    log.debug("recovery at %s: %d crops, torso %d on + %d beyond, limbs %d on, area %.3f, spread %.2f",
              cand.points[NOSE].round(), len(results), on, beyond, limbs, area, spread)
    in_view = on >= MIN_TORSO_ON or (limbs >= MIN_LIMBS_ON and _on(pixels, cand.points[NOSE]))  # torso, or head + limbs
    if (len(results) < (MIN_CROPS if strong else MIN_WEAK_CROPS) or spread > MAX_SPREAD
            or on + beyond < MIN_TORSO_POINTS or not in_view or area < MIN_AREA or _on(owned, cand.points[NOSE])):
        return None  # crops disagree, too little of it, or its face is a found person's (inpainted away)
    cand.detection_score = min(1.0, area / (4 * MIN_AREA))  # unexplained area stands in for a detector score
    return Recovered(cand, pixels, strong)
