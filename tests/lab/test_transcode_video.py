"""``transcode_video(video_id, seconds)`` on real lab workers: its run time is its argument,
it has checkpoints, and every run emails the owner again (a second run is a DUPLICATE).

On Redis, with a visibility timeout shorter than the task (or than its countdown), it runs
twice with no crash at all: the lesson "Redis and the visibility timeout" is built on it.
Every wait here is on the lab's events, with generous timeouts reached only on failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from celery_tutor.lab import Lab, tasks
from celery_tutor.lab import events as ev
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.lab.redis_server import find_server_binary

STAMP_SLACK = 0.05
"""Seconds by which kombu's delivery stamp may precede the received event."""

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import LabFactory

pytestmark = pytest.mark.lab

WAIT = 15.0
EMAIL = "owner-7@example.com"
needs_redis = pytest.mark.skipif(find_server_binary() is None, reason="no Redis server binary")

SHORT_TIMEOUT = {"visibility_timeout": 2, "unacked_restore_interval": 0.5, "unacked_restore_throttle": 1}
"""The lesson's transport options: invisible for 2 s, a restore scan every half second."""


def redis_lab(make_lab: LabFactory, settings: dict[str, Any]) -> Lab:
    """A started lab on the Redis broker, closed (and its log kept) by ``make_lab``."""
    return make_lab(settings, broker="redis")


def unacked_in_redis(lab: Lab) -> int:
    """How many messages the Redis server still holds unacked for this lab (a scan could restore them)."""
    broker: Any = lab.broker
    return int(broker._client.hlen(broker.prefix + "unacked"))


def test_it_is_a_lab_task_with_checkpoints_and_a_side_effect() -> None:
    spec = LAB_TASKS["transcode_video"]
    assert spec.checkpoints == ("encoding", "half_encoded", "emailed")
    assert spec.calls == ("mailer.send",)
    assert "Not idempotent" in spec.summary
    assert "def transcode_video(video_id, seconds):" in spec.source


def test_its_run_time_is_its_argument_and_it_emails_once(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    task_id = lab.send("transcode_video", (7, 1.0))
    view = make_lab.wait_for_task(lab, task_id)
    assert view.state == "SUCCESS" and view.result == "'videos/7.mp4'", view
    started = log.of("started", task_id)[0]
    encoding, half, emailed, _ = log.of("checkpoint", task_id)
    assert (encoding.checkpoint, half.checkpoint, emailed.checkpoint) == ("encoding", "half_encoded", "emailed")
    assert half.at - encoding.at >= 0.45, "the first half takes half the seconds"
    assert emailed.at - started.at >= 0.95, "the whole run takes the seconds it was given"
    (email,) = log.of("ledger", task_id)
    assert (email.action, email.key, email.detail, email.duplicate) == ("email", EMAIL, "Video 7 is ready", False)


def test_its_run_time_is_bounded_by_the_labs_longest_wait(
    make_lab: LabFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "MAX_WAIT_SECONDS", 0.2)  # the bound the task reads, made short
    lab = make_lab()
    task_id = lab.send("transcode_video", (7, 10**9))
    assert make_lab.wait_for_task(lab, task_id).state == "SUCCESS", "a billion seconds were cut to the bound"


def test_a_crash_kills_a_long_transcode_at_once(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    task_id = lab.send("transcode_video", (7, 600))
    log.wait_event("checkpoint", task_id, checkpoint="encoding")
    lab.crash_worker()
    assert make_lab.wait_for_task(lab, task_id).state == "LOST", "the ten-minute run died with its worker"
    assert log.of("ledger") == []


def test_a_second_run_emails_again_and_the_ledger_marks_the_duplicate(make_lab: LabFactory) -> None:
    lab = make_lab({"task_acks_late": True})
    log = make_lab.events(lab)
    lab.crash_at("emailed", "transcode_video")
    task_id = lab.send("transcode_video", (7, 0.2))
    log.wait_event("worker_killed")
    lab.restart_worker()
    assert make_lab.wait_for_task(lab, task_id).state == "SUCCESS"
    first, second = log.of("ledger", task_id)
    assert (first.key, first.count, first.duplicate) == (EMAIL, 1, False)
    assert (second.key, second.count, second.duplicate) == (EMAIL, 2, True)


@needs_redis
def test_on_redis_a_late_acked_transcode_longer_than_the_timeout_runs_exactly_twice(make_lab: LabFactory) -> None:
    lab = redis_lab(make_lab, {"task_acks_late": True, "broker_transport_options": SHORT_TIMEOUT})
    log = make_lab.events(lab)
    task_id = lab.send("transcode_video", (7, 3))
    received = log.wait_event("received", task_id)
    back = log.wait_event("redelivered", task_id)
    first_done = log.wait_event("succeeded", task_id)
    second_done = log.wait_event("succeeded", task_id, count=2)
    assert back.reason == ev.SCAN_RESTORE
    # kombu stamps the delivery when it records the message unacked, a moment before the
    # worker reports it received: the timeout runs from that stamp.
    assert back.at - received.at >= 2 - STAMP_SLACK, "invisible for the whole visibility timeout"
    assert back.at < first_done.at, "the scan put it back while the first run was still going"
    assert second_done.at - first_done.at >= 2.9, "then the same worker ran all of it again"
    second_start = log.of("started", task_id)[1]
    assert second_start.redelivered is True
    assert [e.count for e in log.of("ledger", task_id)] == [1, 2], "the owner got two emails"
    assert log.of("worker_killed") == [] and log.of("worker_stopped") == [], "no crash, no stop"
    assert make_lab.wait_for_task(lab, task_id).state == "SUCCESS"
    log.wait_event("acked", task_id, count=2)
    assert unacked_in_redis(lab) == 0, "nothing is left for a scan to restore: there is no third run"


@needs_redis
def test_on_redis_a_countdown_longer_than_the_timeout_runs_twice_even_with_early_acks(make_lab: LabFactory) -> None:
    lab = redis_lab(make_lab, {"broker_transport_options": SHORT_TIMEOUT})
    log = make_lab.events(lab)
    published_at = lab.now()
    task_id = lab.send("transcode_video", (8, 0.5), countdown=3)
    back = log.wait_event("redelivered", task_id)
    first = log.wait_event("started", task_id)
    second = log.wait_event("started", task_id, count=2)
    assert back.reason == ev.SCAN_RESTORE and back.at < first.at, "the copy came back before the ETA"
    assert first.at >= published_at + 2.9 and second.at >= published_at + 2.9, "both ran at the ETA, not before"
    assert {first.redelivered, second.redelivered} == {False, True}
    emails = log.wait_event("ledger", task_id, count=2)
    assert emails.key == "owner-8@example.com" and emails.duplicate
    log.wait_event("acked", task_id, count=2)
    assert unacked_in_redis(lab) == 0
    assert log.of("worker_killed") == []


@needs_redis
def test_on_redis_a_timeout_longer_than_the_task_runs_it_once(make_lab: LabFactory) -> None:
    options = {**SHORT_TIMEOUT, "visibility_timeout": 6}
    lab = redis_lab(make_lab, {"task_acks_late": True, "broker_transport_options": options})
    log = make_lab.events(lab)
    task_id = lab.send("transcode_video", (7, 3))
    assert make_lab.wait_for_task(lab, task_id).state == "SUCCESS"
    log.wait_event("acked", task_id)
    assert unacked_in_redis(lab) == 0, "acked within the timeout: no scan can bring it back"
    assert len(log.of("started", task_id)) == 1 and log.of("redelivered", task_id) == []
