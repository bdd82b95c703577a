"""Scripts are checked before anything runs, and every mistake points at its line."""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from pathlib import Path

import pytest

from celery_tutor.cli import main
from celery_tutor.course.loader import LessonError, parse_lesson
from celery_tutor.lab.actions import (
    ACTIONS,
    Crash,
    FailNext,
    KillChild,
    Purge,
    Reset,
    RestartWorker,
    Send,
    SetSettings,
    StopWorker,
    Until,
    Wait,
)
from celery_tutor.lab.script import ScriptError, load_script, parse_script

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def problems_of(text: str) -> list[str]:
    with pytest.raises(ScriptError) as caught:
        parse_script(text, "s.yaml")
    return [f"{p.pos.line}: {p.message}" for p in caught.value.problems]


def test_a_valid_script_becomes_actions() -> None:
    script = parse_script(
        """\
title: demo
lab:
  settings: {task_acks_late: true, worker_prefetch_multiplier: 1}
  task_options: {send_receipt: {retry_jitter: false, autoretry_for: [ConnectionError]}}
  workers: 2
steps:
  - send: {task: charge_card, args: [42, 9.99], as: order}
  - send: {task: add, args: [1, 2], count: 3, as: sum}
  - set: {task_reject_on_worker_lost: true}
  - fail_next: {task: charge_card, times: 2, exc: ValueError}
  - crash: {at: after_charge, task: charge_card}
  - crash: {}
  - kill_child: {at: task_finished}
  - restart_worker: {}
  - stop_worker: {worker: worker2}
  - purge: {}
  - reset:
  - wait: {seconds: 0.5}
  - wait: {until: {task: order, state: SUCCESS}, timeout: 3}
  - wait: {until: {event: started, task: sum-2, count: 1}}
""",
        "s.yaml",
    )
    assert script.title == "demo"
    assert script.lab.settings == {"task_acks_late": True, "worker_prefetch_multiplier": 1}
    assert script.lab.task_options["send_receipt"]["retry_jitter"] is False
    assert script.lab.workers == 2
    kinds = [type(step) for step in script.steps]
    assert kinds == [Send, Send, SetSettings, FailNext, Crash, Crash, KillChild, RestartWorker, StopWorker,
                     Purge, Reset, Wait, Wait, Wait]  # fmt: skip
    send = script.steps[0]
    assert isinstance(send, Send) and send.args == (42, 9.99) and send.alias == "order"
    assert script.steps[0].pos.line == 7
    crash = script.steps[4]
    assert isinstance(crash, Crash) and crash.at == "after_charge" and crash.task == "charge_card"
    wait = script.steps[12]
    assert isinstance(wait, Wait) and wait.until is not None and wait.until.state == "SUCCESS" and wait.timeout == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steps:\n  - crsh: {}\n", "2: unknown control 'crsh'; valid: send, set, task_options, fail_next, crash,"),
        ("steps:\n  - send: {task: charge}\n", "2: send.task: unknown task 'charge'; valid: add, charge_card,"),
        (
            "steps:\n  - set: {task_ack_late: true}\n",
            "2: set: unknown setting 'task_ack_late'; valid: broker_transport_options, task_acks_late",
        ),
        ("steps:\n  - set: {task_acks_late: yes please}\n", "2: set: task_acks_late: expected true or false"),
        ("steps:\n  - crash: {at: middle}\n", "2: crash.at: unknown checkpoint 'middle'; valid: adding, before_charge"),
        (
            "steps:\n  - crash: {at: querying, task: charge_card}\n",
            "2: crash.at: unknown checkpoint of charge_card 'querying'; valid: before_charge, after_charge, task_finished",
        ),
        ("steps:\n  - fail_next: {task: add, exc: Boom}\n", "2: fail_next.exc: unknown exception 'Boom'; valid:"),
        ("steps:\n  - fail_next: {task: add, times: 0}\n", "2: fail_next.times: expected a whole number ≥ 1, got 0"),
        ("steps:\n  - send: {task: add, colour: red}\n", "2: send: unknown parameter 'colour'; valid: task, args,"),
        ("steps:\n  - send: {args: [1]}\n", "2: send: missing required parameter 'task'"),
        ("steps:\n  - send: {task: add, args: 5}\n", "2: send.args: expected a list"),
        ("steps:\n  - wait: {}\n", "2: wait: expected either seconds: S or until: {…}"),
        ("steps:\n  - wait: {until: {task: x, state: DONE}}\n", "2: wait.until.state: unknown state 'DONE'; valid:"),
        ("steps:\n  - wait: {until: {event: exploded}}\n", "2: wait.until.event: unknown event 'exploded'; valid:"),
        (
            "steps:\n  - wait: {until: {task: ghost, state: SUCCESS}}\n",
            "2: wait.until.task: 'ghost' is neither an alias sent before (none) nor a lab task",
        ),
        (
            "steps:\n  - send: {task: add, as: a}\n  - send: {task: add, as: a}\n",
            "3: send.as: alias 'a' is already used",
        ),
        ("steps:\n  - send: {task: add}\n    crash: {}\n", "2: a step is one control"),
        ("steps: []\n", "1: steps: expected a non-empty list of controls"),
        ("title: x\n", "1: missing required key 'steps'"),
        ("stepz: []\n", "1: unknown key 'stepz'; valid: title, description, lab, steps"),
        ("lab: {workers: 9}\nsteps:\n  - purge: {}\n", "1: lab.workers: expected 1 to 4, got 9"),
        (
            "lab:\n  task_options: {add: {max_retry: 3}}\nsteps:\n  - purge: {}\n",
            "2: lab.task_options.add: unknown task option 'max_retry'; valid:",
        ),
        ("steps:\n  - purge: {now: true}\n", "2: purge: unknown parameter 'now'; valid: none"),
        ("steps:\n  - send: {task: add}\n  - send: {task: add}\nsteps: []\n", "4: duplicate key 'steps'"),
        ("steps: [\n", "2: invalid YAML: while parsing a flow node"),
        ("steps:\n  - send: !!python/object:os.system {task: add}\n", "2: unsupported tag"),
        ("- just\n- a list\n", "1: a script is a mapping with steps"),
    ],
)
def test_each_mistake_is_reported_at_its_line(text: str, expected: str) -> None:
    problems = problems_of(text)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of("steps:\n  - crsh: {}\n  - send: {task: nope}\n  - set: {bad: 1}\n")
    assert [p.split(":")[0] for p in problems] == ["2", "3", "4"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_a_valid_script(path: Path) -> None:
    assert load_script(path).steps


def test_lab_run_prints_file_line_message_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "broken.yaml"
    script.write_text("steps:\n  - send: {task: add}\n  - crash: {at: nowhere}\n")
    assert main(["lab", "run", str(script)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{script}:3: crash.at: unknown checkpoint 'nowhere'; valid:")


def test_lab_run_on_a_missing_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "run", str(tmp_path / "nope.yaml")]) == 1
    assert "cannot read the script" in capsys.readouterr().err


def test_unknown_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--frobnicate"])
    assert caught.value.code == 2
    assert "usage: celery-tutor" in capsys.readouterr().err


# --- limits: huge counts and durations are one clear problem, found before anything is built ---


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            "send: {task: add, count: 100000000, as: x}",
            "send.count: 100000000 is over the lab's limit of 10000 messages",
        ),
        ("send: {task: add, count: 10001}", "send.count: 10001 is over the lab's limit of 10000 messages"),
        (
            "fail_next: {task: add, times: 100000000}",
            "fail_next.times: 100000000 is over the lab's limit of 10000 runs",
        ),
        (
            "send: {task: add, countdown: 1.0e+12}",
            "send.countdown: 1000000000000.0 is over the lab's limit of 86400 seconds",
        ),
        ("wait: {seconds: 1.0e+10}", "wait.seconds: 10000000000.0 is over the lab's limit of 600 seconds"),
        ("wait: {seconds: 1000000}", "wait.seconds: 1000000 is over the lab's limit of 600 seconds"),
        (
            "wait: {until: {event: started}, timeout: 1000000}",
            "wait.timeout: 1000000 is over the lab's limit of 600 seconds",
        ),
        (
            "wait: {until: {event: started, count: 100000000}}",
            "wait.until.count: 100000000 is over the lab's limit of 10000 events",
        ),
        ("wait: {seconds: .inf}", "wait.seconds: expected a number ≥ 0, got inf"),
        (
            "set: {worker_concurrency: 1000000}",
            "set: worker_concurrency: 1000000 is over the lab's limit of 16 threads",
        ),
        (
            "set: {worker_prefetch_multiplier: 1000000}",
            "set: worker_prefetch_multiplier: 1000000 is over the lab's limit of 64 messages per slot",
        ),
        (
            "task_options: {fetch_exchange_rate: {default_retry_delay: 1.0e+12}}",
            "task_options.fetch_exchange_rate: default_retry_delay: 1000000000000.0 is over the lab's limit of 86400 seconds",
        ),
        (
            "task_options: {send_receipt: {retry_backoff_max: 100000000}}",
            "task_options.send_receipt: retry_backoff_max: 100000000 is over the lab's limit of 86400 seconds",
        ),
    ],
)
def test_counts_and_durations_over_the_limits_are_one_problem_naming_the_limit(step: str, expected: str) -> None:
    assert problems_of(f"steps:\n  - {step}\n") == [f"2: {expected}"]


