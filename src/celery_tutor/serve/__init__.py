"""``celery-tutor serve``: the course in a browser, one app process per learner.

textual-serve runs a Textual app in a browser: its browser client (xterm.js) talks over a
websocket to a process started for that connection, and its ``AppService`` speaks the
protocol between the two. Its own ``Server`` starts one fixed command line for everyone;
here every learner needs their own progress directory, so :mod:`.server` is a small aiohttp
server of its own that reuses ``AppService`` and the browser client, and starts, per
connection, ``python -m celery_tutor --lessons DIR --data-dir DATA/sessions/KEY``.

Who is who: the page gives each browser a random session id in a cookie (HttpOnly,
SameSite=Strict, kept 30 days), so a reload or a later visit from the same browser finds
its progress again, and two browsers (two learners, or a private window) never share it.
One learner has one live session: opening the course in a second tab moves the session
there, and the first tab says so. The progress directory is named by a hash of the id.

This package imports neither Textual nor Celery (each session's process does), and this
module not even aiohttp: the command line reads its defaults and checks from here.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_SESSIONS = 8
MAX_SESSIONS_CAP = 32
"""Each session is a Python process with a Celery lab: about 65 MB once a lesson runs (see
benchmarks/serve.py), so 32 take 2 GB; the cores run out first (8 starting at once take
about 10 s to draw on two cores)."""

QUIT_GRACE = 2.0
"""Seconds an app has to quit by itself once its tab is gone, before SIGTERM."""
TERM_GRACE = 1.5
"""Seconds after SIGTERM before SIGKILL: with QUIT_GRACE, within the 5 s a tab's end may take."""

SESSION_ID_PATTERN = r"[A-Za-z0-9_-]{24}"
"""What :func:`new_session_id` makes; anything else in the cookie is refused unread."""


@dataclass(frozen=True)
class ServeConfig:
    """What ``celery-tutor serve`` was asked for, checked by :func:`check_config`."""

    host: str
    port: int
    max_sessions: int
    lessons: Path
    data_root: Path
    python: str = sys.executable

    @property
    def sessions_dir(self) -> Path:
        """Where every learner's progress directory lives."""
        return self.data_root / "sessions"

    def app_argv(self, session_id: str) -> list[str]:
        """The command line of one learner's app process."""
        data = session_dir(self.sessions_dir, session_id)
        return [self.python, "-m", "celery_tutor", "--lessons", str(self.lessons), "--data-dir", str(data)]


def check_config(host: str, port: int, max_sessions: int, lessons: Path) -> list[str]:
    """Every reason the server cannot start with these options (empty: it can)."""
    problems = []
    if not host.strip():
        problems.append("--host: give a host name or address (default 127.0.0.1)")
    if not 0 <= port <= 65535:
        problems.append(f"--port: {port} is not a port; give 1-65535 (0 picks a free one)")
    if not 1 <= max_sessions <= MAX_SESSIONS_CAP:
        problems.append(f"--max-sessions: {max_sessions} is not in 1-{MAX_SESSIONS_CAP}")
    if not lessons.is_dir():
        problems.append(f"--lessons: {lessons} is not a folder")
    return problems


def exposure_warning(host: str) -> str:
    """What to print when the server is reachable from other machines."""
    return (
        f"warning: serving on {host}, not only on this machine: anyone who can reach this address can open "
        "the course, and every session runs a Celery lab (and any code a lesson lets the learner run) on "
        "this machine, as this user. Serve on 127.0.0.1 (the default) unless you mean to share it."
    )


def new_session_id() -> str:
    """A random id nobody can guess (the cookie is the learner's only key to their progress)."""
    return secrets.token_urlsafe(18)


def session_dir(sessions: Path, session_id: str) -> Path:
    """A learner's progress directory: named by a hash of the id, never by the id itself."""
    return sessions / hashlib.sha256(session_id.encode()).hexdigest()[:24]
