"""The lab's zoom and time-travel keys belong to the app: no lesson control can take them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from celery_tutor.course.lessons import load_course
from celery_tutor.course.loader import RESERVED_KEYS, LessonError, parse_lesson
from celery_tutor.paths import bundled_lessons
from celery_tutor.ui.screens.sandbox import SANDBOX_CONTROLS

STEP_KEYS = ("[", "]")


@pytest.mark.parametrize("key", STEP_KEYS)
def test_a_lesson_control_on_a_step_key_is_refused(key: str) -> None:
    path = bundled_lessons() / "01-acknowledgement.yaml"
    text = path.read_text(encoding="utf-8").replace("  - key: s\n", f'  - key: "{key}"\n', 1)
    with pytest.raises(LessonError) as raised:
        parse_lesson(text, str(path))
    assert any(f"{key!r} is the app's key for stepping the lab's view" in p.message for p in raised.value.problems)


def test_no_lesson_or_sandbox_control_sits_on_a_key_of_the_lab_view() -> None:
    assert set(STEP_KEYS) <= set(RESERVED_KEYS)
    taken = {" ", *STEP_KEYS}  # space pauses; the F-keys are not one character: no control can have them
    for lesson in load_course([bundled_lessons()]).lessons:
        assert not taken & {control.key for control in lesson.controls}, lesson.id
    assert not taken & {control.key for control in SANDBOX_CONTROLS}


def test_the_time_travel_model_loads_neither_textual_nor_celery() -> None:
    code = "import sys, celery_tutor.lab.history; print(' '.join(m for m in ('textual', 'celery', 'kombu') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
