"""Broken lessons: each file has one fault, reported once, at its place, in words an author can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from celery_tutor.cli import main
from celery_tutor.course.lessons import lesson_files
from celery_tutor.course.loader import LessonError, load_lesson, parse_lesson
from celery_tutor.lab.events import EVENT_KINDS
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.lab.settings import EXCEPTIONS, SETTINGS, TASK_OPTIONS

ROOT = Path(__file__).parents[2]
BAD = ROOT / "tests" / "data" / "lessons" / "bad"
LESSONS = ROOT / "lessons"

EXPECTED: dict[str, str] = {
    "code-missing-starter.yaml": "11:7: write-it.code: missing required key 'starter'",
    "code-not-a-string.yaml": "27:9: write-it.code.solution: expected Python code (a literal block: solution: |)",
    # Placed at the '(' left open, in the file: the block's indentation plus the code's column.
    "code-solution-does-not-parse.yaml": "34:33: write-it.code.solution: '(' was never closed",
    "code-starter-without-task.yaml": (
        "13:9: write-it.code.starter: the code defines no task: decorate a function with @app.task"
    ),
    "code-wrong-solution-other-task.yaml": (
        "42:13: write-it.code.wrong_solutions.code: task fetch_rate is not one this step runs: "
        "this step expects a task named fetch_exchange_rate"
    ),
    "condition-without-label.yaml": "19:11: try-it.lab.goal: every condition needs a label the learner can read",
    "crash-task-without-checkpoint.yaml": "11:12: crash: task needs at (a checkpoint); crash: {} kills the worker now",
    "duplicate-control-key.yaml": "12:10: control.key: 's' is already used by the control on line 9",
    "duplicate-question-id.yaml": "34:13: question.id: 'when-ack' is already the id of the question on line 28",
    "duplicate-step-id.yaml": "15:9: step.id: 'intro' is already the id of the step on line 13",
    "duplicate-yaml-key.yaml": "6:1: duplicate key 'title'",
    # Poor: the mapping left open at 11:11 is reported where the parser gave up (12:1), and the parser's
    # context and problem run together ("while parsing a flow mapping did not find…"). libyaml's wording.
    "invalid-yaml.yaml": "12:1: invalid YAML: while parsing a flow mapping (started at 11:11): did not find expected ',' or '}'",
    "minutes-not-a-number.yaml": "5:10: minutes: expected a whole number from 1 to 120, got 'ten'",
    "missing-title.yaml": "1:1: lesson: missing required key 'title'",
    "numeric-without-tolerance.yaml": "34:9: runs.numeric: a numeric answer needs a tolerance (0 for an exact answer)",
    "reserved-control-key.yaml": "9:10: control.key: 'q' is the app's key for quit",
    "setup-waits.yaml": "23:9: try-it.lab.setup: a setup cannot wait",
    "single-none-correct.yaml": (
        "31:11: when-ack.single.choices: a single-answer question needs exactly one correct choice, found 0"
    ),
    "single-two-correct.yaml": (
        "31:11: when-ack.single.choices: a single-answer question needs exactly one correct choice, found 2"
    ),
    "step-id-not-an-id.yaml": "15:9: step.id: 'Try it' is not an id (lowercase letters, digits and dashes)",
    "step-with-two-kinds.yaml": "15:5: step: only one of read, predict, lab, code, quiz per entry",
    "toggle-not-boolean.yaml": (
        "10:13: control.toggle: 'worker_concurrency' is not an on/off setting; valid: task_acks_late, "
        "task_reject_on_worker_lost, task_acks_on_failure_or_timeout, task_retry_on_worker_lost, "
        "worker_deduplicate_successful_tasks, worker_cancel_long_running_tasks_on_connection_loss, "
        "worker_enable_remote_control, worker_enable_soft_shutdown_on_idle"
    ),
    "unknown-alias.yaml": (
        "38:17: guess.predict.expect.task: 'summ' is neither an alias from this step's scripts (sum) nor a lab task"
    ),
    "unknown-checkpoint.yaml": "11:17: crash.at: unknown checkpoint of add 'summing'; valid: adding, task_finished",
    "unknown-control.yaml": (
        "24:11: unknown control 'sleep'; valid: send, set, task_options, fail_next, crash, kill_child, "
        "drop_connection, restart_worker, stop_worker, deploy, purge, reset, wait"
    ),
    "unknown-event-kind.yaml": (
        "24:33: wait.until.event: unknown event 'success'; valid: " + ", ".join(sorted(EVENT_KINDS))
    ),
    "unknown-exception.yaml": (
        "11:33: fail_next.exc: unknown exception 'NetworkError'; valid: " + ", ".join(sorted(EXCEPTIONS))
    ),
    "unknown-setting.yaml": (
        "8:14: lab.settings: unknown setting 'task_ack_late'; valid: " + ", ".join(sorted(SETTINGS))
    ),
    "unknown-state.yaml": (
        "20:34: try-it.lab.goal.state.is: unknown state 'DONE'; valid: PENDING, RECEIVED, STARTED, RETRY, "
        "SUCCESS, FAILURE, REJECTED, LOST"
    ),
    "unknown-task-option.yaml": (
        "8:24: lab.task_options.add: unknown task option 'max_retry'; valid: " + ", ".join(sorted(TASK_OPTIONS))
    ),
    "unknown-task.yaml": "11:18: send.task: unknown task 'ad'; valid: " + ", ".join(sorted(LAB_TASKS)),
    "unknown-top-level-key.yaml": (
        "6:1: lesson: unknown key 'author'; valid: schema, id, title, summary, minutes, steps, concepts, lab, controls"
    ),
    "unsafe-yaml-tag.yaml": "4:10: unsupported tag '!!python/object/apply:os.system'",
    "wrong-schema-version.yaml": "1:9: schema: this version of celery-tutor reads schema 1, not 2",
}
"""Every file of the folder, and the one problem the loader reports for it (``line:col: message``)."""


def test_every_bad_lesson_has_an_expectation() -> None:
    assert sorted(p.name for p in BAD.glob("*.y*ml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_bad_lesson_reports_its_one_fault(name: str) -> None:
    with pytest.raises(LessonError) as caught:
        load_lesson(BAD / name)
    problems = caught.value.problems
    assert [f"{p.pos.line}:{p.pos.col}: {p.message}" for p in problems] == [EXPECTED[name]]
    assert [str(p) for p in problems] == [f"{BAD / name}:{EXPECTED[name]}"]


def test_check_reports_every_problem_of_the_bad_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(BAD)]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.splitlines() == [f"{path}:{EXPECTED[path.name]}" for path in lesson_files(BAD)]


def test_check_accepts_the_bundled_lessons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(LESSONS)]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert out.out == f"{len(lesson_files(LESSONS))} lesson(s) OK\n"


# --- known loader bugs: these document what check should report, and fail loudly once it does ----

SMALL = (
    (BAD / "missing-title.yaml")
    .read_text(encoding="utf-8")
    .replace("id: small-lesson\n", "id: small-lesson\ntitle: A small lesson\n", 1)
)
"""A valid small lesson (the missing-title file with its title back)."""

SOLUTION_WAIT = "        - wait: {until: {event: succeeded}}\n"
GOAL_STATE = "          state: {task: add, is: SUCCESS}\n"


def variant(old: str, new: str) -> str:
    assert SMALL.count(old) == 1, old
    return SMALL.replace(old, new)


def problems_of(text: str) -> list[str]:
    try:
        parse_lesson(text, "l.yaml")
    except LessonError as exc:
        return [f"{p.pos.line}:{p.pos.col}: {p.message}" for p in exc.problems]
    return []


def test_the_small_lesson_is_valid() -> None:
    assert problems_of(SMALL) == []


def test_an_empty_task_options_control_is_reported() -> None:
    assert problems_of(variant(SOLUTION_WAIT, "        - task_options: {}\n" + SOLUTION_WAIT)) != []


def test_a_wait_for_an_unknown_alias_is_reported() -> None:
    problems = problems_of(variant(SOLUTION_WAIT, "        - wait: {until: {task: nobody, state: SUCCESS}}\n"))
    assert len(problems) == 1 and "'nobody'" in problems[0]


def test_an_unknown_key_of_an_event_condition_is_reported_once() -> None:
    assert problems_of(variant(GOAL_STATE, "          event: started\n          foo: 1\n")) == [
        "21:11: try-it.lab.goal: unknown key 'foo'; valid: label, event, task, where, count"
    ]


def test_a_misspelt_question_kind_is_the_only_unknown_key() -> None:
    problems = problems_of(variant("        single: By default,", "        singel: By default,"))
    assert not [p for p in problems if "'choices'" in p or "'explain'" in p], problems


def test_schema_true_is_not_version_1() -> None:
    assert problems_of(variant("schema: 1\n", "schema: true\n")) != []


def test_an_id_ending_in_a_newline_is_not_an_id() -> None:
    assert problems_of(variant("id: small-lesson\n", 'id: "small-lesson\\n"\n')) != []


@pytest.mark.parametrize(
    "text", ["        - wait: {seconds: .nan}\n", "        - wait: {seconds: .inf}\n"], ids=["nan", "inf"]
)
def test_a_wait_of_nan_or_infinite_seconds_is_reported(text: str) -> None:
    assert problems_of(variant(SOLUTION_WAIT, text)) != []


def test_a_boolean_where_text_is_expected_says_what_it_got() -> None:
    (problem,) = problems_of(variant("          - {text: After the task returns}\n", "          - {text: No}\n"))
    assert "False" in problem or "false" in problem, problem


def test_a_date_where_text_is_expected_says_to_quote_it() -> None:
    (problem,) = problems_of(variant("summary: Send a task and watch it succeed.\n", "summary: 2024-01-01\n"))
    assert "tag:yaml.org" not in problem, problem
