"""A small hand-made scene bundle: people with a 3-bone rig, box bodies and Gaussians along
the bones, written with the backend's own bundle writer (crowdgaussian.bundle.write_bundle).

Pose math follows docs/ARCHITECTURE.md: pose_b = pose_parent · rest_parent⁻¹ · rest_b · basis_b,
deform_b = object_to_world · pose_b · rest_b⁻¹ and v_world = Σ w_b deform_b v_rest. World
Gaussian rotations are the Gram–Schmidt frame of the blended matrix applied to the rest axes
(what a deformed carrier triangle gives in Blender).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from crowdgaussian.bundle import SceneResult, write_bundle
from crowdgaussian.types import Body, Bone, Camera, Gaussians, Person, Photo

BONES = (  # name, parent, head, tail, roll  (body-local frame: Z up, facing -Y)
    ("spine", -1, (0.0, 0.0, 0.9), (0.0, 0.0, 1.5), 0.0),
    ("arm.L", 0, (0.18, 0.0, 1.42), (0.75, 0.0, 1.42), 0.4),
    ("arm.R", 0, (-0.18, 0.0, 1.42), (-0.75, 0.0, 1.42), -0.3),
)
COLORS = np.array([[0.8, 0.3, 0.2], [0.2, 0.6, 0.9], [0.3, 0.8, 0.3]])


def axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """3x3 rotation about a unit axis (Rodrigues)."""
    x, y, z = axis / np.linalg.norm(axis)
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def bone_rest_matrix(head, tail, roll: float) -> np.ndarray:
    """Blender's armature-space rest matrix: Y along head→tail (shortest arc), then roll about Y."""
    n = np.asarray(tail, float) - np.asarray(head, float)
    n /= np.linalg.norm(n)
    y = np.array([0.0, 1.0, 0.0])
    axis = np.cross(y, n)
    rot = np.eye(3) if np.linalg.norm(axis) < 1e-9 else axis_angle(axis, np.arccos(np.clip(y @ n, -1, 1)))
    m = np.eye(4)
    m[:3, :3] = axis_angle(n, roll) @ rot
    m[:3, 3] = head
    return m


def quat_matrix(q: np.ndarray) -> np.ndarray:
    """[...,4] (w x y z) -> [...,3,3]."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                     2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                     2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1).reshape(q.shape[:-1] + (3, 3))


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of two (w x y z) quaternions."""
    w0, x0, y0, z0 = a
    w1, x1, y1, z1 = b
    return np.array([w0 * w1 - x0 * x1 - y0 * y1 - z0 * z1, w0 * x1 + x0 * w1 + y0 * z1 - z0 * y1,
                     w0 * y1 - x0 * z1 + y0 * w1 + z0 * x1, w0 * z1 + x0 * y1 - y0 * x1 + z0 * w1])


def rig_deform(rig: dict, bone: str | None = None, axis: str = "X", degrees: float = 0.0) -> np.ndarray:
    """Deform matrices of a rig.json at its photo pose, optionally with `bone` turned about a local axis
    (what Blender does for pose_bone.rotation_quaternion @ Quaternion(axis, angle))."""
    names = [b["name"] for b in rig["bones"]]
    pose = np.array([b["pose_quaternion"] for b in rig["bones"]], dtype=np.float64)
    if bone is not None:
        half = np.deg2rad(degrees) / 2
        unit = np.array([axis == "X", axis == "Y", axis == "Z"], dtype=np.float64)
        pose[names.index(bone)] = quat_mul(pose[names.index(bone)], np.r_[np.cos(half), np.sin(half) * unit])
    locs = np.array([b.get("pose_location", [0.0, 0.0, 0.0]) for b in rig["bones"]], dtype=np.float64)
    return deform_matrices(np.array([b["matrix"] for b in rig["bones"]]), [b["parent"] for b in rig["bones"]],
                           pose, locs, np.array(rig["object_to_world"]))


def matrix_quat(m: np.ndarray) -> np.ndarray:
    """[N,3,3] rotations -> [N,4] quaternions (w x y z), via the largest-component method."""
    out = np.empty((len(m), 4))
    for i, r in enumerate(m):
        t = np.trace(r)
        if t > 0:
            s = np.sqrt(t + 1.0) * 2
            out[i] = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
        else:
            j = int(np.argmax(np.diag(r)))
            a, b, c = j, (j + 1) % 3, (j + 2) % 3
            s = np.sqrt(1.0 + r[a, a] - r[b, b] - r[c, c]) * 2
            q = np.empty(4)
            q[0] = (r[c, b] - r[b, c]) / s
            q[1 + a] = 0.25 * s
            q[1 + b] = (r[a, b] + r[b, a]) / s
            q[1 + c] = (r[a, c] + r[c, a]) / s
            out[i] = q
    return out


