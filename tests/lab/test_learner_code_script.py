"""``lab run`` scripts with their own task code (``lab.code``): checked when read, run when run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from celery_tutor.cli import main
from celery_tutor.lab.experiment import run_script
from celery_tutor.lab.script import ScriptError, lab_config, load_script, parse_script

pytestmark = pytest.mark.lab

EXAMPLES = Path(__file__).parents[2] / "examples"

SCRIPT = """\
title: mine
lab:
  code: |
    @app.task(acks_late=True)
    def ship_order(order_id):
        checkpoint("packed")
        storage.upload(f"labels/{order_id}.pdf")
        return order_id
  task_options: {ship_order: {max_retries: 1}}
steps:
  - send: {task: ship_order, args: [1], as: first}
  - crash: {at: packed, task: ship_order}
  - wait: {until: {event: worker_killed}}
  - restart_worker: {}
  - wait: {until: {task: first, state: SUCCESS}, timeout: 5}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ScriptError) as caught:
        parse_script(text, "s.yaml")
    return [str(p) for p in caught.value.problems]


def test_steps_may_name_the_scripts_own_tasks_and_their_checkpoints() -> None:
    script = parse_script(SCRIPT, "s.yaml")
    assert script.code is not None and "def ship_order" in script.code.source
    assert script.lab.task_options == {"ship_order": {"max_retries": 1}}
    assert script.lab.extra_tasks == ()  # nothing ran yet

    report = run_script(script)
    assert report.ok, report.failures
    first = report.tasks["first"]
    assert (first.name, first.runs, first.redelivered, first.result) == ("ship_order", 2, [False, True], 1)


def test_a_syntax_error_in_inline_code_is_reported_at_its_place_in_the_script() -> None:
    text = SCRIPT.replace("def ship_order(order_id):", "def ship_order(order_id:")
    # Only the code's problem: while it does not compile, its task names are unknown.
    assert problems_of(text) == ["s.yaml:5:19: lab.code: '(' was never closed"]


def test_unknown_names_are_still_problems_with_code() -> None:
    text = SCRIPT.replace("crash: {at: packed, task: ship_order}", "crash: {at: unpacked, task: ship_order}")
    assert problems_of(text) == [
        "s.yaml:12:17: crash.at: unknown checkpoint of ship_order 'unpacked'; valid: packed, task_finished"
    ]
    without_code = SCRIPT.replace("  code: |", "  kode: |")
    assert any("unknown task 'ship_order'" in p for p in problems_of(without_code))


def test_the_code_must_be_text_or_a_file() -> None:
    text = "lab:\n  code: [1, 2]\nsteps:\n  - purge: {}\n"
    assert problems_of(text) == [
        "s.yaml:2:9: lab.code: expected Python code (a literal block: code: |) or {file: PATH}"
    ]
    missing = "lab:\n  code: {file: nowhere.py}\nsteps:\n  - purge: {}\n"
    assert problems_of(missing) == ["s.yaml:2:16: lab.code.file: cannot read nowhere.py: No such file or directory"]


def test_a_code_file_problem_points_into_the_code_file(tmp_path: Path) -> None:
    (tmp_path / "task.py").write_text("@app.task\ndef f(:\n    pass\n")
    script = tmp_path / "s.yaml"
    script.write_text("lab:\n  code: {file: task.py}\nsteps:\n  - purge: {}\n")
    with pytest.raises(ScriptError) as caught:
        load_script(script)
    assert [str(p) for p in caught.value.problems] == [f"{tmp_path / 'task.py'}:2:7: lab.code: invalid syntax"]


def test_the_time_limit_is_checked() -> None:
    text = "lab:\n  code_time_limit: 1000\nsteps:\n  - purge: {}\n"
    assert problems_of(text) == ["s.yaml:2:20: lab.code_time_limit: 1000 is over the lab's limit of 120 seconds"]


def test_reading_a_script_never_runs_its_code() -> None:
    text = SCRIPT.replace("  code: |\n", "  code: |\n    raise SystemExit('ran at load')\n")
    script = parse_script(text, "s.yaml")  # no SystemExit here

    assert lab_config(script) == "s.yaml:4:5: lab.code: SystemExit: ran at load"
    report = run_script(script)
    assert report.failures == ["s.yaml:4:5: lab.code: SystemExit: ran at load"]
    assert report.tasks == {}


def test_the_example_with_an_idempotent_charge_charges_once(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lab", "run", str(EXAMPLES / "your-own-charge.yaml"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["tasks"]["order"]["redelivered"] == [False, True]
    assert [(e["key"], e["duplicate"]) for e in report["ledger"]] == [("order 42", False)]
    printed = [e["text"] for e in report["events"] if e["kind"] == "printed"]
    assert printed == ["charged 42 -> ch_42 (already charged)"]  # the first run died before its print


def test_the_example_with_a_retry_from_a_file_succeeds_on_the_third_run() -> None:
    report = run_script(load_script(EXAMPLES / "your-own-retry.yaml"))
    assert report.ok, report.failures
    assert report.tasks["rate"].retries == [0, 1, 2]


def test_the_example_with_an_endless_loop_fails_with_the_time_limit(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lab", "run", str(EXAMPLES / "your-own-endless-loop.yaml")])
    captured = capsys.readouterr()
    assert code == 1
    message = (
        "your task count_forever ran for more than 1 s without finishing: the lab was stopped and must be restarted"
    )
    assert f"your-own-endless-loop.yaml:18: {message}" in captured.err
