"""Install the extension zip into a fresh Blender, import a bundle and check what it built."""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
from bundle_fixture import BONES, blend_matrices, quat_matrix, rig_deform, skin_gaussians
from crowdgaussian.ply import read_gaussians_ply

BONE_NAMES = [b[0] for b in BONES]


def _person_files(bundle: Path, pid: int) -> tuple[dict, dict, dict, dict]:
    d = bundle / "persons" / str(pid)
    return (json.loads((d / "rig.json").read_text()), dict(np.load(d / "body.npz")), dict(np.load(d / "skin.npz")),
            read_gaussians_ply(d / "gaussians.ply"))


def test_zip_layout(extension_zip: Path) -> None:
    """Manifest and add-on at the zip root, backend source inside, no caches or binaries."""
    names = zipfile.ZipFile(extension_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names and "importer.py" in names
    assert "backend/pyproject.toml" in names and "backend/crowdgaussian/types.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".so", ".pyd", ".whl"))]
    text = zipfile.ZipFile(extension_zip).read("blender_manifest.toml").decode()
    assert 'id = "crowdgaussian"' in text and 'blender_version_min = "4.2.0"' in text
    assert extension_zip.name == "crowdgaussian-0.1.0.zip"


def test_addon_imports_only_bpy_numpy_and_stdlib() -> None:
    """The add-on must run inside any Blender 4.2–5.x: no torch, no backend, no third-party wheels."""
    import ast
    import sys

    allowed = {"bpy", "bpy_extras", "bmesh", "mathutils", "numpy", "__future__"} | set(sys.stdlib_module_names)
    addon = Path(__file__).resolve().parents[2] / "crowdgaussian_addon"
    for path in addon.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_import_builds_people_and_camera(small_bundle: Path, run_blender) -> None:
    """Per person: armature (rest + photo pose), skinned hidden body, splats following the rig; camera."""
    out = run_blender("import", bundle=str(small_bundle))
    assert out["result"] == ["FINISHED"]
    assert out["ui"] == {"file_import_menu": True, "sidebar_panel": True}
    facts = out["before"]
    manifest = json.loads((small_bundle / "manifest.json").read_text())
    assert sorted(facts["collections"]) == ["Person 0", "Person 1"]
    for pid in (0, 1):
        c = facts["collections"][f"Person {pid}"]
        rig, body, skin, world = _person_files(small_bundle, pid)
        assert c["objects"] == {f"Person {pid} Armature": "ARMATURE", f"Person {pid} Body": "MESH",
                                f"Person {pid} Splats": "MESH"}
        assert c["bones"] == BONE_NAMES and c["bone_parents"] == [None, "spine", "spine"]
        np.testing.assert_allclose(c["armature_matrix_world"], rig["object_to_world"], atol=1e-6)
        np.testing.assert_allclose(c["bone_matrix_local"], [b["matrix"] for b in rig["bones"]], atol=1e-5)
        np.testing.assert_allclose(c["pose_quaternions"], [b["pose_quaternion"] for b in rig["bones"]], atol=1e-6)
        assert c["body_groups"] == BONE_NAMES and c["splat_groups"] == BONE_NAMES
        assert c["body_modifiers"] == [["ARMATURE", f"Person {pid} Armature"]]
        # the body renders only as the person's shadow
        assert c["body_render"] == {"hide_render": False, "camera": False, "diffuse": False, "glossy": False,
                                    "shadow": True}
        assert c["body_parent"] == c["splat_parent"] == f"Person {pid} Armature"
        assert c["splat_modifiers"] == ["ARMATURE", "NODES"]
        # Blender's pose evaluation reproduces the bundle's world positions.
        np.testing.assert_allclose(c["body_world"], body["vertices_world"], atol=2e-5)
        carrier = np.array(c["carrier_world"]).reshape(-1, 3, 3)
        np.testing.assert_allclose(carrier[:, 0], world["means"], atol=2e-5)
        # Splat instances: centre = mean, axes = the world rotation, lengths = 3σ' (σ plus screen blur).
        inst = np.array(c["instances"])
        assert len(inst) == len(world["means"])
        np.testing.assert_allclose(inst[:, :3, 3], world["means"], atol=2e-5)
        lengths = np.linalg.norm(inst[:, :3, :3], axis=1)
        w2c = np.array(manifest["camera"]["world_to_camera"])
        depth = np.linalg.norm(world["means"] + w2c[:3, :3].T @ w2c[:3, 3], axis=1)  # distance to the camera
        blur = np.sqrt(0.3) / manifest["camera"]["fx"] * depth  # 0.3 px² screen blur, driven by lens/resolution
        np.testing.assert_allclose(lengths, 3 * np.sqrt(world["scales"] ** 2 + blur[:, None] ** 2), rtol=1e-4)
        rot = quat_matrix(world["quats"])
        cos = np.abs(np.sum(inst[:, :3, :3] / lengths[:, None, :] * rot, axis=1))
        assert cos.min() > 1 - 1e-4, cos.min()
    cam = facts["camera"]
    assert facts["scene_camera"] == "CrowdGaussian Camera"
    c = manifest["camera"]
    w, h = manifest["image"]["width"], manifest["image"]["height"]
    assert cam["resolution"] == [w, h] and cam["sensor_fit"] == "HORIZONTAL"
    assert abs(cam["lens"] - c["fx"] * cam["sensor_width"] / w) < 1e-4
    assert abs(cam["shift"][0] - (w / 2 - c["cx"]) / w) < 1e-6  # continuous pixels, like Blender's sensor
    assert abs(cam["shift"][1] - (c["cy"] - h / 2) / w) < 1e-6
    assert cam["show_background"] and cam["background"][0].endswith(manifest["image"]["file"])
    # camera centre: OpenCV C = -Rᵀt; Blender camera looks along its local -Z = OpenCV +z
    w2c = np.array(c["world_to_camera"])
    m = np.array(cam["matrix_world"])
    np.testing.assert_allclose(m[:3, 3], -w2c[:3, :3].T @ w2c[:3, 3], atol=1e-5)
    np.testing.assert_allclose(-m[:3, 2], w2c[2, :3], atol=1e-5)
    np.testing.assert_allclose(-m[:3, 1], w2c[1, :3], atol=1e-5)


def test_posing_an_arm_moves_only_that_arm(small_bundle: Path, run_blender) -> None:
    """Rotate arm.L by 40°: the body's and the splats' arm follow exactly; everything else stays."""
    out = run_blender("import", bundle=str(small_bundle), pose=["Person 0", "arm.L", "X", 40.0])
    before, after = out["before"]["collections"]["Person 0"], out["after"]["collections"]["Person 0"]
    rig, body, skin, _ = _person_files(small_bundle, 0)
    deform = rig_deform(rig, "arm.L", "X", 40.0)

    on_arm = (skin["indices"] == 1) & (skin["weights"] > 0)
    moved_splats = on_arm.any(axis=1)
    inst_before, inst_after = np.array(before["instances"]), np.array(after["instances"])
    shift = np.linalg.norm(inst_after[:, :3, 3] - inst_before[:, :3, 3], axis=1)
    assert moved_splats.sum() > 50 and shift[moved_splats].min() > 1e-3
    assert shift[~moved_splats].max() < 1e-6
    rest_g = read_gaussians_ply(small_bundle / "persons/0/gaussians_rest.ply")
    means, quats = skin_gaussians(rest_g["means"], rest_g["quats"], skin["indices"], skin["weights"], deform)
    np.testing.assert_allclose(inst_after[:, :3, 3], means, atol=2e-5)
    lengths = np.linalg.norm(inst_after[:, :3, :3], axis=1)
    cos = np.abs(np.sum(inst_after[:, :3, :3] / lengths[:, None, :] * quat_matrix(quats), axis=1))
    assert cos.min() > 1 - 1e-4
    # splats rigidly on the arm turned by exactly 40° relative to before
    rigid = (skin["indices"][:, 0] == 1) & (skin["weights"][:, 0] == 1.0)
    r0 = inst_before[rigid, :3, :3] / np.linalg.norm(inst_before[rigid, :3, :3], axis=1)[:, None, :]
    r1 = inst_after[rigid, :3, :3] / np.linalg.norm(inst_after[rigid, :3, :3], axis=1)[:, None, :]
    angle = np.degrees(np.arccos(np.clip((np.trace(np.transpose(r0, (0, 2, 1)) @ r1, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    np.testing.assert_allclose(angle, 40.0, atol=0.01)
    # the body: arm vertices moved as LBS says, the others did not move
    body_after = np.array(after["body_world"])
    m = blend_matrices(body["skin_indices"], body["skin_weights"], deform)
    expected = np.einsum("nij,nj->ni", m[:, :3, :3], body["vertices_rest"]) + m[:, :3, 3]
    np.testing.assert_allclose(body_after, expected, atol=2e-5)
    body_moved = np.linalg.norm(body_after - np.array(before["body_world"]), axis=1) > 1e-4
    np.testing.assert_array_equal(body_moved, body["skin_indices"][:, 0] == 1)
    # other person untouched
    np.testing.assert_allclose(out["after"]["collections"]["Person 1"]["instances"],
                               out["before"]["collections"]["Person 1"]["instances"], atol=1e-7)


def test_invalid_bundles_are_refused(small_bundle: Path, tmp_path: Path, run_blender) -> None:
    """A path escaping the bundle, a wrong version, a missing or corrupt file: one readable error, nothing created."""
    cases = {
        "outside": lambda m: m["persons"][0]["files"].__setitem__("rig", "../../etc/passwd"),
        "version": lambda m: m.__setitem__("version", 99),
        "missing": lambda m: m["persons"][1]["files"].__setitem__("skin", "persons/1/nope.npz"),
        "corrupt": lambda m: None,
    }
    expected = {"outside": "outside the bundle", "version": "unsupported bundle version", "missing": "missing",
                "corrupt": "person 1: unreadable file"}
    for name, edit in cases.items():
        broken = tmp_path / name
        shutil.copytree(small_bundle, broken)
        manifest = json.loads((broken / "manifest.json").read_text())
        edit(manifest)
        (broken / "manifest.json").write_text(json.dumps(manifest))
        if name == "corrupt":
            (broken / "persons" / "1" / "skin.npz").write_bytes(b"not a zip")
        out = run_blender("import_error", bundle=str(broken))
        assert out["result"] == ["CANCELLED"], name
        assert expected[name] in out["message"] and "Traceback" not in out["message"], out["message"]
        assert out["new_objects"] == 0


def test_real_bundle_imports_and_reproduces_world_positions(bus_bundle: Path, run_blender) -> None:
    """The pipeline's bundle: every person imported; Blender's pose evaluation lands on the bundle's world data."""
    bundle = bus_bundle  # bus.jpg through the real CLI, once per session (tests/conftest.py)
    manifest = json.loads((bundle / "manifest.json").read_text())
    out = run_blender("import", timeout=600, bundle=str(bundle))
    assert out["result"] == ["FINISHED"]
    facts = out["before"]["collections"]
    assert sorted(facts) == sorted(f"Person {p['id']}" for p in manifest["persons"])
    for person in manifest["persons"]:
        c = facts[f"Person {person['id']}"]
        rig, body, _, world = _person_files(bundle, person["id"])
        assert c["bones"] == [b["name"] for b in rig["bones"]] and c["body_groups"] == c["bones"]
        body_err = np.linalg.norm(np.array(c["body_world"]) - body["vertices_world"], axis=1)
        splat_err = np.linalg.norm(np.array(c["instances"])[:, :3, 3] - world["means"], axis=1)
        print(f"person {person['id']}: body error median {np.median(body_err):.2e} max {body_err.max():.2e} m; "
              f"splat error median {np.median(splat_err):.2e} max {splat_err.max():.2e} m")
        assert np.median(body_err) < 1e-3 and body_err.max() < 1e-2
        assert np.median(splat_err) < 1e-3 and splat_err.max() < 1e-2
