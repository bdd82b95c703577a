"""The lab on a real broker: real ``celery worker`` processes, watched through Celery's events.

The in-process lab (:class:`~celery_tutor.lab.engine.Lab`) stays the default. Given a broker
URL, :class:`~.real_lab.RealLab` starts prefork workers as separate processes
(:mod:`.worker_main`, :mod:`.process`), reads what they do from Celery's event stream
(:mod:`.receiver`, :mod:`.translate`) and emits the same typed lab events, so scripts, goal
conditions and reports work unchanged. Everything the lab creates on the broker carries a
per-lab prefix (:mod:`.names`); :mod:`.safety` refuses remote hosts and unreachable brokers.

Names load on first use so that importing this package does not import Celery.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery_tutor.lab.real.real_lab import RealLab
    from celery_tutor.lab.real.safety import BrokerRefused, check_broker_url

_EXPORTS = {
    "RealLab": "celery_tutor.lab.real.real_lab",
    "BrokerRefused": "celery_tutor.lab.real.safety",
    "check_broker_url": "celery_tutor.lab.real.safety",
}

__all__ = ["BrokerRefused", "RealLab", "check_broker_url"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'celery_tutor.lab.real' has no attribute {name!r}")
    return getattr(import_module(module), name)
