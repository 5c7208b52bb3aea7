"""`crowdgaussian.reconstruct`: run the backend on a photo without blocking Blender, then import.

The modal operator starts the backend CLI (an argument list, never a shell string), reads
its JSON-lines progress on a timer and mirrors stage/progress into the window manager's
`crowdgaussian_job` (drawn by the sidebar panel and the status bar). Cancel terminates the
process and touches nothing in the scene; a backend error becomes one readable report. On
success the bundle is imported (the operator is the single undo step).
"""
from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from . import assemble, backend_env, importer
from .bundle import BundleError
from .jobs import Job, parse_message

log = logging.getLogger(__name__)
POLL_S = 0.2
_ACTIVE: dict[str, ReconstructSession] = {}  # the one running session, under "session"


def _apply_photo_tint(settings: CrowdGaussianSettings, context: bpy.types.Context) -> None:
    """Update of the sidebar's "Photo Tint (everyone)": every person's splats take it."""
    assemble.set_photo_tint(context.scene.objects, settings.photo_tint)


class CrowdGaussianSettings(bpy.types.PropertyGroup):
    """Sidebar options saved with the scene."""

    photo: StringProperty(name="Photo", subtype="FILE_PATH", description="Photo of several people")
    device: EnumProperty(name="Device", default="auto", items=(
        ("auto", "Auto", "CUDA when available, else CPU"), ("cpu", "CPU", ""), ("cuda", "CUDA", "")))
    max_persons: IntProperty(name="Max Persons", default=0, min=0, soft_max=50,
                             description="Keep at most this many people (0: everyone found)")
    quality: EnumProperty(name="Quality", default="default", items=(
        ("fast", "Fast", "Fewer Gaussians, quick fitting"), ("default", "Default", ""),
        ("high", "High", "More Gaussians, longer fitting")))
    output: EnumProperty(name="Output", default="BLEND", items=(
        ("BLEND", "Beside .blend", "A crowdgaussian/ folder next to the saved .blend (temporary if unsaved)"),
        ("TEMP", "Temporary", "A temporary folder"), ("CUSTOM", "Folder", "The folder below")))
    output_dir: StringProperty(name="Folder", subtype="DIR_PATH")
    photo_tint: FloatProperty(
        name="Photo Tint", default=1.0, min=0.0, max=1.0, subtype="FACTOR",
        description="How much of the photo tint every person draws (and each new import starts with): 1 matches "
                    "the photo from its camera; lower it for other views, where the tint of splats on the "
                    "photo's outlines can show as speckles",
        update=_apply_photo_tint)


class CrowdGaussianJobState(bpy.types.PropertyGroup):
    """Runtime state of the reconstruction (window manager: never saved)."""

    running: BoolProperty()
    cancel_requested: BoolProperty()
    stage: StringProperty()
    message: StringProperty()
    progress: FloatProperty(min=0.0, max=1.0, subtype="FACTOR")
    last_error: StringProperty()


def output_root(settings: CrowdGaussianSettings) -> Path:
    """Folder that receives the bundle, following the Output option."""
    if settings.output == "CUSTOM" and settings.output_dir:
        return Path(bpy.path.abspath(settings.output_dir))
    if settings.output == "BLEND" and bpy.data.filepath:
        return Path(bpy.data.filepath).parent / "crowdgaussian"
    return Path(tempfile.mkdtemp(prefix="crowdgaussian-"))


def build_argv(settings: CrowdGaussianSettings) -> tuple[list[str], Path]:
    """The backend command line for the current options and the bundle folder it will write."""
    photo = Path(bpy.path.abspath(settings.photo))
    if not settings.photo or not photo.is_file():
        raise FileNotFoundError(f"photo not found: {photo}" if settings.photo else "choose a photo first")
    bundle = output_root(settings) / f"{photo.stem}_bundle"
    argv = backend_env.backend_command() + [
        "reconstruct", str(photo), "-o", str(bundle), "--device", settings.device, "--quality", settings.quality,
        "--progress", "json", "--overwrite"]
    if settings.max_persons > 0:
        argv += ["--max-persons", str(settings.max_persons)]
    return argv, bundle


class ReconstructSession:
    """One backend run: start, `step()` on a timer, `cancel()`; imports the bundle on success."""

    def __init__(self, argv: list[str]) -> None:
        self.job = Job(argv, log_path=backend_env.user_dir("logs") / "reconstruct.log")
        self.result: str | None = None
        self.error: str | None = None
        self.started = time.monotonic()

    def step(self, context: bpy.types.Context) -> str:
        """Read new protocol lines; returns RUNNING, FINISHED (imported), FAILED or CANCELLED."""
        state = context.window_manager.crowdgaussian_job
        for line in self.job.poll():
            msg = parse_message(line)
            if msg is None:
                continue
            if "stage" in msg:
                state.stage = str(msg["stage"])
                state.progress = min(1.0, max(0.0, float(msg.get("progress", state.progress))))
                state.message = str(msg.get("message", ""))[:200]
            elif "result" in msg:
                self.result = str(msg["result"])
            elif "error" in msg:
                self.error = str(msg["error"]).splitlines()[0] if str(msg["error"]) else "unknown error"
        code = self.job.returncode
        if code is None:
            return "RUNNING"
        if self.error is None and (code != 0 or self.result is None):
            why = self.job.last_error_line() or "no result"
            self.error = f"the backend stopped (exit code {code}): {why}"
        if self.error is not None:
            return "FAILED"
        try:
            importer.import_bundle(context, self.result)
        except BundleError as exc:
            self.error = f"the backend wrote an unreadable bundle: {exc}"
            return "FAILED"
        except Exception as exc:  # noqa: BLE001 - UI boundary: a readable line, the traceback in the log
            log.exception("importing %s failed", self.result)
            self.error = f"import failed: {type(exc).__name__}: {exc}"
            return "FAILED"
        return "FINISHED"

    def cancel(self) -> None:
        """Stop the backend; the scene is left as it was."""
        self.job.cancel()


