"""From raw detections to one verified landmark result per person (tiles, identity check, dedup)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from . import ssd
from .detect import PoseDetection, detect_poses
from .faces import Face
from .geometry import Roi, roi_from_points, square_tiles
from .landmarks import FULL_BODY_ENLARGE, LandmarkResult, run_landmarks

log = logging.getLogger(__name__)

DETECTION_MIN_SCORE = 0.3  # below the graph default (0.5): the face check removes what this lets in
LANDMARK_MIN_FLAG = 0.5  # mediapipe's min pose presence
MAX_NOSE_OFFSET = 0.35  # identity check: nose within this x upper-body scale of the detected face
SEEDS_PER_PERSON = 2  # raw detections (tiles/scales) tried as crop seeds per person
MAX_CLUSTERS = 40  # detection clusters verified, best first (bounds the cost on busy photos)
# Small people: at square_tiles' default levels (tiles down to a quarter of the frame) the pose
# detector misses a person a few pixels tall in its input (synthetic groups 8-10 m away in 1600-px
# photos: 34 of the 81 people more than half in view found, 62 with these). Finer tiles only where
# a tile still spans at least that input in photo pixels: finer ones upsample, which adds no detail
# but fired on both motorcycles of scikit-image's samples.
FINE_LEVELS = (6, 8)
FACE_NOSE_OFFSET = 0.5  # face-seeded crops: nose within this x face width of the face centre (inside the box)
FACE_CROPS = ((1.0, 5.0), (3.5, 9.0))  # (centre below the face, side) in face widths: upper body, whole body
NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 0, 11, 12, 23, 24
MAX_TILT = 135.0  # degrees from image up beyond which a torso counts as upside down (head well below the hips)
CORE = np.array([0, 2, 5, 7, 8, 11, 12, 23, 24])  # head and torso points used to compare skeletons
# A person turned away shows no face, so the face check cannot confirm them; a skeleton is
# taken without a face only when it is upright, seen from behind and strongly supported. Seated
# people from behind reach detector 0.69-0.8 with 5-12 crops; on 32 real photos (bus, zidane,
# grace_hopper, pixel, sklearn's and scikit-image's samples) faceless skeletons seen from behind
# reach at most detector 0.56 (2 crops) or 6 crops (detector 0.39).
BACK_MIN_DETECTION = 0.65  # detector score (the graph's default threshold is 0.5)
BACK_MIN_FLAG = 0.9  # landmark model's pose flag
BACK_MIN_SUPPORT = 5  # agreeing crops, of the 12 verify_cluster tries
BACK_MIN_WIDTH = 0.25  # shoulder width (left to right, image x) per torso length
BACK_MAX_LEAN = 45.0  # degrees of the torso from image up
# A person facing the camera whose face the face models miss (a mask, a hand, blur, a face too
# small or too flat) needs a stronger skeleton still when alone: on the 32 real photos faceless
# skeletons facing the camera reach detector 0.66 with flag 0.98 (a motorcycle) or 9 crops (the moon).
FRONT_MIN_DETECTION = 0.9
FRONT_MIN_FLAG = 0.95
FRONT_MIN_SUPPORT = 10
# Beside people already confirmed, less will do: in a crowd an object or another person often
# hides a face, and a faceless skeleton the size of the others is likely one more person.
CROWD_MIN_DETECTION = 0.5
CROWD_MIN_FLAG = 0.9
CROWD_MIN_SUPPORT = 6
CROWD_SCALE = 2.0  # its torso within this factor of a confirmed person's
# Eyes are ~6.5 cm apart on a torso of ~50 cm: on 33 real photos and synthetic crowds the eye
# landmarks span at most 0.34 body scales (a child leaning towards the camera). A faceless
# skeleton spanning two people's heads (one eye on each, t1.jpg's group: 0.59) is no person.
MAX_EYE_SPAN = 0.45
LEFT_EYE, RIGHT_EYE = 2, 5


@dataclass
class Candidate:
    """One person hypothesis: consensus landmarks over several crops and the evidence behind them."""

    landmarks: LandmarkResult  # the single crop result closest to the consensus (its pose flag)
    points: np.ndarray  # [39, 2] per-point median over the agreeing crops, photo px
    world: np.ndarray  # [39, 3] per-point median of the crops' world landmarks (m, hip-centred)
    visibility: np.ndarray  # [39] median visibility
    presence: np.ndarray  # [39] median presence
    detection_score: float
    face: np.ndarray | None  # detector face centre (photo px); None for people recovered without it
    support: int  # number of crops that agreed
    results: list[LandmarkResult]  # every agreeing crop's answer

    def segmentation(self, shape: tuple[int, int]) -> np.ndarray:
        """Person probability [H, W]: mean over the agreeing crops (one crop may take in background)."""
        return np.mean([r.segmentation(shape) for r in self.results], axis=0)


def consensus(results: list[LandmarkResult], detection_score: float, face: np.ndarray | None) -> Candidate | None:
    """Robust per-point median of several crops' answers (crops disagree most on limbs); None
    when that skeleton is upside down (see `upright`), whichever way it was found."""
    points = np.median(np.stack([r.points for r in results]), axis=0)
    if not upright(points):
        return None
    err = [float(np.median(np.linalg.norm(r.points[:33] - points[:33], axis=1))) for r in results]
    return Candidate(
        landmarks=results[int(np.argmin(err))], points=points,
        world=np.median(np.stack([r.world for r in results]), axis=0),
        visibility=np.median(np.stack([r.visibility for r in results]), axis=0),
        presence=np.median(np.stack([r.presence for r in results]), axis=0),
        detection_score=detection_score, face=face, support=len(results), results=results)


def upper_scale(det: PoseDetection) -> float:
    """The detector's upper-body scale (mid-shoulder to its scale point), in px."""
    return float(np.linalg.norm(det.keypoints[3] - det.keypoints[2]))