@pytest.mark.parametrize(
    "step",
    [
        "send: {task: add, count: 10000, as: x}",
        "fail_next: {task: add, times: 10000}",
        "send: {task: add, countdown: 86400}",
        "wait: {seconds: 600}",
        "wait: {until: {event: started, count: 10000}, timeout: 600}",
        "set: {worker_concurrency: 16, worker_prefetch_multiplier: 64}",
    ],
)
def test_values_at_the_limits_are_accepted(step: str) -> None:
    assert parse_script(f"steps:\n  - {step}\n", "s.yaml").steps


def test_a_huge_count_is_refused_quickly_without_building_the_messages() -> None:
    text = "steps:\n  - send: {task: add, count: 100000000, as: x}\n  - wait: {until: {task: x-1, state: SUCCESS}}\n"
    tracemalloc.start()
    started = time.perf_counter()
    try:
        problems = problems_of(text)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problems[0] == "2: send.count: 100000000 is over the lab's limit of 10000 messages"
    assert elapsed < 1.0
    assert peak < 5_000_000  # bytes: no alias, message or list was built per count


def test_lab_run_reports_a_wait_of_days_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "sleepy.yaml"
    script.write_text("steps:\n  - send: {task: add}\n  - wait: {seconds: 1000000}\n")
    assert main(["lab", "run", str(script)]) == 1
    err = capsys.readouterr().err
    assert err == f"{script}:3: wait.seconds: 1000000 is over the lab's limit of 600 seconds\n"


