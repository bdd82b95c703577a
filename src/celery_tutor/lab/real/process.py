"""A lab worker the tutor started: a ``celery-tutor worker`` subprocess in its own process group.

The tutor owns these processes: it kills them like ``kill -9`` (SIGKILL to the group, so
the pool children die with their parent), stops them warm (SIGTERM, Celery's warm
shutdown), and when the lab closes kills every one still alive, by its PID, and waits for
it. A worker's output goes to a log file that error messages quote.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

EXIT_TIMEOUT = 10.0
"""Seconds a killed worker's process group may take to be gone."""


def worker_arguments(
    url: str,
    name: str,
    prefix: str,
    plain_settings: Mapping[str, Any] | None = None,
    task_options: Mapping[str, Any] | None = None,
    *,
    allow_remote: bool = False,
) -> list[str]:
    """``celery-tutor``'s arguments that start one lab worker: for the tutor's own, and for a learner to paste."""
    words = ["worker", "--broker", url, "--prefix", prefix, "--name", name]
    if allow_remote:
        words.append("--allow-remote")
    if plain_settings:
        words += ["--settings", json.dumps(dict(plain_settings), separators=(",", ":"), sort_keys=True)]
    if task_options:
        words += ["--task-options", json.dumps(dict(task_options), separators=(",", ":"), sort_keys=True)]
    return words


def worker_command(
    url: str, name: str, prefix: str, plain_settings: Mapping[str, Any], task_options: Mapping[str, Any]
) -> list[str]:
    """The command line of one lab worker, run by this very Python (:class:`WorkerProcess` adds its lifeline).

    ``--allow-remote``: the tutor checked the URL already.
    """
    arguments = worker_arguments(url, name, prefix, plain_settings, task_options, allow_remote=True)
    return [sys.executable, "-m", "celery_tutor", *arguments]


class WorkerProcess:
    """One incarnation of a lab worker process."""

    def __init__(self, name: str, command: list[str], on_exit: Callable[[WorkerProcess], None]) -> None:
        self.name = name
        # An unnamed file: it goes away with the last process holding it, however the tutor ends.
        self._log = tempfile.TemporaryFile(prefix=f"celery-tutor-{name}-")  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        src = str(Path(__file__).resolve().parents[3])  # this package's root: the worker runs the same code
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
        # The lifeline: a pipe whose only write end is ours. When this process ends, however it
        # ends (Ctrl-C's os._exit, a SIGKILL), the worker reads EOF and kills itself: never left behind.
        lifeline, self._lifeline = os.pipe()
        try:
            self.process = subprocess.Popen(
                [*command, "--lifeline", str(lifeline)],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a crash kills the pool children too
                env=env,
                pass_fds=(lifeline,),
            )
        finally:
            os.close(lifeline)
        os.set_inheritable(self._lifeline, False)
        self._lifeline_lock = threading.Lock()
        self.status = "starting"
        """starting, alive, stopping, stopped or killed (the tutor's view)."""
        self.exited = threading.Event()
        self._on_exit = on_exit
        self._watcher = threading.Thread(target=self._watch, name=f"celery-tutor-{name}-watch", daemon=True)
        self._watcher.start()

    @property
    def pid(self) -> int:
        """The worker's main process id (also its process group id)."""
        return self.process.pid

    def _watch(self) -> None:
        self.process.wait()
        self.cut_lifeline()
        self.exited.set()
        self._on_exit(self)

    def cut_lifeline(self) -> None:
        """Close the tutor's end of the lifeline (once): the worker then kills itself, as if the tutor died."""
        with self._lifeline_lock:
            fd, self._lifeline = self._lifeline, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    def kill(self) -> None:
        """SIGKILL the worker's whole process group, like ``kill -9`` of a worker and its pool."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def terminate(self) -> None:
        """SIGTERM the main process: Celery's warm shutdown (running tasks finish)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)

    def wait(self, timeout: float = EXIT_TIMEOUT) -> bool:
        """Block until the process has exited; False on timeout."""
        return self.exited.wait(timeout)

    def reap_group(self) -> None:
        """Kill whatever is left of the process group (pool children whose parent died)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 5) -> str:
        """The end of the worker's output, for error messages."""
        try:
            data = os.pread(self._log.fileno(), 64_000, max(0, os.fstat(self._log.fileno()).st_size - 64_000))
        except (OSError, ValueError):
            return ""
        return "\n".join(data.decode(errors="replace").strip().splitlines()[-lines:])

    def remove_log(self) -> None:
        """Let the worker's output go (the lab is closing)."""
        self._log.close()
