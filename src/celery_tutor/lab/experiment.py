"""Run a checked script on a fresh lab and report what really happened.

The report is built from the lab's events and from Celery's own result backend: how
many times each task ran, whether each run was a redelivery, the retry count of each
run, the gaps between runs, the state Celery stored, and the side-effect ledger.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery_tutor.lab import events as ev
from celery_tutor.lab.engine import Lab, LabConfig
from celery_tutor.lab.runner import ScriptRunner
from celery_tutor.lab.script import Script, lab_config
from celery_tutor.lab.views import LabSnapshot, TaskView


@dataclass(frozen=True)
class TaskReport:
    """What happened to one task id."""

    alias: str
    task_id: str
    name: str
    runs: int
    redelivered: list[bool]
    retries: list[int]
    gaps: list[float]
    state: str
    """The state Celery stored (PENDING when nothing was stored: a lost task)."""
    observed: str
    """What the lab saw (LOST, RETRY, SUCCESS…)."""
    exception: str | None
    result: Any

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape ``lab run --json`` prints."""
        return {
            "id": self.task_id,
            "name": self.name,
            "runs": self.runs,
            "redelivered": self.redelivered,
            "retries": self.retries,
            "state": self.state,
            "observed": self.observed,
            "exception": self.exception,
            "result": self.result,
            "gaps": self.gaps,
        }


@dataclass
class Report:
    """The outcome of one experiment."""

    script: Script
    tasks: dict[str, TaskReport] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    events: list[ev.LabEvent] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every step ran and every wait was met."""
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        """Everything, JSON-ready."""
        events = []
        for event in self.events:
            data = event.to_dict()
            data["at"] = round(event.at, 3)
            events.append(data)
        return {
            "title": self.script.title,
            "ok": self.ok,
            "failures": self.failures,
            "tasks": {alias: report.to_dict() for alias, report in self.tasks.items()},
            "ledger": self.ledger,
            "events": events,
        }

    def to_text(self) -> str:
        """A report for a person reading a terminal."""
        lines = [f"Experiment: {self.script.title}  ({self.script.path})"]
        if self.script.description:
            lines.append(self.script.description.strip())
        config = self.script.lab
        shown = ", ".join(f"{k}={v!r}" for k, v in config.settings.items()) or "Celery defaults"
        lines.append(f"Lab: {config.workers} worker(s); settings: {shown}")
        for task, options in config.task_options.items():
            lines.append(f"     {task} options: " + ", ".join(f"{k}={v!r}" for k, v in options.items()))
        lines += ["", "Tasks:"]
        for alias, t in self.tasks.items():
            state = t.state if t.observed != "LOST" else "LOST (Celery stored nothing: PENDING)"
            lines.append(f"  {alias}: {t.name}[{t.task_id[:8]}]  {state}, ran {t.runs} time(s)")
            for number, (redelivered, retries) in enumerate(zip(t.redelivered, t.retries, strict=True), 1):
                gap = f", {t.gaps[number - 2]:.2f}s after run {number - 1}" if number > 1 else ""
                flag = "redelivered" if redelivered else "first delivery"
                lines.append(f"      run {number}: {flag}, retries={retries}{gap}")
            if t.exception:
                lines.append(f"      raised {t.exception}")
            elif t.state == "SUCCESS":
                lines.append(f"      returned {t.result!r}")
        lines += ["", "Ledger (side effects in the outside world):"]
        if not self.ledger:
            lines.append("  (nothing happened outside)")
        for entry in self.ledger:
            dup = ev.LedgerWritten.repeat_mark_of(entry["count"])
            lines.append(f"  {entry['at']:7.2f}s  {entry['action']} {entry['key']} {entry['detail']}{dup}")
        lines += ["", "Timeline:"]
        lines += [f"  {event.at:7.3f}s  {event.describe()}" for event in self.events if not event.quiet]
        if self.failures:
            lines += ["", "FAILED:"] + [f"  {failure}" for failure in self.failures]
        return "\n".join(lines)


def run_script(script: Script, make_lab: Callable[[LabConfig], Lab] = Lab) -> Report:
    """Run every step on a fresh lab, then report (the lab is closed afterwards).

    ``make_lab`` builds the lab from the script's configuration: the in-process lab, or one
    on a real broker (``lab run --broker``).
    """
    report = Report(script)
    config = lab_config(script)  # runs the script's own task code, if it has some
    if isinstance(config, str):
        report.failures.append(config)
        return report
    lab = make_lab(config)
    runner = ScriptRunner(lab)
    try:
        lab.start()
        failure = runner.run(script.steps, where=lambda step: f"{script.path}:{step.pos.line}")
        if failure is not None:
            report.failures.append(failure)
        # Real workers: a pool child's last events travel on its own connection and can arrive
        # after its main process's task-succeeded; let everything already sent arrive first.
        lab.sync_events()
        snapshot = lab.snapshot()
        report.tasks = _task_reports(snapshot, lab)
        report.ledger = [_ledger_line(entry) for entry in snapshot.ledger]
        report.events = runner.events
    finally:
        runner.close()
        lab.close()
    return report


def _task_reports(snapshot: LabSnapshot, lab: Lab) -> dict[str, TaskReport]:
    reports: dict[str, TaskReport] = {}
    counts: dict[str, int] = {}
    for view in snapshot.tasks:
        if view.alias is not None:
            alias = view.alias
        else:
            counts[view.task] = counts.get(view.task, 0) + 1
            alias = f"{view.task}#{counts[view.task]}"
        reports[alias] = _task_report(alias, view, lab)
    return reports


def _task_report(alias: str, view: TaskView, lab: Lab) -> TaskReport:
    stored = lab.app.AsyncResult(view.task_id)
    state = stored.state
    exception = None
    result = None
    if state == "FAILURE":
        exc = stored.result
        exception = f"{type(exc).__name__}: {exc}"
    elif state == "SUCCESS":
        result = stored.result
    starts = [run.started_at for run in view.runs]
    return TaskReport(
        alias=alias,
        task_id=view.task_id,
        name=view.task,
        runs=len(view.runs),
        redelivered=[run.redelivered for run in view.runs],
        retries=[run.retries for run in view.runs],
        gaps=[round(b - a, 3) for a, b in itertools.pairwise(starts)],
        state=state,
        observed=view.state,
        exception=exception,
        result=result,
    )


def _ledger_line(entry: ev.LedgerWritten) -> dict[str, Any]:
    """One side effect, as the report's ledger lists it."""
    return {
        "at": round(entry.at, 3),
        "task_id": entry.task_id,
        "task": entry.task,
        "action": entry.action,
        "key": entry.key,
        "detail": entry.detail,
        "count": entry.count,
        "duplicate": entry.duplicate,
    }
