"""Benchmark the lab engine: start latency, pickup latency, kills, throughput, leaks.

Run with ``python benchmarks/lab.py`` (``--quick`` for a smoke run). Every figure is
measured on a real in-process Celery worker (:class:`celery_tutor.lab.engine.Lab`) with
``time.perf_counter``; waits are on ``threading.Event`` objects set by lab event
subscribers, never by sleep-polling. The script prints figures; it asserts nothing
beyond sanity (every wait must end before its timeout).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import celery
import kombu
from celery.worker import state as worker_state
from gc_pauses import GcPauses

from celery_tutor.lab import events as ev
from celery_tutor.lab.engine import Lab, LabConfig
from celery_tutor.lab.worker import LabWorker

# Workaround: nothing in celery_tutor imports celery_signals, yet without its receivers
# no task ever starts (LabContextError) and no received/started/succeeded event exists.
SIGNALS_IMPORTED_BY_ENGINE = "celery_tutor.lab.celery_signals" in sys.modules
import celery_tutor.lab.celery_signals  # noqa: E402, F401

WAIT = 10.0
"""Longest any single wait may take before the benchmark gives up (seconds)."""


@dataclass(frozen=True)
class Plan:
    """How many repetitions each section runs."""

    starts: int
    sends: int
    kills: int
    tasks: int
    crash_cycles: int


FULL = Plan(starts=30, sends=300, kills=50, tasks=1000, crash_cycles=200)
QUICK = Plan(starts=5, sends=30, kills=5, tasks=200, crash_cycles=20)


# -- helpers -----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms_line(label: str, seconds: Sequence[float]) -> str:
    """One labelled line: p50 / p95 / max of durations given in seconds, shown in ms."""
    ms = [s * 1000 for s in seconds]
    return (
        f"  {label:<44} n={len(ms):<4} p50 {percentile(ms, 50):8.2f} ms   "
        f"p95 {percentile(ms, 95):8.2f} ms   max {max(ms):8.2f} ms"
    )


def rss_mb() -> float:
    """This process's resident set size, in MB, from /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def celery_global_requests() -> str:
    """Sizes of Celery's process-global request registries (leak indicator)."""
    return (
        f"requests={len(worker_state.requests)} active={len(worker_state.active_requests)} "
        f"reserved={len(worker_state.reserved_requests)} scheduled={len(worker_state.scheduled_requests)}"
    )


def count_objects(cls: type) -> int:
    """How many instances of ``cls`` the garbage collector tracks."""
    return sum(1 for obj in gc.get_objects() if isinstance(obj, cls))


def wait(event: threading.Event, what: str) -> None:
    """Wait for ``event``; abort the benchmark if it does not come."""
    if not event.wait(WAIT):
        sys.exit(f"benchmark aborted: no {what} within {WAIT:.0f} s")


class Arm:
    """Records the ``perf_counter`` time of the next event of one kind and wakes a waiter.

    Call :meth:`arm` before the action that causes the event; it returns a fresh
    ``threading.Event`` for this one occurrence.
    """

    def __init__(self, lab: Lab, kind: str) -> None:
        self.kind = kind
        self._event: threading.Event | None = None
        self.at = 0.0
        self.last: ev.LabEvent | None = None
        self.unsubscribe = lab.subscribe(self._on_event)

    def arm(self) -> threading.Event:
        """A new event for the next occurrence."""
        self._event = threading.Event()
        return self._event

    def _on_event(self, event: ev.LabEvent) -> None:
        if event.kind != self.kind:
            return
        now = time.perf_counter()
        pending = self._event
        if pending is not None and not pending.is_set():
            self.at = now
            self.last = event
            pending.set()


class Counter:
    """Counts events of one kind; sets :attr:`done` at ``target`` and records when."""

    def __init__(self, lab: Lab, kind: str, target: int) -> None:
        self.kind = kind
        self.target = target
        self.count = 0
        self.done = threading.Event()
        self.at = 0.0
        self.unsubscribe = lab.subscribe(self._on_event)

    def _on_event(self, event: ev.LabEvent) -> None:
        if event.kind != self.kind:
            return
        self.count += 1
        if self.count == self.target:
            self.at = time.perf_counter()
            self.done.set()


GC_PAUSES = GcPauses()


def _on(broker: str) -> str:
    return "" if broker == "rabbitmq" else f" [broker: {broker}]"


