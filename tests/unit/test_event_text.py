"""What an event says about itself: its timeline line and its JSON form."""

from __future__ import annotations

import dataclasses

import pytest

from celery_tutor.lab import events as ev

TASK = {"task_id": "0123456789abcdef", "task": "charge_card"}


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (ev.TaskSucceeded(seq=1, at=0.0, worker="worker1", result="42", **TASK), "charge_card[01234567] succeeded: 42"),
        (
            ev.RunSkipped(seq=1, at=0.0, worker="worker2", **TASK),
            "worker2 skipped charge_card[01234567]: redelivered, but SUCCESS is already stored",
        ),
        (
            ev.SoftTimeLimitHit(seq=1, at=0.0, worker="worker1", run=1, limit=0.5, checkpoint="charging", **TASK),
            "charge_card[01234567] passed its soft time limit (0.5s): SoftTimeLimitExceeded raised inside it at "
            "'charging' (the lab enforces limits at checkpoints)",
        ),
        (
            ev.GraceExpired(seq=1, at=0.0, worker="worker1", grace=30.0),
            "worker1 still running after the 30s grace period: the orchestrator sends SIGKILL",
        ),
        (
            ev.LabLog(seq=1, at=0.0, level="ERROR", logger="kombu", message="{not a field}"),
            "[ERROR] kombu: {not a field}",
        ),
        (ev.LabReset(seq=1, at=0.0), "lab reset"),
    ],
)
def test_a_template_line_is_filled_from_the_events_own_values(event: ev.LabEvent, line: str) -> None:
    assert event.describe() == line


@pytest.mark.parametrize("cls", ev.EVENT_TYPES, ids=lambda cls: cls.kind)
def test_the_json_form_is_the_kind_then_every_field_in_order(cls: type[ev.LabEvent]) -> None:
    names = [field.name for field in dataclasses.fields(cls)]
    assert names[:2] == ["seq", "at"]
    values = {name: None for name in names}
    assert list(cls(**values).to_dict()) == ["kind", *names]  # no class-level text (the template) in it


def test_task_events_on_a_worker_list_the_task_then_the_worker_first() -> None:
    on_a_worker = [cls for cls in ev.EVENT_TYPES if issubclass(cls, ev.WorkerTaskEvent)]
    assert len(on_a_worker) > 15
    for cls in on_a_worker:
        assert [field.name for field in dataclasses.fields(cls)][2:5] == ["task_id", "task", "worker"]