def all_detections(rgb: np.ndarray, fine: bool = False) -> list[PoseDetection]:
    """Pose detections from the whole photo and overlapping tiles (small people need tiles), or
    with `fine` from the FINE_LEVELS alone (people too small for the others)."""
    h, w = rgb.shape[:2]
    rois = square_tiles(w, h, FINE_LEVELS, min_side=ssd.POSE.input_size) if fine else square_tiles(w, h)
    return [d for roi in rois for d in detect_poses(rgb, roi, DETECTION_MIN_SCORE)]


def _same_face(a: PoseDetection, b: PoseDetection) -> bool:
    """Whether two detections' face centres nearly coincide (one person seen from two tiles)."""
    return bool(np.linalg.norm(a.face - b.face) < MAX_NOSE_OFFSET * min(upper_scale(a), upper_scale(b)))


def cluster_by_face(dets: list[PoseDetection]) -> list[list[PoseDetection]]:
    """Group detections whose face centres nearly coincide (same person seen from several tiles), best first."""
    clusters: list[list[PoseDetection]] = []
    for d in sorted(dets, key=lambda d: -d.score):
        for c in clusters:
            if _same_face(d, c[0]):
                c.append(d)
                break
        else:
            clusters.append([d])
    return clusters


def detection_clusters(rgb: np.ndarray) -> list[list[PoseDetection]]:
    """Clusters of the coarse tile levels, best first, then those of the fine levels that no coarse
    detection explains: a fine tile's detection of a large person seeds crops of part of that person
    (on t1.jpg, the woman leaning in got a skeleton spanning the man in front of her)."""
    coarse = cluster_by_face(all_detections(rgb))
    fine = cluster_by_face(all_detections(rgb, fine=True))
    return coarse + [f for f in fine if not any(_same_face(f[0], d) for c in coarse for d in c)]


def seed_rois(det: PoseDetection) -> list[Roi]:
    """Crops to try for one detection: full-body x1.25 (mediapipe), upper-body x2.0, full-body x1.0."""
    k = det.keypoints
    return [roi_from_points(k[0], k[1], FULL_BODY_ENLARGE), roi_from_points(k[2], k[3], 2.0),
            roi_from_points(k[0], k[1], 1.0)]


def verify_cluster(rgb: np.ndarray, cluster: list[PoseDetection]) -> Candidate | None:
    """Consensus of every crop whose landmarks put the nose on the detected face; None if no crop passes.

    A person whose hips are hidden may get a neighbour's skeleton from one crop; the identity
    check drops such answers and the median over the remaining crops steadies the limbs.
    """
    passed: list[LandmarkResult] = []
    for det in cluster[:SEEDS_PER_PERSON]:
        scale = max(upper_scale(det), 1.0)
        for roi in seed_rois(det):
            for _ in range(2):  # the crop, then mediapipe's re-crop from the model's own hips
                lm = run_landmarks(rgb, roi)
                if lm.flag < LANDMARK_MIN_FLAG:
                    break
                if np.linalg.norm(lm.points[NOSE] - det.face) <= MAX_NOSE_OFFSET * scale:
                    passed.append(lm)
                roi = lm.refined_roi()
        if not passed:
            break  # the best detection's crops all failed: the cluster is not a person (saves half the cost)
    if not passed:
        return None
    return consensus(passed, cluster[0].score, cluster[0].face)


def face_rois(face: Face) -> list[Roi]:
    """Upright crops hanging below a face: upper body and whole body, sized by the face width."""
    cx, cy = (float(v) for v in face.centre)
    return [Roi(cx, cy + below * face.width, side * face.width) for below, side in FACE_CROPS]


def face_seeded(rgb: np.ndarray, face: Face) -> Candidate | None:
    """Consensus of the face-anchored crops whose landmarks put the nose on `face`; None if none does.

    For people the pose detector misses, or whose detector crops give a neighbour's or a merged
    skeleton: a crop sized and placed by the face itself.
    """
    passed: list[LandmarkResult] = []
    for roi in face_rois(face):
        for _ in range(2):  # the crop, then mediapipe's re-crop from the model's own hips
            lm = run_landmarks(rgb, roi)
            if lm.flag < LANDMARK_MIN_FLAG:
                break
            if np.linalg.norm(lm.points[NOSE] - face.centre) <= FACE_NOSE_OFFSET * face.width:
                passed.append(lm)
            roi = lm.refined_roi()
    if not passed:
        return None
    return consensus(passed, face.score, face.centre)


