"""``verify`` runs a lesson on the broker the lesson names, and the course keeps its order and ids.

A claim that holds only on Redis (a crashed worker's message comes back at a scan, after
the visibility timeout) must hold when the lesson says ``broker: redis`` and must fail on
the RabbitMQ-like broker: that proves verify (and the lesson screen, which starts its lab
from the same :func:`~celery_tutor.lesson_labs.lab_config`) ran the lesson's broker.
"""

from __future__ import annotations

import pytest

from celery_tutor.course.lessons import load_course
from celery_tutor.course.loader import parse_lesson
from celery_tutor.lab.redis_server import find_server_binary
from celery_tutor.lesson_labs import lab_config
from celery_tutor.paths import bundled_lessons
from celery_tutor.verification import verify

LESSON = """\
schema: 1
id: probe
title: Probe
summary: A crash on the lesson's broker.
minutes: 1
lab:
  broker: {broker}
  settings:
    task_acks_late: true
    broker_transport_options: {visibility_timeout: 1, unacked_restore_interval: 0.25, unacked_restore_throttle: 1}
steps:
  - id: crash
    predict:
      question: What comes back?
      choices:
        - {text: At a scan, correct: true}
        - {text: At once}
      experiment:
        - send: {task: charge_card, args: [42, 9.99], as: order}
        - crash: {at: after_charge}
        - wait: {until: {event: worker_killed}}
        - restart_worker: {}
        - wait: {until: {task: order, state: SUCCESS}, timeout: 10}
      expect:
        - label: nothing came back because the worker died
          not: {event: redelivered, where: {reason: worker died}}
        - label: a scan put it back, 1 s or more after it was received
          gap:
            from: {event: received, task: order}
            to: {event: redelivered, task: order, where: {reason: restored by the scan}}
            min: 1
      explain: Redis.
"""

COURSE_ORDER = [
    "acknowledgement",
    "early-vs-late-acks",
    "pool-children-and-countdowns",
    "idempotence",
    "redis-visibility-timeout",
    "broker-connection-lost",
    "time-limits",
    "deploys",
    "retry-with-self-retry",
    "retry-as-a-task-option",
    "backoff-and-jitter",
    "capstone",
]
"""The shipped lessons' ids in course order: a learner's progress is keyed by them."""


def test_the_redis_lesson_comes_right_after_idempotence_and_no_other_id_changed() -> None:
    course = load_course([bundled_lessons()])
    assert course.broken == ()
    assert [lesson.id for lesson in course.lessons] == COURSE_ORDER
    redis_lesson = course.lesson("redis-visibility-timeout")
    assert redis_lesson.lab.broker == "redis"
    assert redis_lesson.lab.tasks[0] == "transcode_video", "the lesson shows transcode_video's source"
    config = lab_config(redis_lesson)
    assert config.broker == "redis" and config.settings["task_acks_late"] is True
    assert config.settings["broker_transport_options"]["visibility_timeout"] == 2
    others = [lesson for lesson in course.lessons if lesson is not redis_lesson]
    assert {lab_config(lesson).broker for lesson in others} == {"rabbitmq"}


@pytest.mark.lab
@pytest.mark.skipif(find_server_binary() is None, reason="no Redis server binary")
@pytest.mark.parametrize(("broker", "holds"), [("redis", True), ("rabbitmq", False)])
def test_verify_runs_the_lessons_broker(broker: str, holds: bool) -> None:
    lesson = parse_lesson(LESSON.replace("{broker}", broker), "probe.yaml")
    (check,) = verify([lesson], jobs=1)
    assert check.ok is holds, check.line()
    if not holds:
        assert "nothing came back because the worker died" in check.detail
