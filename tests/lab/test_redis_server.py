"""The Redis lab's server: a real process on loopback, stopped by its PID."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from celery_tutor.lab.redis_server import RedisServer, RedisUnavailable, find_server_binary

pytestmark = pytest.mark.skipif(find_server_binary() is None, reason="no Redis server binary here")


def _ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(16)


def test_a_server_starts_on_loopback_answers_and_stops_by_pid() -> None:
    server = RedisServer.start()
    try:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert _ping(server.port) == b"+PONG\r\n"
    finally:
        server.stop()
    assert server.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
    with pytest.raises(OSError):
        _ping(server.port)
    assert not Path(server.directory.name).exists()


def test_a_binary_that_is_not_a_server_gives_one_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'no such option' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(RedisUnavailable, match="did not start"):
        RedisServer.start(fake, timeout=2)
