"""The lab engine: a real Celery 5.7 app, broker and workers in this process (no Textual)."""

from celery_tutor.lab.engine import Lab, LabConfig, LabStateError
from celery_tutor.lab.settings import LabConfigError
from celery_tutor.lab.state import LabSnapshot

__all__ = ["Lab", "LabConfig", "LabConfigError", "LabSnapshot", "LabStateError"]
