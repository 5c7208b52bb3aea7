"""Add-on preferences: the backend environment (path, Create, Check) with progress and log."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import bpy
from bpy.props import StringProperty

from . import backend_env
from .jobs import Job, parse_message

log = logging.getLogger(__name__)
POLL_S = 0.25
# What the preferences panel shows about the running/last background task (UI-thread only).
STATUS: dict[str, dict] = {"env": {"running": False, "lines": []}, "doctor": {"running": False, "lines": []}}
RUNNERS: dict[str, StepRunner] = {}  # the latest runner per task


def _redraw() -> None:
    """Redraw preference editors so progress shows up."""
    wm = bpy.context.window_manager
    for window in wm.windows if wm else ():
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()


class StepRunner:
    """Runs (label, argv) steps one after another as Jobs, polled by an app timer."""

    def __init__(self, key: str, steps: list[tuple[str, list[str]]], log_path: Path | None,
                 on_done: Callable[[bool, list[str]], list[str]] | None = None) -> None:
        self.key, self.steps, self.log_path, self.on_done = key, steps, log_path, on_done
        self.index, self.job, self.stdout = -1, None, []
        STATUS[key] = {"running": True, "lines": [], "fraction": 0.0}
        RUNNERS[key] = self
        self._next()
        bpy.app.timers.register(self.tick, first_interval=POLL_S)

    def _next(self) -> None:
        self.index += 1
        label, argv = self.steps[self.index]
        STATUS[self.key].update(step=label, fraction=self.index / len(self.steps))
        self.stdout = []
        self.job = Job(argv, log_path=self.log_path)

    def _finish(self, ok: bool, lines: list[str]) -> None:
        if self.on_done is not None:
            lines = self.on_done(ok, self.stdout) or lines
        STATUS[self.key] = {"running": False, "ok": ok, "lines": lines, "fraction": 1.0 if ok else 0.0}
        _redraw()

    def tick(self) -> float | None:
        """Timer callback: drain output, advance steps; None stops the timer."""
        self.stdout += self.job.poll()
        if self.stdout:
            STATUS[self.key]["detail"] = self.stdout[-1][-120:]
        code = self.job.returncode
        _redraw()
        if code is None:
            return POLL_S
        if code != 0:
            label = self.steps[self.index][0]
            why = self.job.last_error_line() or f"exit code {code}"
            hint = [f"log: {self.log_path}"] if self.log_path else []
            self._finish(False, [f"{label} failed: {why}"] + hint)
            return None
        if self.index + 1 < len(self.steps):
            self._next()
            return POLL_S
        self._finish(True, ["done"])
        return None


class CROWDGAUSSIAN_OT_create_env(bpy.types.Operator):
    """Create a Python environment for the backend in the extension's user folder (downloads PyTorch; takes minutes)"""

    bl_idname = "crowdgaussian.create_env"
    bl_label = "Create Backend Environment"

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Start the creation steps in the background."""
        if STATUS["env"].get("running"):
            self.report({"WARNING"}, "The backend environment is already being created")
            return {"CANCELLED"}
        env_dir = backend_env.default_env_dir()
        log_path = backend_env.user_dir("logs") / "create-env.log"
        prefs = backend_env.preferences()

        def done(ok: bool, _stdout: list[str]) -> list[str]:
            if ok:
                prefs.env_path = str(env_dir)
                return [f"Backend environment ready: {env_dir}", f"log: {log_path}"]
            return []

        StepRunner("env", backend_env.creation_steps(env_dir), log_path, done)
        self.report({"INFO"}, f"Creating the backend environment (log: {log_path})")
        return {"FINISHED"}


class CROWDGAUSSIAN_OT_check_env(bpy.types.Operator):
    """Run `crowdgaussian doctor`: versions, CUDA, installed models and optional weights"""

    bl_idname = "crowdgaussian.check_env"
    bl_label = "Check"

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Start the doctor in the background; its report appears in the preferences."""
        try:
            argv = backend_env.backend_command() + ["doctor", "--progress", "json"]
        except (FileNotFoundError, ValueError) as exc:
            STATUS["doctor"] = {"running": False, "ok": False, "lines": [str(exc)]}
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}

        def done(ok: bool, stdout: list[str]) -> list[str]:
            for line in reversed(stdout):
                msg = parse_message(line)
                if msg and isinstance(msg.get("result"), dict):
                    return backend_env.summarize_doctor(msg["result"])
                if msg and "error" in msg:
                    return [f"error: {msg['error']}"]
            return [] if not ok else ["the backend printed no report"]

        StepRunner("doctor", [("Checking the backend", argv)], backend_env.user_dir("logs") / "doctor.log", done)
        return {"FINISHED"}


class CrowdGaussianPreferences(bpy.types.AddonPreferences):
    """Where the backend lives."""

    bl_idname = __package__

    env_path: StringProperty(name="Backend Environment", subtype="DIR_PATH",
                             description="A Python environment with the crowdgaussian backend installed "
                                         "(empty: the one Create backend environment makes)")
    backend_command: StringProperty(name="Backend Command Override", options={"HIDDEN"},
                                    description="Developers/tests: JSON list used instead of the backend CLI")

    def draw(self, context: bpy.types.Context) -> None:
        """Environment path, Create and Check buttons, progress and results."""
        layout = self.layout
        layout.prop(self, "env_path")
        row = layout.row()
        row.enabled = not STATUS["env"].get("running")
        row.operator(CROWDGAUSSIAN_OT_create_env.bl_idname, icon="CONSOLE")
        row.operator(CROWDGAUSSIAN_OT_check_env.bl_idname, icon="CHECKMARK")
        for key in ("env", "doctor"):
            status = STATUS[key]
            if status.get("running"):
                layout.progress(factor=status.get("fraction", 0.0), text=status.get("step", "Working..."))
                if status.get("detail"):
                    layout.label(text=status["detail"])
            elif status.get("lines"):
                box = layout.box()
                for line in status["lines"]:
                    box.label(text=line, icon="NONE" if status.get("ok") else "ERROR")


CLASSES = (CROWDGAUSSIAN_OT_create_env, CROWDGAUSSIAN_OT_check_env, CrowdGaussianPreferences)
