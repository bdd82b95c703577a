"""Every shipped lesson's claims hold on the real lab (what ``celery-tutor verify`` runs)."""

from __future__ import annotations

import pytest

from celery_tutor.course.lessons import load_course
from celery_tutor.paths import bundled_lessons
from celery_tutor.verification import verify

pytestmark = pytest.mark.lab


def test_every_lesson_claim_holds_on_the_real_lab() -> None:
    course = load_course([bundled_lessons()])
    assert course.broken == ()
    checks = verify(list(course.lessons), jobs=4)
    assert checks, "no claims to verify"
    failed = [check.line() for check in checks if not check.ok]
    assert not failed, "\n".join(failed)
    verified = {check.lesson for check in checks}
    assert verified == {lesson.id for lesson in course.lessons}, "every lesson has something to verify"
