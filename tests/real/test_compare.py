"""``lab run --broker redis://…`` against the in-process Redis lab: the same runs, flags and states.

Each script runs twice: on real ``celery-tutor worker`` processes against a real server,
and on the in-process lab in its Redis mode (kombu's Redis transport on a real server too).
Timestamps differ; what each task went through must not.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from celery_tutor.lab import events as ev
from celery_tutor.lab.actions import Wait
from celery_tutor.lab.experiment import Report, run_script
from celery_tutor.lab.real.broker_runs import run_script_on_broker
from celery_tutor.lab.redis_server import RedisServer
from celery_tutor.lab.script import Script, load_script

pytestmark = [pytest.mark.real_broker, pytest.mark.lab]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

ANY_BROKER = {
    "child kill (acked, FAILURE)": EXAMPLES / "child-kill.yaml",
    "child kill + reject_on_worker_lost": EXAMPLES / "child-kill-reject.yaml",
    "child kill + retry_on_worker_lost": EXAMPLES / "child-kill-retry.yaml",
    "early ack + crash (LOST)": EXAMPLES / "early-ack-crash.yaml",
    "self.retry(exc, countdown) until max_retries": EXAMPLES / "self-retry.yaml",
    "self.retry() with the defaults": EXAMPLES / "self-retry-defaults.yaml",
    "autoretry_for with backoff": EXAMPLES / "autoretry-backoff.yaml",
    "autoretry_for with backoff_max": EXAMPLES / "autoretry-backoff-max.yaml",
    "late ack + exception (acked)": EXAMPLES / "late-ack-exception.yaml",
    "late ack + exception, acks_on_failure_or_timeout off (dropped)": EXAMPLES / "late-ack-failure-dropped.yaml",
    "soft time limit": EXAMPLES / "soft-time-limit.yaml",
    "soft time limit, then clean-up": EXAMPLES / "soft-time-limit-cleanup.yaml",
    "hard time limit, requeued each time": EXAMPLES / "time-limit-loop.yaml",
    "deploy: warm shutdown within the grace": EXAMPLES / "deploy-warm.yaml",
    "deploy: cold shutdown, no soft shutdown, early ack": EXAMPLES / "deploy-cold-no-soft-shutdown.yaml",
    "connection lost, early ack": EXAMPLES / "connection-loss-early-ack.yaml",
    "connection lost, late ack: runs twice": EXAMPLES / "connection-loss-late-ack.yaml",
    "connection lost, Celery cancels the late-ack task": EXAMPLES / "connection-loss-cancel.yaml",
    "connection lost after the charge: the cancel comes too late": EXAMPLES / "connection-loss-cancel-too-late.yaml",
}
"""Scripts whose outcome does not depend on the broker: compared on Redis and on RabbitMQ."""

SCRIPTS = {
    **ANY_BROKER,
    "redis late ack + crash": EXAMPLES / "redis-late-ack-crash.yaml",
    "countdown retry held by a crashed worker": Path(__file__).with_name("redis-countdown-crash.yaml"),
    "a clean stop gives prefetched messages back": EXAMPLES / "redis-clean-stop.yaml",
    "a long task past the visibility timeout runs twice": EXAMPLES / "redis-long-task-runs-twice.yaml",
    "a countdown past the visibility timeout runs twice": EXAMPLES / "redis-countdown-runs-twice.yaml",
    "the prefetch window holds a restored copy": EXAMPLES / "redis-prefetch-window.yaml",
    "early ack + prefetch, crash while task 1 runs": EXAMPLES / "redis-prefetch-crash.yaml",
    "deploy: SIGKILL after the grace (Redis keeps the work)": EXAMPLES / "redis-deploy-sigkill.yaml",
    "deploy: cold shutdown gives the work back": EXAMPLES / "redis-deploy-cold-shutdown.yaml",
    "connection lost, Redis in reach: kombu's clean-up gives it back": EXAMPLES / "redis-connection-loss.yaml",
    "connection lost, prefetch full: remote control notices": EXAMPLES / "redis-connection-loss-remote-control.yaml",
    "two workers, late ack: the living one's scan brings it back": EXAMPLES / "redis-two-workers-late-ack-crash.yaml",
}
"""Compared on Redis (the in-process lab in its Redis mode).

