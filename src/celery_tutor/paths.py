"""Where things live: the lessons that ship with the package, and the learner's data."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "celery-tutor"


def bundled_lessons() -> Path:
    """The lessons that come with celery-tutor.

    An installed wheel carries them inside the package; a source checkout (also an
    editable install) keeps them in the top-level ``lessons/`` folder.
    """
    package = Path(__file__).resolve().parent
    inside = package / "lessons"
    if inside.is_dir():
        return inside
    return package.parents[1] / "lessons"


def lessons_dir(override: Path | None = None) -> Path:
    """``--lessons`` first, then ``$CELERY_TUTOR_LESSONS``, then the bundled lessons."""
    if override is not None:
        return override
    env = os.environ.get("CELERY_TUTOR_LESSONS")
    return Path(env) if env else bundled_lessons()


def data_dir(override: Path | None = None) -> Path:
    """``--data-dir`` first, then ``$CELERY_TUTOR_DATA_DIR``, then the user data dir."""
    if override is not None:
        return override
    env = os.environ.get("CELERY_TUTOR_DATA_DIR")
    return Path(env) if env else platformdirs.user_data_path(APP_NAME)
