"""A lesson says which broker its lab runs on; a wrong broker or transport option is one clear problem.

The same mistakes in a lab script get the same message, at the line to fix, naming the
valid choices: an unknown broker, a negative or non-numeric ``visibility_timeout`` (or
another transport option), an unknown transport option.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from celery_tutor.cli import main
from celery_tutor.course.loader import LessonError, parse_lesson
from celery_tutor.course.model import LabSetup
from celery_tutor.lab.actions import SetSettings
from celery_tutor.lab.script import ScriptError, parse_script
from celery_tutor.lesson_labs import lab_config

HEAD = "schema: 1\nid: demo\ntitle: Demo\nsummary: A lesson.\nminutes: 5\n"
STEPS = "steps:\n  - id: intro\n    read: Hello.\n"
VALID_OPTIONS = "valid: unacked_mutex_expire, unacked_restore_interval, unacked_restore_throttle, visibility_timeout"


def lesson(lab: str, controls: str = "") -> str:
    return HEAD + lab + controls + STEPS


def lesson_problems(text: str) -> list[str]:
    with pytest.raises(LessonError) as caught:
        parse_lesson(text, "l.yaml")
    return [str(p) for p in caught.value.problems]


def script_problems(text: str) -> list[str]:
    with pytest.raises(ScriptError) as caught:
        parse_script(text, "s.yaml")
    return [str(p) for p in caught.value.problems]


def test_a_lesson_runs_on_the_rabbitmq_like_broker_unless_it_says_otherwise() -> None:
    plain = parse_lesson(lesson("lab:\n  tasks: [add]\n"), "l.yaml")
    assert plain.lab.broker == "rabbitmq"
    assert lab_config(plain).broker == "rabbitmq"
    assert parse_lesson(lesson(""), "l.yaml").lab == LabSetup()


def test_a_lesson_on_redis_starts_its_lab_on_redis_with_its_transport_options() -> None:
    text = lesson(
        "lab:\n"
        "  broker: redis\n"
        "  settings:\n"
        "    task_acks_late: true\n"
        "    broker_transport_options: {visibility_timeout: 2, unacked_restore_interval: 1}\n"
    )
    setup = parse_lesson(text, "l.yaml").lab
    assert setup.broker == "redis"
    config = lab_config(parse_lesson(text, "l.yaml"))
    assert config.broker == "redis"
    assert config.settings["broker_transport_options"] == {"visibility_timeout": 2, "unacked_restore_interval": 1}
    assert config.checked().broker == "redis"


@pytest.mark.parametrize(
    ("lab", "expected"),
    [
        ("lab:\n  broker: kafka\n", "l.yaml:7:11: lab.broker: unknown broker 'kafka'; valid: rabbitmq, redis"),
        ("lab:\n  broker: [redis]\n", "l.yaml:7:11: lab.broker: unknown broker ['redis']; valid: rabbitmq, redis"),
        ("lab:\n  broker: Redis\n", "l.yaml:7:11: lab.broker: unknown broker 'Redis'; valid: rabbitmq, redis"),
    ],
)
def test_a_lesson_with_an_unknown_broker_names_the_brokers(lab: str, expected: str) -> None:
    assert lesson_problems(lesson(lab)) == [expected]


TRANSPORT_MISTAKES = [
    (
        "visibility_timeout: -1",
        "broker_transport_options: visibility_timeout: expected a number of seconds ≥ 0.5, got -1",
        27,
    ),
    (
        "visibility_timeout: an hour",
        "broker_transport_options: visibility_timeout: expected a number of seconds ≥ 0.5, got 'an hour'",
        27,
    ),
    (
        "unacked_restore_interval: -5",
        "broker_transport_options: unacked_restore_interval: expected a number of seconds ≥ 0.1, got -5",
        33,
    ),
    (
        "unacked_restore_throttle: 0.5",
        "broker_transport_options: unacked_restore_throttle: expected a whole number ≥ 1, got 0.5",
        33,
    ),
    (
        "visiblity_timeout: 2",
        f"broker_transport_options: unknown transport option 'visiblity_timeout'; {VALID_OPTIONS}",
        7,
    ),
]
"""(an option's line, indented six spaces; the message after ``lab.settings:``; the column of the
value, or of the key when the option is unknown)."""


@pytest.mark.parametrize(("line", "message", "col"), TRANSPORT_MISTAKES)
def test_a_bad_transport_option_in_a_lesson_is_reported_at_its_own_line(line: str, message: str, col: int) -> None:
    text = lesson(f"lab:\n  broker: redis\n  settings:\n    broker_transport_options:\n      {line}\n")
    assert lesson_problems(text) == [f"l.yaml:10:{col}: lab.settings: {message}"]


def test_a_bad_transport_option_in_a_lesson_control_is_reported_at_its_own_line() -> None:
    controls = (
        "controls:\n"
        "  - key: v\n"
        "    set:\n"
        "      broker_transport_options:\n"
        "        visibility_timeout: 0\n"
        "        unacked_restore_intervall: 1\n"
    )
    assert lesson_problems(lesson("lab: {broker: redis}\n", controls)) == [
        "l.yaml:11:29: set: broker_transport_options: visibility_timeout: expected a number of seconds ≥ 0.5, got 0",
        f"l.yaml:12:9: set: broker_transport_options: unknown transport option 'unacked_restore_intervall'; "
        f"{VALID_OPTIONS}",
    ]


def test_a_good_transport_option_control_is_kept() -> None:
    controls = "controls:\n  - key: v\n    set: {broker_transport_options: {visibility_timeout: 30}}\n"
    control = parse_lesson(lesson("lab: {broker: redis}\n", controls), "l.yaml").controls[0]
    assert isinstance(control.action, SetSettings)
    assert control.action.changes == {"broker_transport_options": {"visibility_timeout": 30}}


@pytest.mark.parametrize(("line", "message", "col"), TRANSPORT_MISTAKES)
def test_a_bad_transport_option_in_a_script_is_reported_at_its_own_line(line: str, message: str, col: int) -> None:
    text = f"lab:\n  broker: redis\n  settings:\n    broker_transport_options:\n      {line}\nsteps:\n  - purge: {{}}\n"
    assert script_problems(text) == [f"s.yaml:5:{col}: lab.settings: {message}"]


def test_a_script_with_a_broker_that_is_not_a_name_says_so_plainly() -> None:
    assert script_problems("lab:\n  broker: [redis]\nsteps:\n  - purge: {}\n") == [
        "s.yaml:2:11: lab.broker: unknown broker ['redis']; valid: rabbitmq, redis"
    ]


def test_every_bad_option_of_one_setting_is_reported_and_the_good_ones_are_not() -> None:
    text = (
        "steps:\n"
        "  - set:\n"
        "      broker_transport_options:\n"
        "        visibility_timeout: -1\n"
        "        unacked_restore_interval: 1\n"
        "        unacked_restore_throttle: many\n"
    )
    assert script_problems(text) == [
        "s.yaml:4:29: set: broker_transport_options: visibility_timeout: expected a number of seconds ≥ 0.5, got -1",
        "s.yaml:6:35: set: broker_transport_options: unacked_restore_throttle: expected a whole number ≥ 1, got 'many'",
    ]


def test_retry_kwargs_are_reported_at_their_own_line_too() -> None:
    text = "lab:\n  task_options:\n    add:\n      retry_kwargs:\n        countdown: -2\nsteps:\n  - purge: {}\n"
    assert script_problems(text) == [
        "s.yaml:5:20: lab.task_options.add: retry_kwargs: countdown: expected a number of seconds ≥ 0, got -2"
    ]


def test_check_and_lab_run_print_file_line_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_lesson = tmp_path / "bad.yaml"
    bad_lesson.write_text(lesson("lab:\n  broker: kafka\n"))
    assert main(["check", str(bad_lesson)]) == 1
    printed = capsys.readouterr()
    assert f"{bad_lesson}:7:11: lab.broker: unknown broker 'kafka'; valid: rabbitmq, redis" in printed.out + printed.err
    bad_script = tmp_path / "bad-script.yaml"
    bad_script.write_text(
        "lab:\n  broker: redis\n  settings:\n    broker_transport_options:\n      visibility_timeout: -1\n"
        "steps:\n  - purge: {}\n"
    )
    assert main(["lab", "run", str(bad_script)]) == 1
    printed = capsys.readouterr()
    assert f"{bad_script}:5: lab.settings: broker_transport_options: visibility_timeout: expected a number" in (
        printed.out + printed.err
    )
