"""From raw detections to one verified landmark result per person (tiles, identity check, dedup)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .detect import PoseDetection, detect_poses
from .geometry import Roi, roi_from_points, square_tiles
from .landmarks import FULL_BODY_ENLARGE, LandmarkResult, run_landmarks

log = logging.getLogger(__name__)

DETECTION_MIN_SCORE = 0.5  # mediapipe pose graph's default min_detection_confidence
LANDMARK_MIN_FLAG = 0.5  # mediapipe's min pose presence
MAX_NOSE_OFFSET = 0.35  # identity check: nose within this x upper-body scale of the detected face
SEEDS_PER_PERSON = 3  # raw detections (tiles/scales) tried as crop seeds per person
NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 0, 11, 12, 23, 24
CORE = np.array([0, 2, 5, 7, 8, 11, 12, 23, 24])  # head and torso points used to compare skeletons


@dataclass
class Candidate:
    """One person hypothesis: its best landmark result and the detections that support it."""

    landmarks: LandmarkResult
    detection_score: float
    face: np.ndarray | None  # detector face centre (photo px), None when recovered from segmentation
    nose_offset: float  # identity check value (0 = nose on the detected face)


def upper_scale(det: PoseDetection) -> float:
    """The detector's upper-body scale (mid-shoulder to its scale point), in px."""
    return float(np.linalg.norm(det.keypoints[3] - det.keypoints[2]))


def all_detections(rgb: np.ndarray) -> list[PoseDetection]:
    """Pose detections from the whole photo and overlapping tiles (small people need tiles)."""
    dets = []
    for roi in square_tiles(rgb.shape[1], rgb.shape[0]):
        dets += detect_poses(rgb, roi, DETECTION_MIN_SCORE)
    return dets


def cluster_by_face(dets: list[PoseDetection]) -> list[list[PoseDetection]]:
    """Group detections whose face centres nearly coincide (same person seen from several tiles), best first."""
    order = sorted(dets, key=lambda d: -d.score)
    clusters: list[list[PoseDetection]] = []
    for d in order:
        for c in clusters:
            ref = c[0]
            if np.linalg.norm(d.face - ref.face) < MAX_NOSE_OFFSET * min(upper_scale(d), upper_scale(ref)):
                c.append(d)
                break
        else:
            clusters.append([d])
    return clusters


def seed_rois(det: PoseDetection) -> list[Roi]:
    """Crops to try for one detection: full-body x1.25 (mediapipe), upper-body x2.0, full-body x1.0."""
    k = det.keypoints
    return [roi_from_points(k[0], k[1], FULL_BODY_ENLARGE), roi_from_points(k[2], k[3], 2.0),
            roi_from_points(k[0], k[1], 1.0)]


def verify_cluster(rgb: np.ndarray, cluster: list[PoseDetection]) -> Candidate | None:
    """Best landmark result whose nose lands on the detected face; None if no crop passes the check."""
    best: Candidate | None = None
    for det in cluster[:SEEDS_PER_PERSON]:
        scale = max(upper_scale(det), 1.0)
        for roi in seed_rois(det):
            for attempt in range(2):  # the crop, then mediapipe's re-crop from the model's own hips
                lm = run_landmarks(rgb, roi)
                if lm.flag < LANDMARK_MIN_FLAG:
                    break
                offset = float(np.linalg.norm(lm.points[NOSE] - det.face)) / scale
                if offset <= MAX_NOSE_OFFSET and (best is None or _better(lm, offset, best)):
                    best = Candidate(lm, cluster[0].score, cluster[0].face, offset)
                roi = lm.refined_roi()
            if best is not None and best.nose_offset < 0.15 and best.landmarks.flag > 0.9:
                return best
    return best


def _better(lm: LandmarkResult, offset: float, other: Candidate) -> bool:
    """Prefer a confident result whose nose sits closer to the detected face."""
    return lm.flag * (1.0 - offset) > other.landmarks.flag * (1.0 - other.nose_offset)


def body_scale(points: np.ndarray) -> float:
    """Torso size in px: mid-shoulder to mid-hip, at least the shoulder width."""
    shoulders = (points[L_SHOULDER] + points[R_SHOULDER]) / 2
    hips = (points[L_HIP] + points[R_HIP]) / 2
    return float(max(np.linalg.norm(shoulders - hips), np.linalg.norm(points[L_SHOULDER] - points[R_SHOULDER]), 1.0))


def same_person(a: LandmarkResult, b: LandmarkResult) -> bool:
    """Two results describe one person when their head and torso points nearly coincide."""
    d = np.linalg.norm(a.points[CORE] - b.points[CORE], axis=1)
    return float(np.median(d)) < 0.2 * min(body_scale(a.points), body_scale(b.points))


def dedupe(cands: list[Candidate]) -> list[Candidate]:
    """Keep the most confident of candidates that describe the same person."""
    kept: list[Candidate] = []
    for c in sorted(cands, key=lambda c: -c.landmarks.flag * c.detection_score):
        if not any(same_person(c.landmarks, k.landmarks) for k in kept):
            kept.append(c)
    return kept


def detected_candidates(rgb: np.ndarray) -> list[Candidate]:
    """Every person the pose detector finds (whole photo + tiles) that passes the identity check."""
    clusters = cluster_by_face(all_detections(rgb))
    log.debug("%d detection clusters", len(clusters))
    cands = [c for c in (verify_cluster(rgb, cl) for cl in clusters) if c is not None]
    return dedupe(cands)