def section(title: str) -> None:
    """Print a section header."""
    print(f"\n== {title}")


# -- 1. start --------------------------------------------------------------------------


def bench_start(plan: Plan, broker: str = "rabbitmq") -> None:
    """Lab(LabConfig(broker=broker)) + start() until the worker consumes: cold once, then warm ``plan.starts`` times."""
    section(f"1. lab start -> worker consuming (Lab() + start(); concurrency 1; {plan.starts} warm runs){_on(broker)}")
    t0 = time.perf_counter()
    lab = Lab(LabConfig(broker=broker))
    t1 = time.perf_counter()
    lab.start()
    t2 = time.perf_counter()
    lab.close()
    t3 = time.perf_counter()
    print(
        f"  cold (first in process): Lab() {1000 * (t1 - t0):.2f} ms + start() {1000 * (t2 - t1):.2f} ms"
        f" = {1000 * (t2 - t0):.2f} ms   (close() {1000 * (t3 - t2):.2f} ms)"
    )
    totals: list[float] = []
    constructs: list[float] = []
    starts: list[float] = []
    closes: list[float] = []
    for _ in range(plan.starts):
        t0 = time.perf_counter()
        lab = Lab(LabConfig(broker=broker))
        t1 = time.perf_counter()
        lab.start()
        t2 = time.perf_counter()
        lab.close()
        t3 = time.perf_counter()
        totals.append(t2 - t0)
        constructs.append(t1 - t0)
        starts.append(t2 - t1)
        closes.append(t3 - t2)
    print(ms_line("warm Lab() + start()", totals))
    print(ms_line("  of which Lab()", constructs))
    print(ms_line("  of which start()", starts))
    print(ms_line("close() (blocking, joins threads)", closes))


# -- 2. send -> started ------------------------------------------------------------------


def bench_send_to_started(plan: Plan, broker: str = "rabbitmq") -> None:
    """One ``add`` at a time: perf_counter before send() to the ``started`` event."""
    section(f"2. send -> task started (add, one at a time, default config; {plan.sends} sends){_on(broker)}")
    lab = Lab(LabConfig(broker=broker))
    lab.start()
    started = Arm(lab, "started")
    succeeded = Arm(lab, "succeeded")
    latencies: list[float] = []
    send_calls: list[float] = []
    to_success: list[float] = []
    try:
        for i in range(plan.sends):
            got_start = started.arm()
            got_success = succeeded.arm()
            t0 = time.perf_counter()
            task_id = lab.send("add", (i, 1))
            t1 = time.perf_counter()
            wait(got_start, "started event")
            wait(got_success, "succeeded event")
            assert isinstance(started.last, ev.TaskStarted) and started.last.task_id == task_id
            latencies.append(started.at - t0)
            send_calls.append(t1 - t0)
            to_success.append(succeeded.at - t0)
    finally:
        lab.close()
    print(ms_line("send() -> started event", latencies))
    print(ms_line("send() call returns (publish)", send_calls))
    print(ms_line("send() -> succeeded event", to_success))


# -- 3. kill -----------------------------------------------------------------------------


def bench_kill(plan: Plan, broker: str = "rabbitmq") -> None:
    """crash_worker() while generate_report runs, then restart_worker(); both timed."""
    section(f"3. kill -> control returned (crash_worker() during generate_report; {plan.kills} runs){_on(broker)}")
    lab = Lab(LabConfig(broker=broker))
    lab.start()
    started = Arm(lab, "started")
    kills: list[float] = []
    restarts: list[float] = []
    try:
        for i in range(plan.kills):
            got_start = started.arm()
            lab.send("generate_report", (i,))
            wait(got_start, "generate_report started event")
            t0 = time.perf_counter()
            lab.crash_worker()
            t1 = time.perf_counter()
            lab.restart_worker()
            t2 = time.perf_counter()
            kills.append(t1 - t0)
            restarts.append(t2 - t1)
        snapshot = lab.snapshot()
        lost = sum(1 for t in snapshot.tasks if t.state == "LOST")
        held = len(snapshot.invisible)
    finally:
        lab.close()
    print(ms_line("crash_worker() returns", kills))
    print(ms_line("restart_worker() -> consuming", restarts))
    print(
        f"  sanity: {lost}/{plan.kills} generate_report tasks LOST (early ack), {held} held invisible by the dead "
        "connection (killed before the ack reached the broker: Redis acks from the event loop, after the start)"
    )


