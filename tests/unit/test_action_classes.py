"""An action names its control as a class keyword; controls that act now or at a checkpoint share one base."""

from __future__ import annotations

import dataclasses

import pytest

from celery_tutor.lab import actions
from celery_tutor.lab.actions import ACTIONS, Action, NowOrAtAction


def test_every_control_is_named_on_its_own_class() -> None:
    for name, cls in ACTIONS.items():
        assert cls.__dict__["control"] == name  # set by the class keyword, not inherited
    assert Action.control == ""


def test_a_control_keyword_names_that_class_and_not_its_base() -> None:
    @dataclasses.dataclass(frozen=True)
    class Wave(actions.WorkerAction, control="wave"):
        pass

    assert (Wave.control, actions.WorkerAction.control) == ("wave", "")
    with pytest.raises(TypeError):

        class Misspelt(Action, controls="misspelt"):  # type: ignore[call-arg]
            pass


def test_the_controls_that_act_now_or_at_a_checkpoint_take_at_task_and_worker_first() -> None:
    now_or_at = {name for name, cls in ACTIONS.items() if issubclass(cls, NowOrAtAction)}
    assert now_or_at == {"crash", "drop_connection"}
    for name in now_or_at:
        assert [p.name for p in ACTIONS[name].PARAMS][:3] == ["at", "task", "worker"]
        assert [f.name for f in dataclasses.fields(ACTIONS[name])][:4] == ["pos", "at", "task", "worker"]