def deform_matrices(rest: np.ndarray, parents: list[int], quats: np.ndarray, locs: np.ndarray,
                    object_to_world: np.ndarray) -> np.ndarray:
    """[B,4,4] deform matrices object_to_world · pose_b · rest_b⁻¹ (Blender pose evaluation)."""
    pose = np.zeros_like(rest)
    for b, parent in enumerate(parents):
        basis = np.eye(4)
        basis[:3, :3] = quat_matrix(quats[b])
        basis[:3, 3] = locs[b]
        local = rest[b] @ basis
        pose[b] = local if parent < 0 else pose[parent] @ np.linalg.inv(rest[parent]) @ local
    return np.einsum("ij,bjk,bkl->bil", object_to_world, pose, np.linalg.inv(rest))


def blend_matrices(indices: np.ndarray, weights: np.ndarray, deform: np.ndarray) -> np.ndarray:
    """Linear blend skinning matrices [N,4,4]: Σ_k w_k deform[idx_k]."""
    return np.einsum("nk,nkij->nij", weights, deform[indices])


def skin_gaussians(means: np.ndarray, quats: np.ndarray, indices: np.ndarray, weights: np.ndarray,
                   deform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posed means and quats: blended matrix on the mean, Gram–Schmidt frame of its rotated axes."""
    m = blend_matrices(indices, weights, deform)
    posed = np.einsum("nij,nj->ni", m[:, :3, :3], means) + m[:, :3, 3]
    axes = m[:, :3, :3] @ quat_matrix(quats)
    x = axes[:, :, 0] / np.linalg.norm(axes[:, :, 0], axis=1, keepdims=True)
    y = axes[:, :, 1] - np.sum(axes[:, :, 1] * x, 1, keepdims=True) * x
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    frame = np.stack([x, y, np.cross(x, y)], axis=2)
    return posed, matrix_quat(frame)


def _box(head: np.ndarray, tail: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """8 vertices and 12 triangles of a box around the segment head→tail."""
    d = tail - head
    u = np.cross(d, [0.0, 1.0, 0.0] if abs(d[1]) < 0.9 * np.linalg.norm(d) else [1.0, 0.0, 0.0])
    u = radius * u / np.linalg.norm(u)
    v = radius * np.cross(d / np.linalg.norm(d), u / radius)
    verts = np.array([p + su * u + sv * v for p in (head, tail) for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    quads = [(0, 1, 2, 3), (4, 7, 6, 5), (0, 4, 5, 1), (1, 5, 6, 2), (2, 6, 7, 3), (3, 7, 4, 0)]
    faces = np.array([t for a, b, c, e in quads for t in ((a, b, c), (a, c, e))])
    return verts, faces


def make_person(pid: int, n_splats: int, object_to_world: np.ndarray, pose: np.ndarray, rng: np.random.Generator,
                scale_range: tuple[float, float] = (0.008, 0.05)) -> tuple[Body, Gaussians]:
    """One person: rig, box body and Gaussians along the bones, posed by `pose` [B,4]."""
    bones = [Bone(name, parent, np.array(h), np.array(t), roll) for name, parent, h, t, roll in BONES]
    rest = np.stack([bone_rest_matrix(b.head, b.tail, b.roll) for b in bones])
    for bone, matrix in zip(bones, rest):
        bone.matrix = matrix  # optional field read by the bundle writer (rig.json "matrix")
    parents = [b.parent for b in bones]
    locs = np.zeros((len(bones), 3))
    deform = deform_matrices(rest, parents, pose, locs, object_to_world)

    owner = rng.integers(0, len(bones), n_splats)
    t = rng.random(n_splats)
    heads, tails = np.array([b.head for b in bones]), np.array([b.tail for b in bones])
    means = heads[owner] + t[:, None] * (tails - heads)[owner] + rng.normal(0, 0.06, (n_splats, 3))
    k = 4
    indices = np.zeros((n_splats, k), np.int32)
    weights = np.zeros((n_splats, k), np.float32)
    indices[:, 0] = owner
    near_shoulder = (owner > 0) & (t < 0.25)  # blend arm roots with the spine
    w_arm = np.where(near_shoulder, 0.5 + 2.0 * t, 1.0)
    weights[:, 0] = w_arm
    indices[:, 1] = 0
    weights[:, 1] = 1.0 - w_arm
    quats = rng.normal(size=(n_splats, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    scales = np.exp(rng.uniform(np.log(scale_range[0]), np.log(scale_range[1]), (n_splats, 3)))
    opac = rng.uniform(0.35, 0.97, n_splats)
    colors = np.clip(COLORS[owner] + rng.normal(0, 0.08, (n_splats, 3)), 0.02, 0.98)
    means_w, quats_w = skin_gaussians(means, quats, indices, weights, deform)
    # a view-dependent colour in SH bands 1-2 (like the photo tint, in world directions), strong
    # enough that drawing it in the wrong frame shows
    sh_rest = rng.normal(0.0, 0.12, (n_splats, 8, 3))

    verts, faces, v_idx = [], [], []
    for b, bone in enumerate(bones):
        bv, bf = _box(bone.head, bone.tail, 0.07)
        faces.append(bf + 8 * b)
        verts.append(bv)
        v_idx.append(np.full(8, b))
    verts = np.concatenate(verts).astype(np.float32)
    v_ind = np.zeros((len(verts), k), np.int32)
    v_ind[:, 0] = np.concatenate(v_idx)
    v_w = np.zeros((len(verts), k), np.float32)
    v_w[:, 0] = 1.0
    v_mats = blend_matrices(v_ind, v_w, deform)
    v_world = np.einsum("nij,nj->ni", v_mats[:, :3, :3], verts) + v_mats[:, :3, 3]
    root = (object_to_world @ np.array([0.0, 0.0, 0.9, 1.0]))[:3]
    body = Body(person_id=pid, vertices_rest=verts, faces=np.concatenate(faces).astype(np.int32), skin_indices=v_ind,
                skin_weights=v_w, bones=bones, rest_to_world=deform, bone_pose=pose, root_translation=root,
                vertices_world=v_world.astype(np.float32), params={"model": "hand-made test rig"}, height_m=1.6)
    body.object_to_world = object_to_world  # field the bundle writer reads
    gs = Gaussians(means=means_w, quats=quats_w, scales=scales, opacities=opac, colors=colors, means_rest=means,
                   quats_rest=quats, skin_indices=indices, skin_weights=weights, tri=np.zeros(n_splats, np.int64),
                   bary=np.full((n_splats, 3), 1 / 3), offset=np.zeros(n_splats), sh_rest=sh_rest)
    return body, gs


def make_camera(width: int, height: int, n_persons: int) -> Camera:
    """A camera in front of the people (looking along +Y), slightly above, off-centre principal point."""
    from crowdgaussian.views import look_at

    spread = 1.1 * (n_persons - 1)
    eye = np.array([0.3, -4.0 - 1.2 * spread, 1.5])
    w2c = look_at(eye, np.array([0.0, 0.0, 1.15]))
    fx = 1.15 * width
    return Camera(fx=fx, fy=fx, cx=width / 2 + 0.03 * width, cy=height / 2 - 0.02 * height,
                  width=width, height=height, world_to_camera=w2c)


def make_bundle(out_dir: Path, n_persons: int = 2, n_splats: int = 400, width: int = 320, height: int = 240,
                seed: int = 0, scale_range: tuple[float, float] = (0.008, 0.05)) -> Path:
    """Write a hand-made bundle with `n_persons` people of `n_splats` Gaussians; returns its path."""
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    photo_path = out_dir.parent / f"{out_dir.name}_photo.png"
    yy, xx = np.mgrid[0:height, 0:width]
    Image.fromarray(np.stack([xx * 255 // width, yy * 255 // height, np.full_like(xx, 90)], -1).astype(np.uint8)
                    ).save(photo_path)
    photo = Photo(rgb=np.zeros((height, width, 3), np.uint8), full_width=width, full_height=height, scale=1.0,
                  path=str(photo_path))
    people, bodies, gaussians = [], [], []
    for pid in range(n_persons):
        o2w = np.eye(4)
        yaw = np.deg2rad(15.0 * (pid - (n_persons - 1) / 2))
        o2w[:3, :3] = axis_angle(np.array([0.0, 0.0, 1.0]), yaw)
        o2w[:3, 3] = [1.1 * (pid - (n_persons - 1) / 2), 0.3 * (pid % 2), 0.0]
        pose = np.tile([1.0, 0.0, 0.0, 0.0], (len(BONES), 1))
        pose[1] = np.r_[np.cos(0.25), np.sin(0.25) * np.array([0.0, 0.0, 1.0])]  # arm.L forward a bit
        pose[2] = np.r_[np.cos(-0.2 - 0.1 * pid), np.sin(-0.2 - 0.1 * pid) * np.array([1.0, 0.0, 0.0])]
        body, gs = make_person(pid, n_splats, o2w, pose, rng, scale_range)
        mask = np.zeros((height, width), bool)
        people.append(Person(id=pid, bbox=np.array([0.0, 0.0, width - 1.0, height - 1.0]), score=0.9,
                             keypoints=np.zeros((33, 3)), mask=mask))
        bodies.append(body)
        gaussians.append(gs)
    cam = make_camera(width, height, n_persons)
    scene = SceneResult(photo=photo, camera=cam, people=people, bodies=bodies, gaussians=gaussians)
    return write_bundle(out_dir, scene, previews={}, overwrite=True)
