"""The lab engine: a real Celery 5.7 app, broker and workers in this process (no Textual).

The names below load on first use, so that the pure modules (``events``, ``state``) can
be imported without starting to import Celery.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery_tutor.lab.engine import Lab, LabConfig, LabStateError
    from celery_tutor.lab.settings import LabConfigError
    from celery_tutor.lab.views import LabSnapshot

_EXPORTS = {
    "Lab": "celery_tutor.lab.engine",
    "LabConfig": "celery_tutor.lab.engine",
    "LabStateError": "celery_tutor.lab.engine",
    "LabConfigError": "celery_tutor.lab.settings",
    "LabSnapshot": "celery_tutor.lab.views",
}

__all__ = ["Lab", "LabConfig", "LabConfigError", "LabSnapshot", "LabStateError"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'celery_tutor.lab' has no attribute {name!r}")
    return getattr(import_module(module), name)
