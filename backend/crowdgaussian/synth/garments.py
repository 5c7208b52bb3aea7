"""Procedural clothing for ground-truth bodies: regions from the rig, random outfits and patterns.

Every point of the body gets a colour from its garment (shirt, trousers, shorts, skirt, dress,
shoes), a skin tone or a hair cap. Patterns (solid, stripes, checks, dot prints) are functions
of the rest-pose position, so the truth is the same seen from any side.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Body parts of each vertex (from its dominant bone and rest-pose geometry).
PARTS = ("skin_head", "hair", "neck", "torso", "hips", "upperarm", "forearm", "hand", "thigh_top",
         "thigh_low", "shin", "foot", "eye_white", "iris", "brow", "lips")
(SKIN_HEAD, HAIR, NECK, TORSO, HIPS, UPPERARM, FOREARM, HAND, THIGH_TOP, THIGH_LOW, SHIN,
 FOOT, EYE_WHITE, IRIS, BROW, LIPS) = range(len(PARTS))
HEAD_PARTS = (SKIN_HEAD, HAIR, EYE_WHITE, IRIS, BROW, LIPS)

_BONE_PARTS = (  # first match wins
    (("eye.",), EYE_WHITE),
    (("wrist", "finger", "metacarpal"), HAND),
    (("foot", "toe"), FOOT),
    (("lowerleg",), SHIN),
    (("upperleg", "pelvis."), THIGH_TOP),
    (("lowerarm",), FOREARM),
    (("upperarm", "shoulder"), UPPERARM),
    (("spine", "clavicle", "breast", "root"), TORSO),
    (("neck",), NECK),
)

SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.92, 0.72, 0.58], [0.82, 0.61, 0.46], [0.67, 0.47, 0.33],
                       [0.49, 0.33, 0.22], [0.33, 0.22, 0.15]])
HAIR_COLOURS = np.array([[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.48, 0.33, 0.18], [0.80, 0.66, 0.42],
                         [0.55, 0.22, 0.10], [0.65, 0.65, 0.65]])


def _bone_part(name: str) -> int:
    """Part index of a bone name (anything unknown, e.g. head/eyes/jaw, is the head)."""
    for keys, part in _BONE_PARTS:
        if any(k in name for k in keys):
            return part
    return SKIN_HEAD


def part_labels(vertices_rest: np.ndarray, dominant: np.ndarray, bone_labels: list[str]) -> np.ndarray:
    """[V] part index per vertex from its dominant bone, split by rest-pose height where needed."""
    parts = np.array([_bone_part(n) for n in bone_labels])[dominant]
    z, y = vertices_rest[:, 2], vertices_rest[:, 1]
    thigh = parts == THIGH_TOP
    if thigh.any():
        lo, hi = z[thigh].min(), z[thigh].max()
        parts[thigh & (z < lo + 0.55 * (hi - lo))] = THIGH_LOW
    torso = parts == TORSO
    if torso.any() and thigh.any():
        parts[torso & (z < z[thigh].max() + 0.02)] = HIPS
    head = parts == SKIN_HEAD
    if head.any():
        chin, top = z[head].min(), z[head].max()
        height = top - chin
        back = y > np.median(y[head]) + 0.02
        hair = head & ((z > chin + 0.80 * height) | (back & (z > chin + 0.40 * height)))
        parts[hair] = HAIR
    _face(vertices_rest, parts)
    return parts


def _face(vertices_rest: np.ndarray, parts: np.ndarray) -> None:
    """Irises on the eyeballs' fronts, brows above and lips below the eyes (so faces read as faces)."""
    eyes = parts == EYE_WHITE
    if not eyes.any():
        return
    x, y, z = vertices_rest.T
    eye_z, front = z[eyes].mean(), y[eyes].min()
    for sign in (-1.0, 1.0):
        one = eyes & (np.sign(x) == sign)
        if one.any():
            cy = y[one].mean()
            parts[one & (y < cy - 0.55 * (cy - y[one].min()))] = IRIS
    eye_x = np.abs(x[eyes]).mean()
    skin = parts == SKIN_HEAD
    near_front = y < front + 0.02
    parts[skin & near_front & (z > eye_z + 0.014) & (z < eye_z + 0.024) & (np.abs(np.abs(x) - eye_x) < 0.02)] = BROW
    parts[skin & (y < front + 0.01) & (z > eye_z - 0.078) & (z < eye_z - 0.064) & (np.abs(x) < 0.022)] = LIPS


