"""Colour completion of the Gaussians the photo does not see.

Sources are the interior of the seen area (its rim mixes in neighbouring colours).
Order of evidence, all general (no per-photo tuning):
0. where the photo shows the upper body but next to nothing of the legs (a table), the lower body's
   samples of the person's skin colour (face or seen hands) are not taken as its garment (none are
   when most are):
   they are hands and forearms resting in front of the hips, a few centimetres off the body fit's
   arms;
1. on arms and lower legs, the seen colour of the same bone straight through the limb (same x, z
   in the rest pose, which faces -Y): a sleeve or trouser leg continues round at the same
   height, so hems, stripes and cuffs carry round (not on the torso: ties, zips, open
   jackets and logos are front-only; nor on the thighs, which are filled with the trunk:
   a coat, jacket or long shirt worn open hangs over them, and the lining or shirt its front
   shows is not on its back);
2. the left/right mirror partner, if the photo sees it and it lies in the same region (a hand
   hangs beside the thigh in the rest pose);
3. the back of the head and its crown take the colour of the seen part of the head nearest to
   it: the seen sides of its back half, else its highest seen part (hair, or skin when bald;
   not the face);
   a face unseen behind a seen back of the head (a person turned away) takes the seen hands'
   skin colour;
4. a smooth harmonic fill over a k-nearest-neighbour surface graph, first over the trunk
   of the upper and lower garment alone when enough of it is seen (so a tank top's back
   continues the top, not the bare arms), then inside each whole fill region (upper
   garment + arms, lower garment, head, hands, feet), so hidden sleeves continue their arm
   or, if no arm is seen, the garment;
5. a region with nothing visible falls back to a related region (hands -> face skin)
   or to a plain plausible default (dark trousers, dark shoes, neutral grey top).
"""
from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve
from scipy.spatial import cKDTree

from crowdgaussian.gaussians import parts

TRUNK_MIN_SEEN = 30  # seen trunk Gaussians needed to complete a garment's trunk from itself alone
THROUGH_RADIUS = 0.03  # m: how far across (x, z) a colour is looked for straight through a limb
FACE_FRONT_PERCENT = 30  # the face proper: the front-most 30 % of the head (rest pose), its middle half across
HAIR_MIN_SEEN = 20  # seen Gaussians on the back half of the head needed to take the hair colour from them
LEGS_SEEN_SHARE = 0.05  # below this share of leg Gaussians seen (interior), the photo does not show the legs
UPPER_SEEN_SHARE = 0.1  # arms resting in front of hidden legs come with the upper body in view
SKIN_DISTANCE = 15.0  # CIELAB distance, lightness at half weight (shading), within which a colour is skin
# Plausible defaults for regions with no visible pixel at all (labelled as invented).
_DEFAULTS = {
    parts.HEAD: (0.78, 0.60, 0.50),   # skin
    parts.UPPER: (0.50, 0.50, 0.50),  # neutral grey top
    parts.HANDS: (0.78, 0.60, 0.50),  # skin
    parts.LOWER: (0.20, 0.22, 0.28),  # dark trousers
    parts.FEET: (0.12, 0.12, 0.12),   # dark shoes
}


def _harmonic_fill(points: np.ndarray, colors: np.ndarray, known: np.ndarray, prior: np.ndarray,
                   k: int = 8, prior_weight: float = 1e-3) -> np.ndarray:
    """Colours of unknown points minimising graph roughness, known points fixed.

    A weak pull towards `prior` keeps components without any known point well-posed.
    """
    n = len(points)
    unknown = ~known
    if not unknown.any() or n < 2:
        return colors
    _, nbr = cKDTree(points).query(points, k=min(k + 1, n))
    rows = np.repeat(np.arange(n), nbr.shape[1] - 1)
    cols = nbr[:, 1:].reshape(-1)
    w = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    w = ((w + w.T) > 0).astype(np.float64)
    lap = sp.diags(np.asarray(w.sum(axis=1)).ravel()) - w
    a = lap[unknown][:, unknown] + prior_weight * sp.identity(int(unknown.sum()))
    b = -lap[unknown][:, known] @ colors[known] + prior_weight * prior[None, :]
    out = colors.copy()
    out[unknown] = np.asarray(spsolve(a.tocsc(), b)).reshape(-1, 3)
    return out


def _interior(points: np.ndarray, known: np.ndarray, regions: np.ndarray, k: int = 8) -> np.ndarray:
    """Known points whose k nearest neighbours are all known and of the same region.

    The rim of the seen area mixes in the background or the neighbouring part (blur,
    sub-pixel misfit); filling from the interior keeps those mixed colours from spreading.
    """
    _, nbr = cKDTree(points).query(points, k=k + 1)
    nbr = nbr[:, 1:]
    return known & known[nbr].all(axis=1) & (regions[nbr] == regions[:, None]).all(axis=1)


