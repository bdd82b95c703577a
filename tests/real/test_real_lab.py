"""The real lab's own promises: processes never left behind, only its own keys touched, remote control works."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from celery_tutor.lab import LabConfig, LabStateError
from celery_tutor.lab import events as ev
from celery_tutor.lab.real.process import worker_arguments
from celery_tutor.lab.real.real_lab import RealLab
from celery_tutor.lab.redis_server import RedisServer

pytestmark = [pytest.mark.real_broker, pytest.mark.lab]

WAIT = 30.0
"""Generous: worker processes start in about a second, slower on a loaded 2-core box."""
SRC = str(Path(__file__).resolve().parents[2] / "src")


class Log:
    """A lab's events, with waits."""

    def __init__(self) -> None:
        self.events: list[ev.LabEvent] = []
        self._changed = threading.Condition()

    def __call__(self, event: ev.LabEvent) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait(self, predicate: Callable[[ev.LabEvent], bool], what: str, timeout: float = WAIT) -> ev.LabEvent:
        with self._changed:
            assert self._changed.wait_for(lambda: any(map(predicate, self.events)), timeout), (
                f"no {what}; saw:\n" + "\n".join(e.describe() for e in self.events)
            )
            return next(e for e in self.events if predicate(e))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: only its parent's wait would remove it.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture
def lab_on(redis_server: RedisServer) -> Iterator[Callable[..., tuple[RealLab, Log]]]:
    labs: list[RealLab] = []

    def make(**config: object) -> tuple[RealLab, Log]:
        lab = RealLab(LabConfig(**config), redis_server.url)  # type: ignore[arg-type]
        log = Log()
        lab.subscribe(log)
        labs.append(lab)
        lab.start()
        return lab, log

    yield make
    for lab in labs:
        lab.close()


