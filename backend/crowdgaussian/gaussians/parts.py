"""Body parts, limbs and left/right mirror partners of Gaussians, from the rig and the rest pose.

Parts come from each Gaussian's dominant bone (anny bone names; a few generic names
for other rigs); they define the regions a hidden colour may be borrowed from
(garments: upper body + arms, lower body, skin: head, hands; shoes: feet).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from crowdgaussian import types

# Fill regions, in the order used by `part_labels`.
REGIONS = ("head", "upper", "hands", "lower", "feet")
HEAD, UPPER, HANDS, LOWER, FEET = range(len(REGIONS))

_PREFIXES = (  # first match wins; anny names first, then generic (e.g. SMPL-like) ones
    (("wrist", "finger", "metacarpal", "hand", "thumb", "index", "middle", "ring", "pinky"), HANDS),
    (("foot", "toe", "ankle"), FEET),
    (("root", "spine05", "pelvis.", "upperleg", "lowerleg", "hip", "knee", "leg", "thigh", "calf"), LOWER),
    (("spine", "breast", "clavicle", "shoulder", "upperarm", "lowerarm", "elbow",
      "arm", "chest", "collar", "pelvis", "torso"), UPPER),
)


def bone_region(name: str) -> int:
    """Fill region of one bone by its name (head for neck/face/unknown bones)."""
    low = name.lower()
    for prefixes, region in _PREFIXES:
        if any(p in low for p in prefixes):
            return region
    return HEAD


# Limb bones (anny names first, then generic ones): a sleeve or trouser leg looks the same at
# the front and the back, unlike a torso (ties, zips, open jackets, logos).
_ARMS = ("upperarm", "lowerarm", "forearm", "elbow")
_THIGHS = ("upperleg", "thigh")
_LIMBS = _ARMS + _THIGHS + ("lowerleg", "calf", "knee", "shin")


def limb_bones(bones: list[types.Bone]) -> np.ndarray:
    """[B] bool: which bones are arm or leg segments."""
    return np.array([any(k in b.name.lower() for k in _LIMBS) for b in bones], dtype=bool)


def thigh_bones(bones: list[types.Bone]) -> np.ndarray:
    """[B] bool: the thighs (upper leg segments), which open coats and long shirts hang over."""
    return np.array([any(k in b.name.lower() for k in _THIGHS) for b in bones], dtype=bool)


def arm_bones(bones: list[types.Bone]) -> np.ndarray:
    """[B] bool: arm segments and hand bones (what a seen arm in the photo is made of)."""
    regions = np.array([bone_region(b.name) for b in bones])
    return np.array([any(k in b.name.lower() for k in _ARMS) for b in bones], dtype=bool) | (regions == HANDS)


def dominant_bones(skin_indices: np.ndarray, skin_weights: np.ndarray) -> np.ndarray:
    """[N] the bone holding the largest skin weight of each row (a Gaussian or a vertex)."""
    return np.take_along_axis(skin_indices, skin_weights.argmax(axis=1)[:, None], axis=1)[:, 0]


def part_labels(bones: list[types.Bone], skin_indices: np.ndarray, skin_weights: np.ndarray) -> np.ndarray:
    """[N] region index per Gaussian: the region holding most of its skin weight."""
    regions = np.array([bone_region(b.name) for b in bones], dtype=np.int64)
    per_region = np.zeros((len(skin_indices), len(REGIONS)))
    rows = np.repeat(np.arange(len(skin_indices)), skin_indices.shape[1])
    np.add.at(per_region, (rows, regions[skin_indices.reshape(-1)]), skin_weights.reshape(-1))
    return per_region.argmax(axis=1)


def mirror_partners(means_rest: np.ndarray, max_dist: float = 0.03) -> np.ndarray:
    """[N] index of the Gaussian nearest to each one's left/right mirror image, -1 if none close.

    The body-local frame faces -Y with Z up, so the sagittal plane is x = 0 (the rest
    pose is symmetric up to the shape's own asymmetry).
    """
    mirrored = means_rest * np.array([-1.0, 1.0, 1.0])
    dist, idx = cKDTree(means_rest).query(mirrored, k=1)
    return np.where(dist <= max_dist, idx, -1)
