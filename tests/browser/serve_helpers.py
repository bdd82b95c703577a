"""``celery-tutor serve`` in a subprocess on a free loopback port, and its app processes."""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from celery_tutor.paths import bundled_lessons

SERVING = re.compile(rb"serving the course on (http://\S+?)/?\s*$")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
"""Screenshots of the browser tests (ignored by git)."""


@dataclass
class Served:
    """A running ``celery-tutor serve``: its address, process, and where progress goes."""

    url: str
    process: subprocess.Popen[bytes]
    data: Path
    output: bytearray = field(default_factory=bytearray)

    @property
    def sessions(self) -> Path:
        return self.data / "sessions"

    def learner_dirs(self) -> list[Path]:
        """The learners' progress directories (not the server's own ``.shared``)."""
        if not self.sessions.exists():
            return []
        return sorted(p for p in self.sessions.iterdir() if not p.name.startswith("."))

    def app_processes(self) -> list[int]:
        """The learners' app processes now: the server's children."""
        return children(self.process.pid)

    def wait_for_apps(self, count: int, timeout: float) -> float:
        """Wait until exactly ``count`` app processes run; the seconds it took."""
        return self.wait_until(
            lambda: len(self.app_processes()) == count,
            timeout,
            lambda: f"{len(self.app_processes())} app processes after {timeout} s, expected {count}",
        )

    def wait_for_room(self, timeout: float) -> float:
        """Wait until the page offers a new learner a seat; the seconds it took.

        The server gives a seat back once it has ended the session, a moment after the
        app's process is gone: in between, the page still says the server is full.
        """

        def has_room() -> bool:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=5) as response:
                    return bool(response.status == 200)
            except urllib.error.HTTPError:
                return False  # 503: full

        return self.wait_until(has_room, timeout, lambda: f"no seat free after {timeout} s")

    def wait_until(self, done: Callable[[], bool], timeout: float, failure: Callable[[], str]) -> float:
        """Wait until ``done()`` holds (the server works in its own process); the seconds it took."""
        started = time.monotonic()
        while not done():
            if time.monotonic() - started > timeout:
                raise AssertionError(failure())
            time.sleep(0.05)  # a poll interval: read again until the deadline
        return time.monotonic() - started


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def start_server(data: Path, *args: str, timeout: float = 30.0) -> Served:
    """Start ``celery-tutor serve --port 0`` and wait for the address it prints."""
    command = [sys.executable, "-m", "celery_tutor", "--data-dir", str(data), "serve", "--port", "0", *args]
    if "--lessons" not in args:
        command += ["--lessons", str(bundled_lessons())]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    output = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = process.stdout.readline() if ready else b""
        output += line
        match = SERVING.search(line)
        if match:
            return Served(match.group(1).decode(), process, data, output)
        if not ready or not line:
            process.kill()
            process.wait()
            raise AssertionError(f"celery-tutor serve did not start: {bytes(output).decode(errors='replace')}")


def stop_server(served: Served) -> None:
    """Ctrl-C the server, as a person would; nothing it started may outlive it."""
    apps = served.app_processes()
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGINT)
    try:
        served.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()
    for pid in apps:  # each app leads its own process group: end any the server left behind
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    assert served.process.stdout is not None
    served.output += served.process.stdout.read()
