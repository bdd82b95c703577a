"""The handoff wakes its consumer once per batch, keeps order, and stays shut once shut."""

from __future__ import annotations

from celery_tutor.ui.handoff import Handoff


def test_only_the_first_item_after_idle_asks_for_a_wake_up() -> None:
    handoff: Handoff[int] = Handoff()
    assert [handoff.put(n) for n in range(3)] == [True, False, False]
    assert handoff.take_all() == [0, 1, 2]
    assert handoff.put(3) is True  # idle again after take_all
    assert handoff.take_all() == [3]


def test_take_one_keeps_the_consumer_awake_until_nothing_is_left() -> None:
    handoff: Handoff[str | None] = Handoff()
    handoff.put(None)  # None is an item like any other
    handoff.put("a")
    assert handoff.take_one() == (None,)
    assert handoff.put("b") is False  # the consumer is still running: no second wake-up
    assert handoff.take_one() == ("a",)
    assert handoff.take_one() == ("b",)
    assert handoff.awake
    assert handoff.take_one() == ()
    assert not handoff.awake
    assert handoff.put("c") is True


def test_a_shut_handoff_drops_what_it_held_and_refuses_more() -> None:
    handoff: Handoff[int] = Handoff()
    handoff.put(1)
    handoff.shut_down()
    assert handoff.shut
    assert handoff.put(2) is False
    assert handoff.take_one() == ()
    assert handoff.take_all() == []