# -- 4. throughput -----------------------------------------------------------------------


def bench_throughput(plan: Plan) -> None:
    """``plan.tasks`` add tasks: publish time and end-to-end time until all succeeded."""
    n = plan.tasks
    section(f"4. throughput of {n} add tasks (send_many, then wait for {n} succeeded events)")
    configs = [
        ("concurrency 4, prefetch x4", LabConfig(settings={"worker_concurrency": 4, "worker_prefetch_multiplier": 4})),
        ("default (concurrency 1, prefetch x4)", LabConfig()),
    ]
    for label, config in configs:
        lab = Lab(config)
        lab.start()
        counter = Counter(lab, "succeeded", n)
        try:
            t0 = time.perf_counter()
            lab.send_many("add", n, (1, 2))
            t1 = time.perf_counter()
            if not counter.done.wait(WAIT * 12):
                sys.exit(f"benchmark aborted: only {counter.count}/{n} succeeded")
            t2 = time.perf_counter()
        finally:
            lab.close()
        publish, total = t1 - t0, counter.at - t0
        print(f"  {label}:")
        print(f"    publishing alone      {publish:7.3f} s   {n / publish:8.0f} tasks/s")
        print(f"    end to end            {total:7.3f} s   {n / total:8.0f} tasks/s")
        assert t2 >= counter.at
    # Publishing into a lab whose worker never started: the broker alone, no competition.
    lab = Lab()
    try:
        t0 = time.perf_counter()
        lab.send_many("add", n, (1, 2))
        publish = time.perf_counter() - t0
    finally:
        lab.close()
    print(f"  no worker running (publish only): {publish:7.3f} s   {n / publish:8.0f} tasks/s")


# -- 5. leaks ----------------------------------------------------------------------------


def bench_crash_cycles(plan: Plan) -> None:
    """Threads and RSS before a lab, with one worker, after crash cycles, after close()."""
    cycles = plan.crash_cycles
    section(f"5. threads and RSS around {cycles} crash cycles (alternating crash_at('adding') / crash_worker())")
    GC_PAUSES.collect()
    workers_before = count_objects(LabWorker)
    threads_before, rss_before = threading.active_count(), rss_mb()
    print(f"  {'before Lab():':<30} threads {threads_before:3d}   RSS {rss_before:7.1f} MB")
    lab = Lab()
    lab.start()
    print(
        f"  {'running, one worker:':<30} threads {threading.active_count():3d}   RSS {rss_mb():7.1f} MB"
        f"   (lab.live_threads() {len(lab.live_threads())})"
    )
    killed = Arm(lab, "worker_killed")
    started = Arm(lab, "started")
    cycle_times: list[float] = []
    peak_threads = threading.active_count()
    try:
        for i in range(cycles):
            t0 = time.perf_counter()
            if i % 2 == 0:
                got_kill = killed.arm()
                lab.crash_at("adding", task="add")
                lab.send("add", (i, 1))
                wait(got_kill, "worker_killed event")
            else:
                got_start = started.arm()
                lab.send("generate_report", (i,))
                wait(got_start, "generate_report started event")
                lab.crash_worker()
            lab.restart_worker()
            cycle_times.append(time.perf_counter() - t0)
            peak_threads = max(peak_threads, threading.active_count())
        threads_running = threading.active_count()
        live = sorted(t.name for t in lab.live_threads())
        rss_running = rss_mb()
        states: dict[str, int] = {}
        for task in lab.snapshot().tasks:
            states[task.state] = states.get(task.state, 0) + 1
    finally:
        lab.close()
    lab_ref = weakref.ref(lab)
    del lab, killed, started  # the waiters subscribed to the lab: they hold it too
    print(ms_line("one crash + restart cycle", cycle_times))
    print(
        f"  {f'after {cycles} cycles, lab open:':<30} threads {threads_running:3d}   RSS {rss_running:7.1f} MB"
        f"   (peak threads seen {peak_threads}; {1024 * (rss_running - rss_before) / cycles:.0f} KB RSS per cycle)"
    )
    print(f"  lab.live_threads() then: {', '.join(live) or 'none'}")
    print(f"  task states at the end: {dict(sorted(states.items()))}")
    GC_PAUSES.collect()
    print(f"  {'after lab.close() + gc:':<30} threads {threading.active_count():3d}   RSS {rss_mb():7.1f} MB")
    print(f"  Celery process-global worker state after close: {celery_global_requests()}")
    print(
        f"  after close + gc: Lab object freed: {lab_ref() is None}; "
        f"LabWorker objects still in memory: {count_objects(LabWorker) - workers_before} from this lab "
        f"({workers_before} from earlier labs)"
    )
    leftover = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if leftover:
        print(f"  threads still alive: {', '.join(sorted(leftover))}")