@dataclass
class Garment:
    """One garment: base colour, pattern kind and its parameters."""

    colour: np.ndarray  # [3]
    accent: np.ndarray  # [3] second colour of the pattern
    pattern: str  # "solid" | "stripes" | "checks" | "dots"
    period: float  # meters

    def colours(self, points: np.ndarray) -> np.ndarray:
        """[N, 3] colour of the garment at rest-pose points [N, 3]."""
        cell = points / self.period
        if self.pattern == "stripes":
            use = (np.floor(cell[:, 2] * 2.0) % 2) == 1
        elif self.pattern == "checks":
            use = (np.floor(cell).astype(np.int64).sum(axis=1) % 2) == 1
        elif self.pattern == "dots":
            use = np.linalg.norm(cell - np.round(cell), axis=1) < 0.28
        else:
            use = np.zeros(len(points), dtype=bool)
        return np.where(use[:, None], self.accent, self.colour)


@dataclass
class Outfit:
    """Which parts each garment covers and how they look."""

    top: Garment
    bottom: Garment
    shoes: Garment
    skin: np.ndarray  # [3]
    hair: np.ndarray  # [3]
    covered: dict[int, str]  # part index -> "top" | "bottom" | "shoes"
    description: str

    def colours(self, points_rest: np.ndarray, parts: np.ndarray) -> np.ndarray:
        """[N, 3] RGB colour of points at rest positions with the given part labels."""
        out = np.tile(self.skin, (len(points_rest), 1))
        out[parts == HAIR] = self.hair
        out[parts == BROW] = 0.6 * self.hair
        out[parts == EYE_WHITE] = (0.92, 0.92, 0.9)
        out[parts == IRIS] = (0.12, 0.08, 0.05)
        out[parts == LIPS] = self.skin * (0.8, 0.55, 0.55)
        for part, garment_name in self.covered.items():
            sel = parts == part
            if sel.any():
                out[sel] = getattr(self, garment_name).colours(points_rest[sel])
        return np.clip(out, 0.0, 1.0)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    """A clothing colour: random hue, some saturated, some greys/dark."""
    import colorsys

    h, s, v = rng.random(), rng.choice([0.05, rng.uniform(0.3, 0.9)]), rng.uniform(0.15, 0.95)
    return np.array(colorsys.hsv_to_rgb(h, s, v))


def _random_garment(rng: np.random.Generator) -> Garment:
    """A garment with a random colour and pattern (half of them solid)."""
    pattern = rng.choice(["solid", "solid", "stripes", "checks", "dots"])
    colour = _random_colour(rng)
    accent = _random_colour(rng)
    if np.abs(accent - colour).sum() < 0.4:  # keep patterns visible
        accent = 1.0 - colour
    return Garment(colour=colour, accent=accent, pattern=str(pattern), period=float(rng.uniform(0.04, 0.12)))


def random_outfit(rng: np.random.Generator) -> Outfit:
    """A random outfit: shirt/tank top + trousers/shorts/skirt, or a dress; shoes; skin and hair."""
    top, bottom, shoes = _random_garment(rng), _random_garment(rng), _random_garment(rng)
    shoes.pattern = "solid"
    sleeves = str(rng.choice(["none", "short", "long"]))
    kind = str(rng.choice(["trousers", "trousers", "shorts", "skirt", "dress"]))
    covered = {TORSO: "top", HIPS: "bottom", FOOT: "shoes"}
    if sleeves in ("short", "long"):
        covered[UPPERARM] = "top"
    if sleeves == "long":
        covered[FOREARM] = "top"
    legs = {"trousers": (THIGH_TOP, THIGH_LOW, SHIN), "shorts": (THIGH_TOP,),
            "skirt": (THIGH_TOP, THIGH_LOW), "dress": (THIGH_TOP, THIGH_LOW)}[kind]
    covered.update({p: "bottom" for p in legs})
    if kind == "dress":
        bottom = top
    return Outfit(top=top, bottom=bottom, shoes=shoes, skin=SKIN_TONES[rng.integers(len(SKIN_TONES))],
                  hair=HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], covered=covered,
                  description=f"{kind}, {sleeves} sleeves, top {top.pattern}, bottom {bottom.pattern}")
