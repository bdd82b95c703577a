"""The lesson-format guide's Code steps section states what the code does: a test keeps them together."""

from __future__ import annotations

from pathlib import Path

import pytest

from celery_tutor.course import pace
from celery_tutor.lab.learner_code import EXTRA_OPTIONS
from celery_tutor.lab.learner_namespace import KIT_NAMES, REMOVED_BUILTINS, STANDARD_MODULES
from celery_tutor.verification.run import GOAL_TIMEOUT

DOCS = Path(__file__).parents[2] / "docs" / "lesson-format.md"


def section(title: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    return text[start : text.index("\n## ", start + 1)]


CODE_STEPS = section("Code steps")


@pytest.mark.parametrize(
    "name", [*KIT_NAMES, *REMOVED_BUILTINS, *EXTRA_OPTIONS, *(m for m in STANDARD_MODULES if m != "__future__")]
)
def test_the_guide_names_what_learner_code_gets_and_lacks(name: str) -> None:
    assert f"`{name}`" in CODE_STEPS, name


def test_the_guide_states_verify_s_wait_and_the_pace_of_a_code_step() -> None:
    assert f"within {GOAL_TIMEOUT:g} s after the experiment" in CODE_STEPS
    assert f"{pace.CODE_SECONDS} s per code step" in section("Minutes")
