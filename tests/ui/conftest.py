"""UI tests run the real app on a temporary data dir, at a fixed size, in the default theme."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from celery_tutor.course.lessons import load_course
from celery_tutor.paths import bundled_lessons
from celery_tutor.progress_store import ProgressStore
from celery_tutor.ui.app import TutorApp

os.environ.pop("NO_COLOR", None)


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., TutorApp]:
    def build(lessons: Path | None = None, data: Path | None = None) -> TutorApp:
        course = load_course([lessons or bundled_lessons()])
        return TutorApp.for_course(course, ProgressStore(data or tmp_path / "data"))

    return build
