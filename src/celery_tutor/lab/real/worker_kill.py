"""Killing a lab worker for real: ``SIGKILL`` to its whole process group, as the OOM killer or a crash would."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def _children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def kill_worker(main_pid: int) -> None:
    """SIGKILL the whole worker: its process group when it leads one, else it and its children."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(main_pid) == main_pid:
            os.killpg(main_pid, signal.SIGKILL)
            return
    me = os.getpid()
    for pid in [*_children_of(main_pid), main_pid]:
        if pid != me:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    os.kill(me, signal.SIGKILL)


def block_until_killed() -> None:
    """A SIGKILL is on its way to this process: do nothing more until it lands."""
    while True:
        signal.pause()
