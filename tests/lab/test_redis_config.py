"""Choosing the Redis broker and its transport options: names and values checked before any lab runs."""

from __future__ import annotations

import pytest

from celery_tutor.lab import LabConfig, LabConfigError
from celery_tutor.lab.script import ScriptError, parse_script
from celery_tutor.lab.settings import check_setting


def problems_of(text: str) -> list[str]:
    with pytest.raises(ScriptError) as raised:
        parse_script(text, "s.yaml")
    return [str(p) for p in raised.value.problems]


def test_the_default_broker_is_rabbitmq_like() -> None:
    assert LabConfig().checked().broker == "rabbitmq"


def test_redis_is_a_broker_choice() -> None:
    assert LabConfig(broker="redis").checked().broker == "redis"


def test_an_unknown_broker_names_the_choices() -> None:
    with pytest.raises(LabConfigError, match=r"unknown broker 'kafka'; valid: rabbitmq, redis"):
        LabConfig(broker="kafka").checked()


def test_a_script_chooses_redis_in_its_lab_block() -> None:
    script = parse_script("lab: {broker: redis}\nsteps:\n  - purge: {}\n", "s.yaml")
    assert script.lab.broker == "redis"


def test_a_script_with_a_bad_broker_says_file_line_message() -> None:
    problems = problems_of("lab:\n  workers: 1\n  broker: kafka\nsteps:\n  - purge: {}\n")
    assert any(
        p.startswith("s.yaml:3:11: lab.broker: unknown broker 'kafka'; valid: rabbitmq, redis") for p in problems
    ), problems


def test_transport_options_are_checked_and_kept() -> None:
    options = {"visibility_timeout": 2, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
    assert check_setting("broker_transport_options", options) == options


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"visibility_timeout": -1}, "visibility_timeout: expected a number of seconds ≥ 0.5, got -1"),
        ({"visibility_timeout": "soon"}, "visibility_timeout: expected a number of seconds ≥ 0.5, got 'soon'"),
        ({"unacked_restore_throttle": 0}, "unacked_restore_throttle: expected a whole number ≥ 1, got 0"),
        ({"unacked_mutex_expire": 0.5}, "unacked_mutex_expire: expected a number of seconds ≥ 1, got 0.5"),
        (
            {"visibility_timeuot": 2},
            "unknown transport option 'visibility_timeuot'; valid: unacked_mutex_expire, unacked_restore_interval, "
            "unacked_restore_throttle, visibility_timeout",
        ),
        ([2], "expected a mapping such as {visibility_timeout: 2}"),
    ],
)
def test_bad_transport_options_are_refused_naming_the_valid_ones(options: object, expected: str) -> None:
    with pytest.raises(LabConfigError) as raised:
        check_setting("broker_transport_options", options)
    assert expected in str(raised.value)


def test_a_script_with_a_bad_transport_option_says_file_line_message() -> None:
    text = "lab:\n  settings:\n    broker_transport_options: {visibility_timeout: -3}\nsteps:\n  - purge: {}\n"
    problems = problems_of(text)
    assert any(p.startswith("s.yaml:3:") and "visibility_timeout" in p for p in problems), problems