def test_closing_kills_every_worker_process_and_deletes_only_the_labs_keys(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("someone-elses:key", "keep me")
    client.rpush("celery", "a deployment's message")
    lab = RealLab(LabConfig(workers=2), redis_server.url)
    try:
        lab.start()
        lab.send("add", (1, 2), alias="sum")
        assert lab.wait_until(lambda s: s.task(lab.task_id("sum")).state == "SUCCESS", WAIT)
        pids = lab.live_pids()
        assert len(pids) == 2
        children = [int(p) for pid in pids for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        assert children, "a prefork worker has pool children"
        assert client.keys(f"{lab.names.key_prefix}*"), "the lab keeps its results under its prefix"
    finally:
        lab.close()
    assert [pid for pid in (*pids, *children) if not _wait_gone(pid)] == []  # SIGKILL lands in its own time
    assert client.keys(f"{lab.names.key_prefix}*") == []
    assert client.get("someone-elses:key") == b"keep me"
    assert client.lrange("celery", 0, -1) == [b"a deployment's message"]
    client.delete("someone-elses:key", "celery")
    client.close()


def test_a_started_worker_already_hears_a_broadcast(lab_on: Callable[..., tuple[RealLab, Log]]) -> None:
    """start() and restart_worker() return once each worker answers a ping.

    A worker reports itself ready before its event loop first polls; on Redis its remote
    control subscribes only then. A plan armed at once (a script's first step) was sometimes
    broadcast before that, and lost: "only 0 of 1 worker(s) confirmed the plan".
    """
    lab, log = lab_on(workers=2)
    lab.fail_next("add", times=1)  # raises LabStateError unless both workers confirm
    lab.restart_worker("worker2")
    lab.fail_next("add", times=1)
    armed = [e for e in log.events if isinstance(e, ev.FaultArmed)]
    assert len(armed) == 2


def test_the_tutor_s_own_remote_control_never_puts_a_dead_worker_s_message_back(
    lab_on: Callable[..., tuple[RealLab, Log]], redis_server: RedisServer
) -> None:
    """Only workers restore. kombu's Redis transport scans the unacked index whenever it drains a
    channel that consumes a queue, as the tutor's does for remote-control replies; with the lab's
    first visibility timeout it used to put a crashed worker's message back before any worker did."""
    transport = {"visibility_timeout": 1, "unacked_restore_interval": 0.25, "unacked_restore_throttle": 1}
    lab, log = lab_on(settings={"task_acks_late": True, "broker_transport_options": transport})
    lab.send("transcode_video", (7, 20), alias="video")
    log.wait(lambda e: isinstance(e, ev.CheckpointReached) and e.checkpoint == "encoding", "encoding")
    lab.crash_worker()
    log.wait(lambda e: isinstance(e, ev.WorkerKilled), "worker_killed")
    client = redis.Redis.from_url(redis_server.url)
    try:
        for _ in range(8):  # 2 s of the tutor draining its reply queue, well past the 1 s timeout
            lab.app.control.broadcast("ping", reply=True, timeout=0.25)
        queued = [key for key in client.keys(f"{lab.names.key_prefix}*") if client.type(key) == b"list"]
        assert [client.llen(key) for key in queued if client.llen(key)] == [], "nothing went back to a queue"
        assert client.hlen(f"{lab.names.key_prefix}unacked") == 1, "the dead worker's message is still held"
    finally:
        client.close()


def test_a_crash_is_a_sigkill_of_the_worker_and_its_pool(lab_on: Callable[..., tuple[RealLab, Log]]) -> None:
    lab, log = lab_on(settings={"task_acks_late": True})
    [pid] = lab.live_pids()
    children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    lab.send("transcode_video", (7, 20), alias="video")
    log.wait(lambda e: isinstance(e, ev.CheckpointReached) and e.checkpoint == "encoding", "encoding")
    lab.crash_worker()
    killed = log.wait(lambda e: isinstance(e, ev.WorkerKilled), "worker_killed")
    assert isinstance(killed, ev.WorkerKilled) and killed.kept == 1 and killed.lost == 0
    assert [p for p in (pid, *children) if not _wait_gone(p)] == []  # SIGKILL lands in its own time
    assert lab.worker_status("worker1") == "killed"


def test_kill_child_now_kills_only_the_pool_child(lab_on: Callable[..., tuple[RealLab, Log]]) -> None:
    lab, log = lab_on()
    [pid] = lab.live_pids()
    lab.send("transcode_video", (7, 20), alias="video")
    log.wait(lambda e: isinstance(e, ev.CheckpointReached) and e.checkpoint == "encoding", "encoding")
    lab.kill_child("video")
    failed = log.wait(lambda e: isinstance(e, ev.TaskFailed), "failed")
    assert isinstance(failed, ev.TaskFailed) and failed.exc_type == "WorkerLostError"
    assert _alive(pid) and lab.worker_status("worker1") == "alive"
    assert lab.app.AsyncResult(lab.task_id("video")).state == "FAILURE"


def test_configure_restarts_the_worker_process_with_the_new_settings(
    lab_on: Callable[..., tuple[RealLab, Log]],
) -> None:
    lab, log = lab_on()
    [before] = lab.live_pids()
    lab.configure(worker_prefetch_multiplier=1, worker_concurrency=2)
    started = [e for e in log.events if isinstance(e, ev.WorkerStarted)]
    assert [(e.concurrency, e.prefetch_multiplier) for e in started] == [(1, 4), (2, 1)]
    assert [e.kind for e in log.events if isinstance(e, ev.WorkerEvent)] == [
        "worker_started",
        "worker_stopping",
        "worker_stopped",
        "worker_started",
    ]
    [after] = lab.live_pids()
    assert after != before and _wait_gone(before)


@contextlib.contextmanager
def worker_elsewhere(command: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """``celery-tutor worker`` started as from another terminal; killed (its group) if still alive after."""
    outsider = subprocess.Popen(
        [sys.executable, "-m", "celery_tutor", *command],
        env={**os.environ, "PYTHONPATH": SRC},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield outsider
    finally:
        if outsider.poll() is None:
            os.killpg(outsider.pid, 9)
            outsider.wait(WAIT)


def test_a_worker_started_elsewhere_joins_and_obeys_remote_control(
    lab_on: Callable[..., tuple[RealLab, Log]], redis_server: RedisServer
) -> None:
    lab, log = lab_on()
    command = ["worker", "--broker", redis_server.url, "--name", "remote1", "--prefix", lab.prefix]
    with worker_elsewhere(command) as outsider:
        log.wait(lambda e: isinstance(e, ev.WorkerStarted) and e.worker == "remote1", "remote1 started")
        host, pid = lab.worker_info("remote1")
        assert pid == outsider.pid and host
        lab.stop_worker("worker1")  # only remote1 takes the next task
        log.wait(lambda e: isinstance(e, ev.WorkerStopped) and e.worker == "worker1", "worker1 stopped")
        lab.crash_at("after_charge")
        lab.send("charge_card", (42, 9.99), alias="order")
        killed = log.wait(lambda e: isinstance(e, ev.WorkerKilled), "remote1 killed")
        assert isinstance(killed, ev.WorkerKilled) and (killed.worker, killed.checkpoint) == ("remote1", "after_charge")
        assert outsider.wait(WAIT) == -9
        with pytest.raises(LabStateError, match="runs elsewhere"):
            lab.restart_worker("remote1")


def test_a_deploy_reaches_a_worker_started_elsewhere_and_remaps_sigterm_there(
    lab_on: Callable[..., tuple[RealLab, Log]], redis_server: RedisServer
) -> None:
    """SIGTERM by remote control, taken as a REMAP_SIGTERM=SIGQUIT worker takes it: soft shutdown, then cancel."""
    lab, log = lab_on(settings={"task_acks_late": True, "worker_soft_shutdown_timeout": 0.3})
    plain, options = lab.join_options()
    command = worker_arguments(redis_server.url, "remote1", lab.prefix, plain, options)
    with worker_elsewhere(command) as outsider:
        log.wait(lambda e: isinstance(e, ev.WorkerStarted) and e.worker == "remote1", "remote1 started")
        lab.stop_worker("worker1")  # only remote1 takes the report
        log.wait(lambda e: isinstance(e, ev.WorkerStopped) and e.worker == "worker1", "worker1 stopped")
        report = lab.send("generate_report", (7,))
        log.wait(lambda e: isinstance(e, ev.TaskStarted) and e.task_id == report, "the report started")
        lab.deploy("remote1", grace=30, remap_sigterm=True)
        log.wait(lambda e: isinstance(e, ev.WorkerStopped) and e.worker == "remote1", "remote1 stopped")
        # It exited by itself, not by SIGKILL: 0, as `celery worker` does after a cold shutdown
        # (WorkController.terminate sets no exit code).
        assert outsider.wait(WAIT) == 0
        soft = next(e for e in log.events if isinstance(e, ev.SoftShutdown))
        cancelled = next(e for e in log.events if isinstance(e, ev.TaskCancelled))
        assert (soft.worker, soft.timeout, soft.running) == ("remote1", 0.3, 1)
        assert (cancelled.task_id, cancelled.reason, cancelled.acks_late) == (report, "cold shutdown", True)
        assert not any(isinstance(e, (ev.GraceExpired, ev.WorkerKilled)) for e in log.events)


def test_a_dropped_connection_is_cut_by_the_worker_itself_and_celery_reconnects(
    lab_on: Callable[..., tuple[RealLab, Log]],
) -> None:
    """The worker shuts its own broker sockets; Celery's consumer notices, reconnects, and takes tasks again."""
    lab, log = lab_on()
    pid = lab.worker_info("worker1")[1]
    lab.drop_connection()
    lost = log.wait(lambda e: isinstance(e, ev.ConnectionLost), "the connection lost")
    assert isinstance(lost, ev.ConnectionLost)
    assert (lost.worker, lost.broker, lost.requeued, lost.noticed) == ("worker1", "redis", 0, True)
    log.wait(lambda e: isinstance(e, ev.ConnectionRestored), "the worker reconnected")
    task = lab.send("add", (2, 3))
    log.wait(lambda e: isinstance(e, ev.TaskSucceeded) and e.task_id == task, "the add succeeded")
    assert lab.worker_info("worker1")[1] == pid and lab.worker_status("worker1") == "alive"  # the same process


def test_an_outage_is_refused_on_a_real_broker_with_the_reason(lab_on: Callable[..., tuple[RealLab, Log]]) -> None:
    lab, _log = lab_on()
    for control in (lambda: lab.drop_connection(outage=2), lambda: lab.drop_connection_at("adding", outage=1)):
        with pytest.raises(LabStateError, match="outage"):
            control()


def _wait_gone(pid: int, timeout: float = WAIT) -> bool:
    """Block until process ``pid`` has exited (a pidfd becomes readable then); False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable) or not _alive(pid)
    finally:
        os.close(fd)


TUTOR = """
import sys
from celery_tutor.lab import LabConfig
from celery_tutor.lab.real.process import worker_arguments
from celery_tutor.lab.real.real_lab import RealLab
lab = RealLab(LabConfig(workers=2), sys.argv[1])
lab.start()
print(*lab.live_pids(), flush=True)
sys.stdin.read()  # until the test kills this process
"""


def test_workers_die_with_a_tutor_that_was_killed(redis_server: RedisServer) -> None:
    tutor = subprocess.Popen(
        [sys.executable, "-c", TUTOR, redis_server.url],
        env={**os.environ, "PYTHONPATH": SRC},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert tutor.stdout is not None
        pids = [int(pid) for pid in tutor.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        tutor.kill()  # SIGKILL: no close(), no atexit, nothing of the tutor's runs any more
        tutor.wait(WAIT)
        assert all(_wait_gone(pid) for pid in pids), "a worker outlived the tutor that started it"
    finally:
        if tutor.poll() is None:
            tutor.kill()
            tutor.wait(WAIT)


def test_stop_purge_restart_and_reset(lab_on: Callable[..., tuple[RealLab, Log]]) -> None:
    lab, log = lab_on()
    lab.stop_worker()
    log.wait(lambda e: isinstance(e, ev.WorkerStopped), "worker_stopped")
    lab.send_many("add", 3, (1, 1), alias="sum")
    assert lab.purge() == 3
    lab.send("add", (2, 2), alias="later")
    lab.restart_worker()
    assert lab.wait_until(lambda s: s.task(lab.task_id("later")).state == "SUCCESS", WAIT)
    assert lab.app.AsyncResult(lab.task_id("later")).result == 4  # stored (get() would refuse here)
    for alias in ("sum-1", "sum-2", "sum-3"):
        assert lab.app.AsyncResult(lab.task_id(alias)).state == "PENDING"  # purged: never ran
    [before] = lab.live_pids()
    lab.reset()
    [after] = lab.live_pids()
    assert after != before and lab.snapshot().tasks == ()
    assert [e.kind for e in log.events][-3:] == ["lab_reset", "config_changed", "worker_started"]


def test_a_plan_armed_in_every_worker_fires_once(lab_on: Callable[..., tuple[RealLab, Log]]) -> None:
    lab, log = lab_on(workers=2, settings={"worker_prefetch_multiplier": 1, "task_acks_late": True})
    lab.crash_at("after_charge")
    lab.fail_next("fetch_exchange_rate", times=1)
    lab.send("charge_card", (1, 1.0), alias="first")
    lab.send("charge_card", (2, 1.0), alias="second")
    log.wait(lambda e: isinstance(e, ev.WorkerKilled), "worker_killed")
    survivor = log.wait(
        lambda e: isinstance(e, ev.TaskSucceeded) and e.task == "charge_card", "the other charge succeeded"
    )
    assert isinstance(survivor, ev.TaskSucceeded)
    started = {e.worker for e in log.events if isinstance(e, ev.TaskStarted)}
    assert started == {"worker1", "worker2"}, "each worker ran one charge"
    assert len([e for e in log.events if isinstance(e, ev.WorkerKilled)]) == 1
    # The failure plan too: one run fails, on whichever worker takes it, and no other.
    lab.restart_worker(next(e.worker for e in log.events if isinstance(e, ev.WorkerKilled)))
    for index in range(3):
        lab.send("fetch_exchange_rate", ("EUR",), alias=f"rate{index}")
    rates = [lab.task_id(f"rate{index}") for index in range(3)]
    assert lab.wait_until(lambda s: all(s.task(task_id).state == "SUCCESS" for task_id in rates), WAIT)
    retries = [e for e in log.events if isinstance(e, ev.RetryScheduled)]
    assert len(retries) == 1 and retries[0].exc_type == "ConnectionError"
