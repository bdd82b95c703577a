"""``celery-tutor lab run``: scripted experiments on the real lab, reported as JSON and text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from celery_tutor.cli import main
from celery_tutor.lab.experiment import run_script
from celery_tutor.lab.script import load_script, parse_script

pytestmark = pytest.mark.lab

EXAMPLES = Path(__file__).parents[2] / "examples"


def run_json(capsys: pytest.CaptureFixture[str], script: Path) -> dict:
    code = main(["lab", "run", str(script), "--json"])
    out = capsys.readouterr().out
    report = json.loads(out)
    assert code == (0 if report["ok"] else 1)
    return report


def test_late_ack_crash_report_has_the_promised_shape(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_json(capsys, EXAMPLES / "late-ack-crash.yaml")
    assert report["ok"] is True
    order = report["tasks"]["order"]
    assert set(order) >= {"id", "name", "runs", "redelivered", "retries", "state", "exception", "gaps"}
    assert order["name"] == "charge_card"
    assert order["runs"] == 2
    assert order["redelivered"] == [False, True]
    assert order["retries"] == [0, 0]
    assert order["state"] == "SUCCESS"
    assert order["exception"] is None
    assert len(order["gaps"]) == 1 and order["gaps"][0] > 0
    charges = [e for e in report["ledger"] if e["action"] == "charge" and e["key"] == "order 42"]
    assert [e["duplicate"] for e in charges] == [False, True]
    kinds = [e["kind"] for e in report["events"]]
    assert kinds.index("worker_killed") < kinds.index("succeeded")
    assert all({"kind", "seq", "at"} <= set(e) for e in report["events"])


def test_early_ack_crash_is_lost_and_celery_stored_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_json(capsys, EXAMPLES / "early-ack-crash.yaml")
    order = report["tasks"]["order"]
    assert order["runs"] == 1
    assert order["state"] == "PENDING"
    assert order["observed"] == "LOST"
    assert "lost" in [e["kind"] for e in report["events"]]


def test_self_retry_runs_four_times_then_fails_with_the_original_error() -> None:
    report = run_script(load_script(EXAMPLES / "self-retry.yaml"))
    rate = report.tasks["rate"]
    assert rate.runs == 4
    assert rate.retries == [0, 1, 2, 3]
    assert rate.state == "FAILURE"
    assert rate.exception is not None and rate.exception.startswith("ConnectionError:")
    assert all(0.8 <= gap <= 2.5 for gap in rate.gaps), rate.gaps  # late under load, never early


def test_a_wait_that_times_out_fails_the_run_with_its_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "never.yaml"
    script.write_text(
        "steps:\n"
        "  - fail_next: {task: add, times: 1, exc: ValueError}\n"
        "  - send: {task: add, args: [1, 2], as: sum}\n"
        "  - wait: {until: {task: sum, state: SUCCESS}, timeout: 0.5}\n"
    )
    assert main(["lab", "run", str(script)]) == 1
    captured = capsys.readouterr()
    assert f"{script}:4: wait timed out after 0.5s: sum reaches SUCCESS (it is FAILURE)" in captured.err
    assert "raised ValueError: injected by the lab into add" in captured.out


def test_a_control_that_cannot_apply_fails_the_run() -> None:
    script = parse_script("steps:\n  - crash: {}\n  - crash: {}\n", "twice.yaml")
    report = run_script(script)
    assert report.failures == ["twice.yaml:3: crash: no worker is alive or stopping (worker1 is killed)"]


def test_a_send_with_missing_arguments_fails_the_run_with_its_line() -> None:
    script = parse_script("steps:\n  - send: {task: add}\n", "noargs.yaml")
    report = run_script(script)
    assert report.failures == ["noargs.yaml:2: send: add() missing 2 required positional arguments: 'x' and 'y'"]


def test_text_report_reads_like_the_story() -> None:
    text = run_script(load_script(EXAMPLES / "idempotence.yaml")).to_text()
    assert "plain: charge_card" in text and "keyed: charge_card_idempotent" in text
    assert "run 2: redelivered" in text
    assert "charge order 1 $20.00  ×2 DUPLICATE" in text
    assert "charge order 2 $20.00  ×" not in text
    assert "Timeline:" in text
