"""Background subprocesses that Blender polls from a timer without ever blocking.

A `Job` starts an argument list (never a shell string), reads its stdout and stderr on two
daemon threads into queues (and optionally a log file) and is polled from the UI thread.
`parse_message` decodes one line of the backend's JSON-lines progress protocol:
{"stage", "progress", "message"} objects, then one {"result"} or {"error"}.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)
TERMINATE_GRACE_S = 5.0


class Job:
    """One running command; `poll()` returns its new stdout lines."""

    def __init__(self, argv: list[str], log_path: Path | None = None, cwd: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.argv = [str(a) for a in argv]
        self._stdout: queue.Queue[str] = queue.Queue()
        self.stderr_tail: deque[str] = deque(maxlen=40)
        self._log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115 - closed in _finish
        self._log_lock = threading.Lock()
        self._write_log(f"$ {' '.join(self.argv)}\n")
        flags = subprocess.CREATE_NO_WINDOW if os.name == "nt" else 0
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=cwd, env=env, text=True, encoding="utf-8",
                                     errors="replace", bufsize=1, creationflags=flags)
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True)]
        for t in self._threads:
            t.start()
        self.cancelled = False

    def _write_log(self, text: str) -> None:
        with self._log_lock:
            if self._log is not None:
                self._log.write(text)
                self._log.flush()

    def _pump(self, stream: IO[str], is_stdout: bool) -> None:
        for line in stream:
            self._write_log(line if line.endswith("\n") else line + "\n")
            if is_stdout:
                self._stdout.put(line.rstrip("\r\n"))
            else:
                self.stderr_tail.append(line.rstrip("\r\n"))
        stream.close()

    def poll(self) -> list[str]:
        """New stdout lines since the last call (never blocks)."""
        lines = []
        while True:
            try:
                lines.append(self._stdout.get_nowait())
            except queue.Empty:
                return lines

    @property
    def returncode(self) -> int | None:
        """Exit status once the process ended AND its output was fully read, else None."""
        if self.proc.poll() is None or any(t.is_alive() for t in self._threads):
            return None
        self._close_log()
        return self.proc.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            self._write_log(f"[exit {self.proc.returncode}{' (cancelled)' if self.cancelled else ''}]\n")
            with self._log_lock:
                self._log.close()
                self._log = None

    def cancel(self) -> None:
        """Terminate the process (kill it if it does not stop within a few seconds)."""
        self.cancelled = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(TERMINATE_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(TERMINATE_GRACE_S)
        self._close_log()

    def last_error_line(self) -> str:
        """The last non-empty stderr line (for a readable report when the process died)."""
        for line in reversed(self.stderr_tail):
            if line.strip():
                return line.strip()
        return ""


def parse_message(line: str) -> dict | None:
    """One protocol line -> dict, or None for anything that is not a JSON object."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        log.debug("not a protocol line: %s", line)
        return None
    return obj if isinstance(obj, dict) else None