def test_a_lesson_with_a_huge_count_fails_check_quickly() -> None:
    lesson = (
        "schema: 1\nid: huge\ntitle: Huge\nsummary: Too many.\nminutes: 5\nconcepts: [ack]\n"
        "steps:\n  - id: try\n    lab:\n      body: Go.\n"
        "      goal:\n        - {label: done, state: {task: add, is: SUCCESS}}\n"
        "      hints: [Send.]\n"
        "      solution:\n        - send: {task: add, count: 100000000, as: x}\n"
        "      explain: Done.\n"
    )
    started = time.perf_counter()
    with pytest.raises(LessonError) as caught:
        parse_lesson(lesson, "huge.yaml")
    assert time.perf_counter() - started < 1.0
    messages = [f"{p.pos.line}: {p.message}" for p in caught.value.problems]
    assert messages == ["15: send.count: 100000000 is over the lab's limit of 10000 messages"]


# --- each control's parameters are defined once, and the parser reads them from there ---------

PARAMETERIZED = [name for name, cls in ACTIONS.items() if cls.PARAMS]


@pytest.mark.parametrize("control", PARAMETERIZED)
def test_each_control_takes_exactly_its_declared_parameters(control: str) -> None:
    params = ACTIONS[control].PARAMS
    names = ", ".join(param.name for param in params)
    required = [f"2: {control}: missing required parameter {p.name!r}" for p in params if p.required]
    assert problems_of(f"steps:\n  - {control}: {{zz: 1}}\n") == sorted(
        [f"2: {control}: unknown parameter 'zz'; valid: {names}", *required]
    )


@pytest.mark.parametrize("cls", [*ACTIONS.values(), Until], ids=lambda cls: cls.__name__)
def test_every_declared_parameter_fills_a_field_of_its_action(cls: type) -> None:
    fields = [f.name for f in dataclasses.fields(cls)]
    assert all(param.field in fields for param in cls.PARAMS), (fields, cls.PARAMS)


BOUNDED = {
    ("send", "count"): "task: add, ",
    ("send", "countdown"): "task: add, ",
    ("fail_next", "times"): "task: add, ",
    ("wait", "seconds"): "",
    ("wait", "timeout"): "until: {event: started}, ",
    ("drop_connection", "outage"): "",
    ("deploy", "grace"): "",
}
"""Every parameter with an upper bound, and what else its step needs."""


def test_every_bounded_parameter_is_probed() -> None:
    declared = {(name, p.name) for name, cls in ACTIONS.items() for p in cls.PARAMS if p.maximum is not None}
    assert declared == set(BOUNDED)


@pytest.mark.parametrize(("control", "name"), sorted(BOUNDED))
def test_the_parser_enforces_the_declared_bounds(control: str, name: str) -> None:
    param = next(p for p in ACTIONS[control].PARAMS if p.name == name)
    assert param.maximum is not None
    top = int(param.maximum)
    step = f"steps:\n  - {control}: {{{BOUNDED[(control, name)]}{name}: %s}}\n"
    (action,) = parse_script(step % top, "s.yaml").steps
    assert getattr(action, param.field) == top
    assert problems_of(step % (top + 1)) == [
        f"2: {control}.{name}: {top + 1} is over the lab's limit of {top} {param.unit}"
    ]