Not compared: ``redis-connection-loss-outage.yaml`` (a real lab refuses an outage) and
``redis-connection-loss-prefetch-full.yaml``, which turns remote control off (a real lab's
workers keep it on: the tutor's controls reach them through it, and a real lab refuses it).
"""

SAME_ETA = {"a countdown past the visibility timeout runs twice"}
"""Scripts whose copies of one message fall due at the same instant: the order they run in is not fixed.

Celery times each copy with ``kombu.asynchronous.timer.to_timestamp``, which turns the shared
ETA into a monotonic time with a fresh wall-minus-monotonic offset per call, so two copies of
one ETA differ by a few hundred nanoseconds either way (and tie-break on ``id()``): real
workers and the in-process lab alike run the original first in some tries and the copy in
others. What must match there is how many runs were flagged redelivered, not which came first.
"""


WATCHED = {"hard time limit, requeued each time": 3}
"""Scripts of a task that comes back forever, watched for so many runs: the next run starts at
about the moment the script ends (at once in process, within a few ms on real workers), so
whether the report shows it is a race with the end of the script, not a behaviour. Only the
watched runs are compared (and not the state the lab shows at the end, which that run sets)."""


def outcome(report: Report, ordered: bool = True, watched: int | None = None) -> dict[str, Any]:
    """What must match: per task its runs, redelivery flags, retries and states; the ledger counts.

    With ``ordered=False`` the redelivery flags are compared as a multiset (see :data:`SAME_ETA`);
    with ``watched`` only the first ``watched`` runs (see :data:`WATCHED`).
    """
    cut = slice(None, watched)
    return {
        "tasks": {
            alias: {
                "name": t.name,
                "runs": t.runs if watched is None else min(t.runs, watched),
                "redelivered": t.redelivered[cut] if ordered else sorted(t.redelivered),
                "retries": t.retries[cut],
                "state": t.state,
                "observed": t.observed if watched is None else None,
                "exception": t.exception.split(":")[0] if t.exception else None,
                "result": t.result,
            }
            for alias, t in report.tasks.items()
        },
        "ledger": [(e["action"], e["key"], e["count"]) for e in report.ledger],
        "failures": report.failures,
    }


REAL_WAIT = 30.0
"""The longest a condition wait may take on real workers. A real prefork worker notices a killed
pool child either at once or at its next pool maintenance (every 5 s), so a script's 5 s wait
for what follows can time out there; the outcome does not depend on how long the wait may be."""


MUTEX_EXPIRE = 3.0
"""kombu's restore lock, on real Redis, outlives a worker killed mid-scan this long (kombu: 300 s).

A real SIGKILL can land while the worker's restore scan holds the lock: then no scan restores
anything until it expires. With the lab's scans every quarter second that is about one crash in
a few dozen, and a 300 s lock outlasts every wait; the in-process lab's kills wait for a scan."""


def generous(script: Script, redis: bool = False) -> Script:
    """The same script, its condition waits given up to :data:`REAL_WAIT` seconds.

    On real Redis (``redis``) kombu's restore lock also expires after :data:`MUTEX_EXPIRE`.
    """
    steps = tuple(
        dataclasses.replace(step, timeout=max(step.timeout, REAL_WAIT))
        if isinstance(step, Wait) and step.until is not None
        else step
        for step in script.steps
    )
    lab = script.lab
    if redis:
        options = {"unacked_mutex_expire": MUTEX_EXPIRE, **(lab.settings.get("broker_transport_options") or {})}
        lab = dataclasses.replace(lab, settings={**lab.settings, "broker_transport_options": options})
    return dataclasses.replace(script, steps=steps, lab=lab)


def on_redis(script: Script) -> Script:
    """The same script on the in-process lab's Redis mode."""
    return dataclasses.replace(script, lab=dataclasses.replace(script.lab, broker="redis"))


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_real_workers_do_what_the_in_process_lab_does(name: str, redis_server: RedisServer) -> None:
    script = load_script(SCRIPTS[name])
    real = run_script_on_broker(generous(script, redis=True), redis_server.url)
    lab = run_script(on_redis(script))
    assert real.ok, real.to_text()
    ordered, watched = name not in SAME_ETA, WATCHED.get(name)
    assert outcome(real, ordered, watched) == outcome(lab, ordered, watched), (
        f"real:\n{real.to_text()}\n\nin-process:\n{lab.to_text()}"
    )


def test_real_workers_report_a_scan_restore_when_the_scan_runs(redis_server: RedisServer) -> None:
    """The restored copy waits behind the full prefetch window; the restore itself came long before.

    Celery sends no event for a restore: the worker reports its scan's restores itself. Before it
    did, the tutor learnt of the restore only at the copy's receipt, after the first run's ack.
    """
    script = load_script(SCRIPTS["the prefetch window holds a restored copy"])
    real = run_script_on_broker(generous(script, redis=True), redis_server.url)
    assert real.ok, real.to_text()
    shown = ("started", "redelivered", "restore_scan", "acked", "received")
    kinds = [e.kind for e in real.events if e.kind in shown and not e.quiet]  # a scan that found nothing is quiet
    assert kinds[kinds.index("started") :][:3] == ["started", "redelivered", "restore_scan"], real.to_text()
    assert kinds.index("redelivered") < kinds.index("acked") < kinds.index("received", kinds.index("acked"))
    back = next(e for e in real.events if isinstance(e, ev.MessageRedelivered))
    assert (back.worker, back.reason) == ("worker1", ev.SCAN_RESTORE)


def test_verify_on_a_real_broker_holds_for_the_redis_lesson(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from celery_tutor import cli

    code = cli.main(["verify", "--broker", redis_server.url, "redis-visibility-timeout", "acknowledgement"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "skip acknowledgement: it runs on the rabbitmq lab" in out
    assert "verified 1 lesson(s)" in out and "all hold" in out


RABBIT_SCRIPTS = {
    **ANY_BROKER,
    "late ack + crash (requeued at once)": EXAMPLES / "late-ack-crash.yaml",
    "countdown retry held by a crashed worker": EXAMPLES / "early-ack-crash-during-countdown.yaml",
    "early ack + prefetch, crash while task 1 runs": EXAMPLES / "prefetch-crash.yaml",
    "idempotence: a redelivery runs the body twice, a key saves it": EXAMPLES / "idempotence.yaml",
    "deploy: SIGKILL after the grace": EXAMPLES / "deploy-sigkill.yaml",
    "deploy: soft shutdown, then cold": EXAMPLES / "deploy-soft-shutdown.yaml",
    "two workers, late ack: the living one gets it at once": EXAMPLES / "two-workers-late-ack-crash.yaml",
}
"""Compared on RabbitMQ (the in-process lab's default)."""


@pytest.mark.parametrize("name", list(RABBIT_SCRIPTS))
def test_real_rabbitmq_workers_do_what_the_in_process_lab_does(name: str, rabbitmq_server: Any) -> None:
    script = load_script(RABBIT_SCRIPTS[name])
    real = run_script_on_broker(generous(script), rabbitmq_server.url)
    lab = run_script(script)
    assert real.ok, real.to_text()
    watched = WATCHED.get(name)
    assert outcome(real, watched=watched) == outcome(lab, watched=watched), (
        f"real:\n{real.to_text()}\n\nin-process:\n{lab.to_text()}"
    )


def test_verify_on_real_rabbitmq_holds_and_names_the_code_steps_it_leaves_to_the_in_process_lab(
    rabbitmq_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lesson claims real workers once failed: the requeue at a crash without a restart,
    a deduplicated redelivery, an early ack racing the start on a prefork pool."""
    from celery_tutor import cli

    lessons = ["acknowledgement", "idempotence", "retry-with-self-retry"]
    code = cli.main(["verify", "--broker", rabbitmq_server.url, *lessons])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "skip retry-with-self-retry / write-the-retry: the learner's own code runs only in the in-process lab" in out
    assert "write-the-retry: the reference solution" not in out  # not run here, so not reported as verified
    assert "ok   acknowledgement / quiz/prefetched-back" in out
    assert "ok   idempotence / dedupe-after-result" in out
    assert "verified 3 lesson(s)" in out and "all hold" in out
