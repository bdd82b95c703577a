"""Settings for the whole suite: nothing here may depend on how fast the machine is today."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

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
