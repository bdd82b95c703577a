"""Lesson files load into the model; broken ones are listed with their problems, not hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from celery_tutor.cli import main
from celery_tutor.course.conditions import EventCount, Sequence, TaskState
from celery_tutor.course.lessons import load_course
from celery_tutor.course.loader import LessonError, load_lesson, parse_lesson
from celery_tutor.course.model import LabStep, PredictStep, QuizStep, ReadStep
from celery_tutor.lab.actions import Crash, Send
from celery_tutor.lab.script import ScriptError, load_script, parse_script
from celery_tutor.paths import bundled_lessons
from celery_tutor.yaml_source import Pos

LESSONS = bundled_lessons()
SHIPPED = sorted(LESSONS.glob("*.yaml"))


def test_the_first_lesson_loads_into_the_model() -> None:
    lesson = load_lesson(LESSONS / "01-acknowledgement.yaml")
    assert lesson.id == "acknowledgement"
    assert lesson.lab.tasks == ("generate_report", "add")
    keys = [control.key for control in lesson.controls]
    assert keys == ["s", "r", "k", "w"]
    assert isinstance(lesson.controls[0].action, Send) and lesson.controls[0].label == "send add(2, 3)"
    assert isinstance(lesson.controls[2].action, Crash)
    kinds = [type(step) for step in lesson.steps]
    assert kinds == [ReadStep, LabStep, PredictStep, QuizStep]
    lab = lesson.step("send-one")
    assert isinstance(lab, LabStep) and len(lab.hints) == 2
    assert [type(c) for c in lab.goal] == [EventCount, EventCount, TaskState]
    predict = lesson.step("predict-prefetch")
    assert isinstance(predict, PredictStep)
    assert [c.correct for c in predict.choices] == [False, True, False]
    assert all(isinstance(c, Sequence) for c in predict.expect)
    quiz = lesson.step("quiz")
    assert isinstance(quiz, QuizStep)
    assert [q.kind for q in quiz.questions] == ["single", "true_false", "ordering", "numeric"]
    numeric = quiz.questions[3]
    assert numeric.answer == 4 and numeric.tolerance == 0 and numeric.measure is not None
    assert numeric.feedback[5.0].startswith("The running task was acked")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_lesson_checks_clean(path: Path) -> None:
    lesson = load_lesson(path)
    assert any(isinstance(step, (PredictStep, LabStep)) for step in lesson.steps)
    assert any(isinstance(step, QuizStep) for step in lesson.steps)


def test_the_course_has_the_curriculum_in_order() -> None:
    course = load_course([LESSONS])
    assert course.broken == ()
    assert len(course.lessons) >= 1
    # The curriculum of the notes, about 90 minutes, and the lessons on what production breaks next.
    assert sum(lesson.minutes for lesson in course.lessons) <= 130
    assert all(lesson.minutes <= 15 for lesson in course.lessons)


def test_a_broken_lesson_is_listed_with_its_problems(tmp_path: Path) -> None:
    (tmp_path / "01-good.yaml").write_text((LESSONS / "01-acknowledgement.yaml").read_text())
    (tmp_path / "02-bad.yaml").write_text("schema: 1\nid: bad\n")
    (tmp_path / "03-same-id.yaml").write_text((LESSONS / "01-acknowledgement.yaml").read_text())
    course = load_course([tmp_path])
    assert [lesson.id for lesson in course.lessons] == ["acknowledgement"]
    broken = {Path(b.path).name: [str(p) for p in b.problems] for b in course.broken}
    assert broken["02-bad.yaml"][0] == f"{tmp_path / '02-bad.yaml'}:1:1: lesson: missing required key 'title'"
    assert broken["03-same-id.yaml"] == [
        f"{tmp_path / '03-same-id.yaml'}:2:1: id: 'acknowledgement' is already the id of {tmp_path / '01-good.yaml'}"
    ]


def test_check_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert "lesson(s) OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: 2\n")
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:1:9: schema: this version of celery-tutor reads schema 1, not 2" in err
    assert main(["check", str(tmp_path / "missing.yaml")]) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["f.yaml:1:1: SHAPE"]),
        ("- a\n- b\n", ["f.yaml:1:1: SHAPE"]),
        ("- {a: 1, a: 2}\n", ["f.yaml:1:10: duplicate key 'a'", "f.yaml:1:1: SHAPE"]),
    ],
)
def test_lessons_and_scripts_share_one_reading_of_a_file(text: str, expected: list[str]) -> None:
    """A root that is no mapping, or no YAML, is refused in the same words (but each its own shape)."""
    with pytest.raises(LessonError) as lesson:
        parse_lesson(text, "f.yaml")
    with pytest.raises(ScriptError) as script:
        parse_script(text, "f.yaml")
    lesson_shape = "a lesson is a mapping with schema, id, title, … and steps"
    script_shape = "a script is a mapping with steps: […]"
    assert [str(p) for p in lesson.value.problems] == [line.replace("SHAPE", lesson_shape) for line in expected]
    assert [str(p) for p in script.value.problems] == [line.replace("SHAPE", script_shape) for line in expected]


def test_text_that_is_not_yaml_is_one_problem_for_lessons_and_scripts() -> None:
    with pytest.raises(LessonError) as lesson:
        parse_lesson("{", "f.yaml")
    with pytest.raises(ScriptError) as script:
        parse_script("{", "f.yaml")
    assert lesson.value.problems == script.value.problems
    assert len(lesson.value.problems) == 1 and "invalid YAML" in lesson.value.problems[0].message


def test_an_unreadable_file_is_one_problem_for_lessons_and_scripts(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(LessonError) as lesson:
        load_lesson(missing)
    with pytest.raises(ScriptError) as script:
        load_script(missing)
    assert [p.pos for p in lesson.value.problems] == [p.pos for p in script.value.problems] == [Pos(1, 1)]
    assert "cannot read the lesson" in lesson.value.problems[0].message
    assert "cannot read the script" in script.value.problems[0].message