def _set_status(context: bpy.types.Context, text: str | None) -> None:
    """Status-bar text (when there is a UI) and a redraw of the 3D views."""
    if context.workspace is not None:
        context.workspace.status_text_set(text)
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


class CROWDGAUSSIAN_OT_reconstruct(bpy.types.Operator):
    """Reconstruct every person in the photo with the backend and import them as rigged Gaussian splats"""

    bl_idname = "crowdgaussian.reconstruct"
    bl_label = "Reconstruct Crowd"
    bl_options = {"REGISTER", "UNDO"}

    _timer = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        """One reconstruction at a time."""
        return "session" not in _ACTIVE

    def _start(self, context: bpy.types.Context) -> bool:
        state = context.window_manager.crowdgaussian_job
        try:
            argv, _bundle = build_argv(context.scene.crowdgaussian)
            session = ReconstructSession(argv)
        except (FileNotFoundError, ValueError, OSError) as exc:
            state.last_error = str(exc)
            self.report({"ERROR"}, f"CrowdGaussian: {exc}")
            return False
        _ACTIVE["session"] = session
        state.running, state.cancel_requested, state.last_error = True, False, ""
        state.stage, state.message, state.progress = "starting", "", 0.0
        return True

    def _end(self, context: bpy.types.Context, outcome: str) -> set[str]:
        session = _ACTIVE.pop("session")
        state = context.window_manager.crowdgaussian_job
        state.running = False
        _set_status(context, None)
        if outcome == "FINISHED":
            state.stage, state.progress = "done", 1.0
            self.report({"INFO"}, f"CrowdGaussian: imported {session.result}")
            return {"FINISHED"}
        if outcome == "FAILED":
            state.last_error = session.error or "unknown error"
            self.report({"ERROR"}, f"CrowdGaussian: {state.last_error}")
        else:
            state.stage, state.message = "cancelled", ""
            self.report({"WARNING"}, "CrowdGaussian: reconstruction cancelled")
        return {"CANCELLED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        """Start the backend and poll it from a timer (Blender stays responsive)."""
        if not self._start(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(POLL_S, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        """Timer ticks read progress; Cancel (button or Esc) stops the backend."""
        state = context.window_manager.crowdgaussian_job
        session = _ACTIVE["session"]
        if state.cancel_requested or event.type == "ESC":
            session.cancel()
            return self._finish_modal(context, "CANCELLED")
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        outcome = session.step(context)
        if outcome == "RUNNING":
            _set_status(context, f"CrowdGaussian: {state.stage} {state.progress * 100:.0f}%  {state.message}")
            return {"PASS_THROUGH"}
        return self._finish_modal(context, outcome)

    def _finish_modal(self, context: bpy.types.Context, outcome: str) -> set[str]:
        context.window_manager.event_timer_remove(self._timer)
        return self._end(context, outcome)

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Blocking variant for scripts and background mode: same protocol, same import."""
        if not self._start(context):
            return {"CANCELLED"}
        session = _ACTIVE["session"]
        while (outcome := session.step(context)) == "RUNNING":
            time.sleep(POLL_S / 4)
        return self._end(context, outcome)


class CROWDGAUSSIAN_OT_cancel(bpy.types.Operator):
    """Stop the running reconstruction (nothing is imported)"""

    bl_idname = "crowdgaussian.cancel"
    bl_label = "Cancel"

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Ask the modal operator to terminate the backend."""
        context.window_manager.crowdgaussian_job.cancel_requested = True
        return {"FINISHED"}


CLASSES = (CrowdGaussianSettings, CrowdGaussianJobState, CROWDGAUSSIAN_OT_reconstruct, CROWDGAUSSIAN_OT_cancel)


def register_properties() -> None:
    """Scene options and window-manager runtime state."""
    bpy.types.Scene.crowdgaussian = bpy.props.PointerProperty(type=CrowdGaussianSettings)
    bpy.types.WindowManager.crowdgaussian_job = bpy.props.PointerProperty(type=CrowdGaussianJobState)


def unregister_properties() -> None:
    """Undo register_properties()."""
    del bpy.types.WindowManager.crowdgaussian_job
    del bpy.types.Scene.crowdgaussian