def _torso(points: np.ndarray) -> np.ndarray:
    """The torso as a 2D vector, mid-hip to mid-shoulder (px)."""
    return (points[L_SHOULDER] + points[R_SHOULDER]) / 2 - (points[L_HIP] + points[R_HIP]) / 2


def leans_at_most(points: np.ndarray, degrees: float) -> bool:
    """Whether the torso points at most `degrees` away from image up."""
    torso = _torso(points)
    return bool(-torso[1] >= np.cos(np.radians(degrees)) * max(float(np.linalg.norm(torso)), 1e-6))


def body_scale(points: np.ndarray) -> float:
    """Torso size in px: mid-shoulder to mid-hip, at least the shoulder width."""
    return float(max(np.linalg.norm(_torso(points)), np.linalg.norm(points[L_SHOULDER] - points[R_SHOULDER]), 1.0))


def upright(points: np.ndarray) -> bool:
    """Whether the torso (mid-hip to mid-shoulder) points less than MAX_TILT from image up.

    Standing, walking, sitting, bending and lying people pass; an inverted skeleton is the
    landmark model fitting a person upside down onto legs or clutter (seen on bus.jpg on
    another CPU), and handstands are outside what the body fit handles anyway."""
    return leans_at_most(points, MAX_TILT)


def seen_from_behind(c: Candidate) -> bool:
    """Whether a candidate is a person turned away from the camera, confirmed without a face.

    From behind, a person's left shoulder and hip lie on the image's left (facing the camera,
    on its right); BlazePose labels sides from the body, not the image, so the order tells.
    Upright torso, clear width (not a profile, which shows a face) and strong evidence keep
    out the hands and clutter that the face check exists to remove.
    """
    return _strong_upright(c, True, BACK_MIN_DETECTION, BACK_MIN_FLAG, BACK_MIN_SUPPORT)


def strong_facing_camera(c: Candidate) -> bool:
    """Whether a candidate facing the camera is a person although no face was found on its nose.

    Only an upright, wide (not a profile) skeleton that nearly every crop agrees on, with high
    detector and landmark scores: the face check stays the rule for everything weaker.
    """
    return _strong_upright(c, False, FRONT_MIN_DETECTION, FRONT_MIN_FLAG, FRONT_MIN_SUPPORT)


def facing_camera(c: Candidate) -> bool:
    """Whether a faceless candidate is upright, wide and facing the camera, with the crowd-level
    scores (CROWD_MIN_*): what `in_company` then needs beside confirmed people."""
    return _strong_upright(c, False, CROWD_MIN_DETECTION, CROWD_MIN_FLAG, CROWD_MIN_SUPPORT)


def in_company(c: Candidate, others: list[np.ndarray]) -> bool:
    """Whether a confirmed person's skeleton (`others`: their points) has a torso within
    CROWD_SCALE of this candidate's: one more person of a crowd whose face something hides."""
    s = body_scale(c.points)
    return any(1 / CROWD_SCALE <= s / body_scale(o) <= CROWD_SCALE for o in others)


def _strong_upright(c: Candidate, from_behind: bool, min_detection: float, min_flag: float,
                    min_support: int) -> bool:
    """Upright (at most BACK_MAX_LEAN), shoulders wider than BACK_MIN_WIDTH torso lengths with
    left and right in the image order of a body seen from behind (or from the front), a head of
    one person (eyes at most MAX_EYE_SPAN body scales apart), and the detector score, pose flag
    and agreeing crops at least the given ones."""
    p = c.points
    side = 1.0 if from_behind else -1.0  # from behind, the right shoulder and hip lie on the image's right
    length = float(np.linalg.norm(_torso(p)))
    return bool(side * (p[R_SHOULDER, 0] - p[L_SHOULDER, 0]) > BACK_MIN_WIDTH * length
                and np.linalg.norm(p[LEFT_EYE] - p[RIGHT_EYE]) <= MAX_EYE_SPAN * body_scale(p)
                and side * (p[R_HIP, 0] - p[L_HIP, 0]) > 0
                and leans_at_most(p, BACK_MAX_LEAN) and c.detection_score >= min_detection
                and c.landmarks.flag >= min_flag and c.support >= min_support)


def same_person(a: np.ndarray, b: np.ndarray) -> bool:
    """Two skeletons ([39, 2] px) are one person when their head and torso points nearly coincide."""
    d = np.linalg.norm(a[CORE] - b[CORE], axis=1)
    return float(np.median(d)) < 0.2 * min(body_scale(a), body_scale(b))


def detected_candidates(rgb: np.ndarray) -> list[Candidate]:
    """One verified skeleton per detection cluster (whole photo + tiles); duplicates are possible."""
    clusters = detection_clusters(rgb)[:MAX_CLUSTERS]
    log.debug("%d detection clusters", len(clusters))
    return [c for c in (verify_cluster(rgb, cl) for cl in clusters) if c is not None]
