"""Every event class is a frozen, keyword-only, slotted dataclass, named by its class keywords."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from celery_tutor.lab import events as ev
from celery_tutor.lab.events.base import WorkerEvent

BASES = (ev.LabEvent, ev.TaskEvent, ev.WorkerTaskEvent, ev.RunEvent, ev.WorkerEvent, ev.SideEffectEvent)


@pytest.mark.parametrize("cls", BASES + ev.EVENT_TYPES, ids=lambda cls: cls.__name__)
def test_every_event_class_is_a_frozen_keyword_only_slotted_dataclass(cls: type[ev.LabEvent]) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert all(field.kw_only for field in dataclasses.fields(cls))
    assert "__slots__" in cls.__dict__
    assert "__dict__" not in dir(cls)  # no base left a __dict__ in: every class of the chain is slotted


@pytest.mark.parametrize("cls", ev.EVENT_TYPES, ids=lambda cls: cls.kind)
def test_an_event_survives_pickling_equal_and_cannot_be_changed(cls: type[ev.LabEvent]) -> None:
    event = cls(**{field.name: 1 for field in dataclasses.fields(cls)})
    assert pickle.loads(pickle.dumps(event)) == event
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.seq = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        cls(1, 2)  # type: ignore[call-arg]


def test_class_keywords_name_the_kind_and_the_template_of_that_class_only() -> None:
    class Waved(WorkerEvent, kind="waved", template="{worker} waved {times} times"):
        times: int

    class Nodded(Waved, kind="nodded"):
        pass

    assert Waved(seq=1, at=0.0, worker="worker1", times=2).describe() == "worker1 waved 2 times"
    assert (Nodded.kind, Nodded.template) == ("nodded", Waved.template)  # a template is inherited, like a field
    assert (WorkerEvent.kind, WorkerEvent.template) == ("event", "")
    assert Waved(seq=1, at=0.0, worker="w", times=2).to_dict() == {
        "kind": "waved",
        "seq": 1,
        "at": 0.0,
        "worker": "w",
        "times": 2,
    }


def test_a_misspelt_class_keyword_fails_where_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="kinds"):

        class Misspelt(WorkerEvent, kinds="misspelt"):
            pass