# -- 6. real worker processes on a real broker (--broker URL) ---------------------------


def bench_real(plan: Plan, url: str) -> None:
    """Sections 1-3 on real ``celery-tutor worker`` processes (prefork) on the broker at ``url``."""
    from celery_tutor.lab.real.real_lab import RealLab
    from celery_tutor.lab.real.safety import describe_url

    where = describe_url(url)
    starts, sends, kills = max(3, plan.starts // 5), max(10, plan.sends // 3), max(3, plan.kills // 5)
    section(f"6. real workers on {where}: RealLab() + start() -> worker process consuming ({starts} runs)")
    totals: list[float] = []
    closes: list[float] = []
    for _ in range(starts):
        t0 = time.perf_counter()
        real = RealLab(LabConfig(), url)
        real.start()
        t1 = time.perf_counter()
        real.close()
        totals.append(t1 - t0)
        closes.append(time.perf_counter() - t1)
    print(ms_line("start -> consuming (probe, events, process)", totals))
    print(ms_line("close() (SIGKILL by PID, keys deleted)", closes))

    section(f"7. real workers on {where}: send -> task started ({sends} sends) and kill -> control ({kills} runs)")
    real = RealLab(LabConfig(), url)
    lab = cast(Lab, real)
    real.start()
    started = Arm(lab, "started")
    latencies: list[float] = []
    kill_times: list[float] = []
    restarts: list[float] = []
    try:
        for i in range(sends):
            got_start = started.arm()
            t0 = time.perf_counter()
            real.send("add", (i, 1))
            wait(got_start, "started event")
            latencies.append(started.at - t0)
        for i in range(kills):
            got_start = started.arm()
            real.send("generate_report", (i,))
            wait(got_start, "generate_report started event")
            t0 = time.perf_counter()
            real.crash_worker()
            t1 = time.perf_counter()
            real.restart_worker()
            kill_times.append(t1 - t0)
            restarts.append(time.perf_counter() - t1)
    finally:
        real.close()
    print(ms_line("send() -> started event (real worker)", latencies))
    print(ms_line("crash_worker() returns (SIGKILL + reported)", kill_times))
    print(ms_line("restart_worker() -> consuming (new process)", restarts))


# -- main --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, print the header, run every section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="cut repetitions for a smoke run")
    parser.add_argument(
        "--broker",
        default="rabbitmq",
        metavar="rabbitmq|redis|URL",
        help="redis: also run sections 1-3 on the in-process lab's Redis mode; a URL (redis://127.0.0.1:PORT/0): "
        "also run them on real worker processes on that broker, beside the in-process figures",
    )
    args = parser.parse_args(argv)
    real_url = args.broker if "://" in args.broker else None
    if real_url is None and args.broker not in ("rabbitmq", "redis"):
        parser.error(f"--broker: expected rabbitmq, redis or a URL, got {args.broker!r}")
    plan = QUICK if args.quick else FULL
    print("celery-tutor lab benchmark" + (" (--quick)" if args.quick else ""))
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"Celery {celery.__version__}, kombu {kombu.__version__}, os.cpu_count() = {os.cpu_count()}"
    )
    if not SIGNALS_IMPORTED_BY_ENGINE:
        print("NOTE: celery_tutor.lab.celery_signals was not imported by the engine; imported here (see bug)")
    print(f"process at start: threads {threading.active_count()}, RSS {rss_mb():.1f} MB")
    GC_PAUSES.install()
    began = time.perf_counter()
    steps: list[Callable[..., None]] = [
        bench_start,
        bench_send_to_started,
        bench_kill,
        bench_throughput,
        bench_crash_cycles,
    ]
    for step in steps:
        step(plan)
        if args.broker == "redis" and step in (bench_start, bench_send_to_started, bench_kill):
            step(plan, "redis")
    if real_url is not None:
        bench_real(plan, real_url)
    print(f"\n{GC_PAUSES.report()}")
    print(f"total wall time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