def _head_zones(means_rest: np.ndarray, head: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Masks of the back zone (the back of the head above the jaw), the crown (the top fifth in
    front), the face zone (front, below the top fifth) and the face proper (its front-most part,
    where skin is sampled). The back zone and the crown take the hair."""
    z, y = means_rest[head, 2], means_rest[head, 1]
    z_lo, z_hi = np.percentile(z, 5), z.max()
    front = y <= np.median(y)  # the body faces -Y
    top_fifth = z >= z_hi - 0.2 * (z_hi - z_lo)
    back, face, crown = head.copy(), head.copy(), head.copy()
    back[head] = ~front & (z > z_lo + 0.45 * (z_hi - z_lo))  # above the jaw
    face[head] = front & ~top_fifth
    crown[head] = front & top_fifth
    proper = face.copy()  # the face itself, without the sides of the head (hair, ears)
    x = np.abs(means_rest[head, 0] - np.median(means_rest[head, 0]))
    proper[head] &= (y < np.percentile(y, FACE_FRONT_PERCENT)) & (x < 0.5 * np.percentile(x, 95))
    return back, crown, face, proper


def _hair_sample(means_rest: np.ndarray, head: np.ndarray, back: np.ndarray, known: np.ndarray,
                 n_top: int = 40) -> np.ndarray:
    """Mask of the Gaussians the hair colour is taken from: the seen part of the back zone (the
    sides of the head) when the photo shows enough of it, else the highest seen head Gaussians
    (those are often forehead; the sides carry hair round the back, or a bald head's skin)."""
    top = back & known
    if top.sum() < HAIR_MIN_SEEN:
        top = np.zeros_like(head)
        cand = np.flatnonzero(head & known)
        top[cand[np.argsort(-means_rest[cand, 2])[:n_top]]] = True
    return top


def _through_limbs(means_rest: np.ndarray, colors: np.ndarray, known: np.ndarray, limbs: np.ndarray,
                   k: int = 12) -> np.ndarray:
    """[N] bool, and `colors` set in place: unknown Gaussians of a limb bone (`limbs` >= 0) given
    the median colour of at least 3 known ones of that bone within THROUGH_RADIUS of their rest (x, z)."""
    done = np.zeros(len(colors), bool)
    xz = means_rest[:, [0, 2]]
    for b in np.unique(limbs[(limbs >= 0) & ~known]):
        src = np.flatnonzero((limbs == b) & known)
        dst = np.flatnonzero((limbs == b) & ~known)
        if len(src) < 3:
            continue
        dist, nbr = cKDTree(xz[src]).query(xz[dst], k=min(k, len(src)),
                                      distance_upper_bound=THROUGH_RADIUS)
        dist, nbr = dist.reshape(len(dst), -1), nbr.reshape(len(dst), -1)
        close = np.isfinite(dist)
        ok = close.sum(axis=1) >= 3
        samples = np.where(close[..., None], colors[src[np.minimum(nbr, len(src) - 1)]], np.nan)
        colors[dst[ok]] = np.nanmedian(samples[ok], axis=1)
        done[dst[ok]] = True
    return done


def _arms_on_hidden_legs(colors: np.ndarray, known: np.ndarray, regions: np.ndarray, limbs: np.ndarray,
                         skin: np.ndarray | None, hands: np.ndarray | None, legs_hidden: bool) -> np.ndarray:
    """[N] bool: known lower-body Gaussians that are not its garment, when the legs are hidden: the
    skin-coloured ones (like the face's `skin` or the seen `hands`), or all of them when most are.
    The hands count as well because a face and the hands are often lit differently (t1.jpg: the
    man behind Lisa, his face pale in the light, his hand on the table darker and redder).

    With the upper body in view and the lower body seen only as a sliver at the waist, the lower
    body's samples are mostly what lies in front of it in the photo: the person's hands and
    forearms on a table or in the lap, and what they hold. Bare legs the photo does show (their
    share is above LEGS_SEEN_SHARE), or that peek out of an occluder that hides the upper body
    too, keep their skin. `legs_hidden` (the body fit trusted none of the legs' landmarks) says
    the legs are hidden whatever their seen share: a seated person's thighs reach forward under
    the forearms on the table (t1.jpg: 7 % of the legs' Gaussians of the man in red, all on his
    arms)."""
    legs = (regions == parts.LOWER) & (limbs >= 0)
    upper = regions == parts.UPPER
    sliver = known & (regions == parts.LOWER)
    drop = np.zeros(len(colors), bool)
    shown = (known & legs).sum() >= LEGS_SEEN_SHARE * legs.sum() and not legs_hidden
    if (skin is None or not sliver.any() or shown
            or (known & upper).sum() < UPPER_SEEN_SHARE * upper.sum()):
        return drop
    refs = np.vstack([skin] + ([] if hands is None else [hands]))
    lab = cv2.cvtColor(np.vstack([colors[sliver], refs]).astype(np.float32)[:, None], cv2.COLOR_RGB2LAB)[:, 0]
    samples, refs = lab[:-len(refs)], lab[-len(refs):]
    distance = np.linalg.norm((samples[:, None] - refs[None]) * (0.5, 1.0, 1.0), axis=2).min(axis=1)
    skin_like = distance < SKIN_DISTANCE
    if skin_like.mean() > 0.5:  # mostly arms: the rest is what they hold, or the table they lie on
        return sliver
    drop[sliver] = skin_like
    return drop


def _median(colors: np.ndarray, sel: np.ndarray, min_count: int = 5) -> np.ndarray | None:
    """Median colour of the selected rows, None if too few."""
    return np.median(colors[sel], axis=0) if sel.sum() >= min_count else None


def complete_colours(means_rest: np.ndarray, colors: np.ndarray, visible: np.ndarray,
                     regions: np.ndarray, partners: np.ndarray, limbs: np.ndarray,
                     thighs: np.ndarray | None = None, legs_hidden: bool = False) -> np.ndarray:
    """[N, 3] colours: visible ones kept, hidden ones completed (see module docstring).

    `partners`: each Gaussian's left/right mirror (-1: none); `limbs`: its dominant bone where
    that is an arm or leg segment, else -1; `thighs`: which of them lie on a thigh (completed
    with the trunk, rule 1), none when not given; `legs_hidden`: the body fit found the legs
    hidden (rule 0).
    """
    out = colors.astype(np.float64).copy()
    known = _interior(means_rest, visible, regions)
    head = regions == parts.HEAD
    zones = _head_zones(means_rest, head) if head.any() else None
    if zones is not None:
        known &= ~_arms_on_hidden_legs(out, known, regions, limbs, _median(out, zones[3] & known),
                                       _median(out, known & (regions == parts.HANDS)), legs_hidden)
    round_limbs = limbs if thighs is None else np.where(thighs, -1, limbs)  # what carries round (rule 1)
    known |= _through_limbs(means_rest, out, known, round_limbs)
    mirror = (~visible) & (partners >= 0)
    mirror &= known[np.maximum(partners, 0)] & (regions[np.maximum(partners, 0)] == regions)
    out[mirror] = out[partners[mirror]]
    known |= mirror

    skin = None
    if zones is not None:
        back, crown, face, proper = zones
        hair_zone = back | crown
        hair, skin = _median(out, _hair_sample(means_rest, head, back, known)), _median(out, proper & known)
        fill_back = hair_zone & ~known
        if hair is not None and fill_back.any():
            out[fill_back] = hair
            known |= fill_back
        # a person seen from behind: the unseen face is skin, the seen hands' (a default skin
        # would be a guess of skin tone), not the hair a fill from the back of the head spreads
        hands = _median(out, known & (regions == parts.HANDS))
        fill_face = face & ~known
        if skin is None and hands is not None and (hair_zone & visible).sum() >= HAIR_MIN_SEEN and fill_face.any():
            out[fill_face] = hands
            known |= fill_face

    for r in (parts.UPPER, parts.LOWER):
        trunk = (regions == r) & (round_limbs < 0)
        if (trunk & known).sum() >= TRUNK_MIN_SEEN and (trunk & ~known).any():
            out[trunk] = _harmonic_fill(means_rest[trunk], out[trunk], known[trunk], _median(out, trunk & known))
            known |= trunk

    medians = {r: _median(out, known & (regions == r), 1) for r in range(len(parts.REGIONS))}
    if skin is not None:  # bare hands look like the face, not like the hair
        medians[parts.HEAD] = skin
    fallback = {parts.HANDS: parts.HEAD, parts.FEET: None, parts.LOWER: None,
                parts.HEAD: parts.HANDS, parts.UPPER: None}
    for r in range(len(parts.REGIONS)):
        sel = regions == r
        if not sel.any():
            continue
        if medians[r] is not None:
            prior = medians[r]
        elif fallback[r] is not None and medians[fallback[r]] is not None:
            prior = medians[fallback[r]]
        else:
            prior = np.asarray(_DEFAULTS[r])
        out[sel] = _harmonic_fill(means_rest[sel], out[sel], known[sel], np.asarray(prior))
    out[visible] = colors[visible]  # the photo's own colours stay where it sees the body
    return np.clip(out, 0.0, 1.0)
