"""Drive crowdgaussian.reconstruct with a stand-in backend that speaks the JSON-lines protocol."""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _command(mode: str, bundle: Path, argv_log: Path) -> list[str]:
    return [sys.executable, str(HERE / "fake_backend.py"), "--mode", mode, "--bundle", str(bundle),
            "--argv-log", str(argv_log)]


def _photo(small_bundle: Path) -> str:
    return str(small_bundle / "image.png")


def test_progress_then_result_imports_the_bundle(small_bundle: Path, tmp_path: Path, run_blender) -> None:
    """Progress lines update the state, non-JSON lines are ignored, the result is imported."""
    argv_log = tmp_path / "argv.json"
    out = run_blender("reconstruct", command=_command("ok", small_bundle, argv_log), photo=_photo(small_bundle),
                      output_dir=str(tmp_path / "out"))
    assert out["result"] == ["FINISHED"], out
    assert out["stage"] == "done" and out["progress"] == 1.0 and out["last_error"] == ""
    assert "Person 1 Splats" in out["objects"] and "CrowdGaussian Camera" in out["objects"]
    argv = json.loads(argv_log.read_text())
    bundle = str(tmp_path / "out" / "image_bundle")
    assert argv == ["reconstruct", _photo(small_bundle), "-o", bundle, "--device", "cpu", "--quality", "fast",
                    "--progress", "json", "--overwrite", "--max-persons", "3"]


def test_backend_error_is_one_readable_line(small_bundle: Path, tmp_path: Path, run_blender) -> None:
    """{"error"} -> the operator cancels with that line; a crash -> exit code + last stderr line."""
    out = run_blender("reconstruct", command=_command("error", small_bundle, tmp_path / "a.json"),
                      photo=_photo(small_bundle), output_dir=str(tmp_path / "out"))
    assert out["result"] == ["CANCELLED"] and out["last_error"] == "no people found in the photo"
    assert "Traceback" not in out["message"] and out["objects"] == []
    out = run_blender("reconstruct", command=_command("crash", small_bundle, tmp_path / "b.json"),
                      photo=_photo(small_bundle), output_dir=str(tmp_path / "out"))
    assert out["result"] == ["CANCELLED"] and out["objects"] == []
    assert out["last_error"] == "the backend stopped (exit code 1): ZeroDivisionError: division by zero"


def test_cancel_mid_run_leaves_the_scene_untouched(small_bundle: Path, tmp_path: Path, run_blender) -> None:
    """Cancel after the first progress line: the process ends quickly, nothing is imported."""
    out = run_blender("reconstruct_cancel", command=_command("hang", small_bundle, tmp_path / "a.json"),
                      photo=_photo(small_bundle), output_dir=str(tmp_path / "out"))
    assert out["outcome_before_cancel"] == "RUNNING" and out["progress_seen"] > 0
    assert out["returncode"] is not None and out["cancel_seconds"] < 6
    assert not out["bundle_exists"] and out["objects"] == out["objects_before"] == []
