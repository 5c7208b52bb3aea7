"""The CLI's contract on bad input: one line, non-zero exit, no output folder, nothing half-written."""
from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from crowdgaussian.progress import Progress
from support import run_cli


def _no_leftovers(parent) -> None:
    assert not [p for p in os.listdir(parent) if p.endswith((".partial", ".old"))]


@pytest.mark.parametrize("kind", ["text", "dir", "truncated", "empty"])
def test_bad_input_gives_one_line_and_no_output(tmp_path, kind):
    src = tmp_path / "in.jpg"
    if kind == "text":
        src.write_text("not a photo")
    elif kind == "dir":
        src.mkdir()
    elif kind == "empty":
        src.write_bytes(b"")
    else:
        Image.fromarray(np.full((300, 300, 3), 90, np.uint8)).save(tmp_path / "ok.jpg")
        src.write_bytes((tmp_path / "ok.jpg").read_bytes()[:700])
    out = tmp_path / "out"
    proc = run_cli("reconstruct", src, "-o", out, "--progress", "json")
    assert proc.returncode == 2
    last = json.loads(proc.stdout.splitlines()[-1])
    assert set(last) == {"error"} and "\n" not in last["error"] and str(src) in last["error"]
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error: ")
    assert not out.exists()
    _no_leftovers(tmp_path)


def test_existing_output_is_refused_and_kept(tmp_path, zidane_photo):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = run_cli("reconstruct", zidane_photo, "-o", out)
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    assert (out / "keep.txt").read_text() == "mine"


def test_unwritable_output_is_refused(tmp_path, zidane_photo):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    proc = run_cli("reconstruct", zidane_photo, "-o", blocker / "out")
    assert proc.returncode == 2 and "cannot write" in proc.stderr


def test_photo_without_people_fails_cleanly(tmp_path):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    Image.fromarray(sklearn_datasets.load_sample_image("china.jpg")).save(tmp_path / "china.png")
    out = tmp_path / "out"
    proc = run_cli("reconstruct", tmp_path / "china.png", "-o", out, "--progress", "json")
    assert proc.returncode == 2
    assert "no people found" in json.loads(proc.stdout.splitlines()[-1])["error"]
    # the one-line error is all of stderr: the TFLite runtime's own "Created TensorFlow Lite
    # XNNPACK delegate" line (written to the terminal, where it broke the progress bar) goes to the log
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'china.png'}: no people found in the photo"]
    assert not out.exists()
    _no_leftovers(tmp_path)


def test_doctor_reports_environment():
    proc = run_cli("doctor", "--progress", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])["result"]
    assert report["default_models_missing"] == []
    assert report["packages"]["torch"] and report["packages"]["anny"]
    assert isinstance(report["cuda_available"], bool)
    if not report["cuda_available"]:  # the CPU machines the suite runs on
        assert report["gsplat_kernels"] is None and report["auto_device"] == "cpu"


def test_help_explains_every_option():
    proc = run_cli("reconstruct", "--help")
    for option in ("--device", "--max-persons", "--progress", "--overwrite", "--quality", "-o"):
        assert option in proc.stdout


def test_progress_bar_draws_each_update_once():
    stream = io.StringIO()
    progress = Progress({"people": 1.0, "bodies": 1.0}, "bar", stream)
    with progress.stage("people") as report:
        report(0.5, "halfway")
    text = stream.getvalue()
    assert [text.count(m) for m in ("people: started", "people: halfway", "people: done in")] == [1, 1, 1]
    assert "50%" in text.split("\r")[-1]  # one of two equal stages done


def test_progress_bar_shows_on_a_terminal_that_reports_no_size():
    """A fresh pseudo-terminal reports 0 x 0 (as under `script` or some CI runners); a process
    whose stderr is one must still draw the bar, stage names included."""
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    code = ("from crowdgaussian.progress import Progress\n"
            "p = Progress({'people': 1.0}, 'bar')\n"
            "with p.stage('people') as report:\n"
            "    report(0.5, 'halfway')\n"
            "p.close()\n")
    subprocess.run([sys.executable, "-c", code], stderr=slave, check=True, timeout=60)
    os.close(slave)
    text = os.read(master, 65536).decode()
    os.close(master)
    assert "people: halfway" in text and "50%" in text


def test_auto_device_needs_gsplat_as_well_as_a_gpu(monkeypatch):
    """`--device auto` picks CUDA only where gsplat's kernels load too: a GPU without them
    would render every fit step on the CPU, copying tensors back and forth."""
    import torch

    from crowdgaussian import pipeline, render

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(render, "gsplat_available", lambda: False)
    assert pipeline.resolve_device("auto") == "cpu"
    monkeypatch.setattr(render, "gsplat_available", lambda: True)
    assert pipeline.resolve_device("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pipeline.resolve_device("auto") == "cpu"
