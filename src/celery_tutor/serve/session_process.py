"""One learner's app process: textual-serve's protocol over an argv, and a sure end.

:mod:`.server` starts one per open tab. The process leads a process group of its own, so
that ending it ends whatever it started, and on Linux it is asked to end with the server
even when the server cannot ask (killed outright).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from asyncio.subprocess import Process
from collections.abc import Awaitable, Callable

from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from celery_tutor.serve import QUIT_GRACE, TERM_GRACE


class SessionProcess(AppService):
    """One learner's app: textual-serve's protocol, with an argv, a process group and a sure end.

    ``AppService`` runs a shell command line; this runs the argv itself (no quoting of
    paths), as the leader of a new process group, and :meth:`end` makes sure the app and
    anything it started in its group are gone: quit, then SIGTERM, then SIGKILL.
    """

    def __init__(
        self,
        argv: list[str],
        *,
        write_bytes: Callable[[bytes], Awaitable[None]],
        write_str: Callable[[str], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
        download_manager: DownloadManager,
    ) -> None:
        super().__init__(
            " ".join(argv), write_bytes=write_bytes, write_str=write_str, close=close, download_manager=download_manager
        )
        self.argv = argv
        self.finished = asyncio.Event()
        """Set when the app's output has ended: it quit, or died."""
        self.process: Process | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,
            preexec_fn=_END_WITH_THE_SERVER,
        )
        self.process = self._process = process
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            self.finished.set()

    async def end(self) -> int | None:
        """Stop the app and wait until it and its process group are gone; its exit code."""
        process = self.process
        if process is None:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + QUIT_GRACE
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop(), QUIT_GRACE)  # asks the app to quit, reads its last output
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), max(0.01, deadline - loop.time()))
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)  # the app quits as with q on SIGTERM
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), TERM_GRACE)
        _signal_group(process.pid, signal.SIGKILL)  # the app if it is still there, and what it left
        return await process.wait()


def _ask_for_sigterm_when_the_server_dies() -> Callable[[], None] | None:
    """On Linux, a function for the child to run before the app: SIGTERM when the server dies.

    A server killed outright (SIGKILL, a crash) cannot end its sessions, and an app does not
    notice that its input has closed: without this, it and its lab would run on forever.
    The app quits cleanly on SIGTERM. The kernel sends it when the thread that started the
    child ends: the server's event loop thread, which lives as long as the server.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    set_parent_death_signal = 1  # PR_SET_PDEATHSIG in <linux/prctl.h>
    server = os.getpid()

    def ask() -> None:  # runs in the child between fork and exec
        prctl(set_parent_death_signal, int(signal.SIGTERM))
        if os.getppid() != server:  # the server died before the request was made
            os.kill(os.getpid(), signal.SIGTERM)

    return ask


_END_WITH_THE_SERVER = _ask_for_sigterm_when_the_server_dies()


def _signal_group(group: int, number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, number)
