"""Where things live: the lessons that ship with the package, and the learner's data."""

from __future__ import annotations

import os
from datetime import UTC, datetime
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


def move_aside(path: Path, now: datetime | None = None) -> Path | None:
    """Move an unreadable file to ``NAME.broken-STAMP`` beside it, never over another one.

    The learner's data is never deleted: a file the app cannot read is kept for them (or
    for a bug report) under a new name, and a fresh one takes its place. The stamp has
    microseconds, and a counter is added when a file of that name exists already (two
    instances, or a clock that does not move). Returns None when the file cannot be moved.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%f")
    number = -1
    while True:
        number += 1
        suffix = f".broken-{stamp}" + (f"-{number}" if number else "")
        aside = path.with_name(path.name + suffix)
        try:
            os.link(path, aside)  # fails if the name is taken: nothing is ever overwritten
        except FileExistsError:
            continue
        except OSError:  # no hard links here (some network or FAT file systems)
            if aside.exists():
                continue
            try:
                os.replace(path, aside)
            except OSError:
                return None
            return aside
        try:
            path.unlink()
        except OSError:
            aside.unlink(missing_ok=True)
            return None
        return aside
