"""find_people: every person in the photo with 33 keypoints, world points and a disjoint mask."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..image_io import frame_side
from ..types import Person, Photo
from .candidates import (BACK_MAX_LEAN, NOSE, Candidate, body_scale, detected_candidates, face_seeded,
                         facing_camera, in_company, leans_at_most, same_person, seen_from_behind,
                         strong_facing_camera)
from .faces import (Face, faces_in_photo, find_face, fits, head_size, on_head, on_nose, same_face, second_look,
                    within_head)
from .masks import assign_masks
from .recover import explain_away, face_cut, recover, seed_sets

log = logging.getLogger(__name__)

CORE_BODY = np.array([0, 11, 12, 23, 24, 25, 26, 27, 28])  # nose, shoulders, hips, knees, ankles
LEANING_MIN_FACE = 0.7  # face score that confirms a skeleton leaning beyond BACK_MAX_LEAN (upright: MIN_FACE_SCORE)
OUTSIDE = 0.02  # a core point this far (share of the long side) outside the photo means "cut"
SAME_PIXELS = 0.5  # a recovered person whose pixels are mostly an earlier recovered one's is that one


@dataclass
class _Found:
    """A confirmed person before the masks are split."""

    cand: Candidate
    face: Face | None
    support: np.ndarray  # [H, W] person probability this person may claim
    source: str  # "detector", "face" (crops hung below a face) or "recovery" (found after explaining the others away)

    @property
    def score(self) -> float:
        """Mean of detector (or region) evidence, landmark flag and face score: an approximate 0..1."""
        face = self.face.score if self.face is not None else 0.0
        return float(np.mean([self.cand.detection_score, self.cand.landmarks.flag, face]))


def find_people(photo: Photo, max_persons: int | None = None,
                report: Callable[[float, str], None] | None = None) -> list[Person]:
    """Find every person (small, cut by the border, partly hidden); ids 0.. left to right."""
    report = report or (lambda f, m: None)
    rgb = photo.rgb
    shape = rgb.shape[:2]
    report(0.0, "detecting people")
    confirmed, faceless = [], []
    for cand in detected_candidates(rgb):
        face = _confirming_face(rgb, cand.points)
        if face is None and facing_camera(cand):
            faceless.append(cand)  # a last resort: taken below only if nothing else finds this person
        if face is None and not seen_from_behind(cand):
            log.debug("detection at %s dropped: no face on its nose", cand.points[0].round())
            continue
        confirmed.append((cand, face))
    found: list[_Found] = []
    # several clusters can describe one person (face seen from several tiles, or two skeletons on one
    # face): keep the best supported
    for cand, face in sorted(confirmed, key=lambda cf: (-cf[0].support, -(cf[1].score if cf[1] is not None else 0.0))):
        if not any(same_person(cand.points, f.cand.points) or same_face(face, f.face) for f in found):
            found.append(_Found(cand, face, cand.segmentation(shape), "detector"))
    report(0.4, "people seen by a face only")
    _add_face_seeded(rgb, found)
    report(0.5, "recovering missed people")
    owned = np.zeros(shape, bool)
    for m in _masks(found):
        owned |= m
    blanked = explain_away(rgb, owned)
    recovered = np.zeros(shape, bool)
    for rois in seed_sets(blanked):
        rec = recover(blanked, owned, rois)
        if (rec is None or any(same_person(rec.cand.points, f.cand.points) for f in found)
                or (rec.pixels & recovered).sum() > SAME_PIXELS * rec.pixels.sum()):
            continue  # found before, maybe with another skeleton (two squashed ones on one coat)
        face = _confirming_face(rgb, rec.cand.points)
        cut = (rec.touches_border() and face_cut(rec.cand.points, shape)
               and leans_at_most(rec.cand.points, BACK_MAX_LEAN))
        if not (cut or (face is not None and rec.strong)):
            continue  # a faceless skeleton with its face in view is as likely a flower as a person; one lying
            # across a blurred crowd at the top of zidane.jpg's upper three quarters was no person either
        found.append(_Found(rec.cand, face, rec.pixels.astype(np.float32), "recovery"))
        recovered |= rec.pixels
    company = [f.cand.points for f in found]  # people confirmed by a face, a back or the frame
    for cand in sorted(faceless, key=lambda c: -c.support):
        # a nose on a found face is that face seen again from a shifted crop (t1.jpg saved as JPEG
        # quality 25: a second skeleton, head 60 px from the leaning woman's face, shoulders on hers)
        if (not any(same_person(cand.points, f.cand.points) or on_head(cand.points[NOSE], f.face) for f in found)
                and (strong_facing_camera(cand) or in_company(cand, company))):
            found.append(_Found(cand, None, cand.segmentation(shape), "detector"))
    found.sort(key=lambda f: -f.score)
    if max_persons is not None:
        found = found[:max_persons]
    report(0.9, "splitting masks")
    people = [_person(f, m, shape) for f, m in zip(found, _masks(found)) if m.any()]  # wholly hidden: not visible
    people.sort(key=lambda p: (p.bbox[0] + p.bbox[2]) / 2)
    for i, p in enumerate(people):
        p.id = i
    report(1.0, f"{len(people)} people")
    return people


def _confirming_face(rgb: np.ndarray, points: np.ndarray) -> Face | None:
    """The face on a skeleton's nose that confirms it as a person. A leaning skeleton (lying, bent
    over: rarer in photos than upright people) needs a clearer face, since face-like patterns
    score near the threshold (a motorcycle's headlight on a lying 'skeleton': 0.61)."""
    face = find_face(rgb, points)
    if face is not None and face.score < LEANING_MIN_FACE and not leans_at_most(points, BACK_MAX_LEAN):
        return None
    return face


def _add_face_seeded(rgb: np.ndarray, found: list[_Found]) -> None:
    """Append people found from faces nobody found explains (missed or mis-skeletoned by the pose
    detector). Such a person is usually behind others, and the landmark model may squeeze the body
    between the face and the people in front (t1.jpg: a torso shorter than the face is wide, from
    one crop); the crops are also tried on the photo with the people found so far explained away
    (4 crops agree there, torso 2 face widths), and the answer more crops agree on is kept (the
    found people's masks may also have taken some of this person, so that is no rule)."""
    images: list[np.ndarray] | None = None  # the photo, and without the people found before the first such face
    for face in faces_in_photo(rgb):
        if any(_owns(f, face) for f in found) or not second_look(rgb, face):
            continue  # a found person's face, or the full-range model alone (fists and patterns fool it)
        if images is None:
            images = [rgb, explain_away(rgb, np.any(_masks(found), axis=0))] if found else [rgb]
        answers = [c for c in (face_seeded(image, face) for image in images) if c is not None]
        cand = max(answers, key=lambda c: c.support) if answers else None
        if (cand is not None and fits(face, cand.points[NOSE], head_size(cand.points))
                and not any(same_person(cand.points, f.cand.points) for f in found)):
            found.append(_Found(cand, face, cand.segmentation(rgb.shape[:2]), "face"))


def _owns(f: _Found, face: Face) -> bool:
    """Whether `face` is `f`'s own (confirmed, around its nose, or a small face-like patch of its
    head): in crowds the next face is a face width away."""
    return same_face(face, f.face) or on_nose(face, f.cand.points[NOSE]) or within_head(face, f.face)


def _masks(found: list[_Found]) -> list[np.ndarray]:
    """Disjoint masks of the confirmed people."""
    return assign_masks([f.support for f in found], [f.cand.points for f in found],
                        [f.cand.visibility for f in found], [body_scale(f.cand.points) for f in found],
                        [f.face.box if f.face is not None else None for f in found])


def _person(f: _Found, mask: np.ndarray, shape: tuple[int, int]) -> Person:
    """Package one confirmed person as the pipeline's Person."""
    h, w = shape
    c = f.cand
    keypoints = np.c_[c.points[:33], c.visibility[:33]]
    inside = (c.visibility[:33] >= 0.5) & (keypoints[:, 0] >= 0) & (keypoints[:, 0] <= w - 1) \
        & (keypoints[:, 1] >= 0) & (keypoints[:, 1] <= h - 1)
    my, mx = np.nonzero(mask)
    xs = np.concatenate([keypoints[inside, 0], mx])
    ys = np.concatenate([keypoints[inside, 1], my])
    bbox = np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float64)
    margin = OUTSIDE * frame_side(w, h)
    core = c.points[CORE_BODY]
    cut_points = bool(np.any((core[:, 0] < -margin) | (core[:, 0] > w - 1 + margin)
                             | (core[:, 1] < -margin) | (core[:, 1] > h - 1 + margin)))
    cut_mask = bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
    extra = {
        "source": f.source,
        "landmark_flag": float(c.landmarks.flag),
        "presence": c.presence[:33].copy(),
        "crops_agreeing": int(c.support),
        "detector_score": float(c.detection_score),
    }
    if c.face is not None:
        extra["detector_face_centre"] = c.face.copy()
    if f.face is not None:
        extra["face_box"] = f.face.box.copy()
        extra["face_centre"] = f.face.centre
        extra["face_score"] = f.face.score
    return Person(id=-1, bbox=bbox, score=f.score, keypoints=keypoints, mask=mask,
                  keypoints_3d=c.world[:33].copy(), truncated=cut_points or cut_mask, extra=extra)
