"""The largest counts and durations a lab accepts, in one place.

Every number a script, a lesson or a caller gives the lab is checked against these
before anything is built from it: ``send: {count: 100000000}`` must be an error at once,
not gigabytes of messages, and ``wait: {seconds: 1e10}`` must be an error, not a
process that sleeps for centuries (or ``OverflowError`` from the standard library).
The values are generous for teaching and small enough that the worst accepted input
is still quick and cheap.
"""

from __future__ import annotations

MAX_COUNT = 10_000
"""Most messages one ``send`` publishes, runs one ``fail_next`` breaks, or events a wait counts.

The prefetch and throughput lessons need tens of messages; ten thousand still publishes
in about a second and keeps the timeline readable."""

MAX_COUNTDOWN = 86_400.0
"""Longest delay, in seconds, before a message may run: a ``countdown``, a retry delay, a backoff.

One day. A lesson only needs "not yet" (a message held in the worker's timer) and
Celery's own defaults (``default_retry_delay`` 180 s, ``retry_backoff_max`` 600 s);
much larger values overflow Python's ``datetime`` when Celery computes the ETA."""

MAX_WAIT_SECONDS = 600.0
"""Longest a ``wait`` step may block, in seconds (``seconds`` or an ``until``'s ``timeout``).

Ten minutes: enough to watch Celery's longest default delay (a 600 s backoff cap) play
out, while a typo can never hang ``verify``, CI or the learner's screen for days."""

MAX_TIME_LIMIT = 3_600.0
"""Longest time limit, in seconds: ``task_time_limit``, ``time_limit`` and their soft versions.

An hour. A lesson needs a second or two; the lab checks limits at checkpoints, so a large
value costs nothing, but a typo of ``1e12`` must still be an error."""

MAX_GRACE = 600.0
"""Longest shutdown wait, in seconds: a ``deploy``'s grace before SIGKILL, ``worker_soft_shutdown_timeout``.

Ten minutes, like ``MAX_WAIT_SECONDS``: Kubernetes waits 30 s by default and Docker 10 s,
and a worker really waits this long in the lab."""

MAX_OUTAGE = 10.0
"""Longest a dropped connection's broker stays out of reach, in seconds (``drop_connection``'s ``outage``).

Celery retries a lost connection after 2 s, then 4 s and 6 s more: ten seconds shows a
retry or two, and a worker caught in a retry's sleep still ends soon when the lab closes."""

MAX_WORKERS = 4
"""Workers one lab runs: enough to show which worker got a message, and each is threads."""

MAX_CONCURRENCY = 16
"""Most pool threads per worker (``worker_concurrency``): every slot is a real thread here."""

MAX_PREFETCH_MULTIPLIER = 64
"""Largest ``worker_prefetch_multiplier``: with the most slots, 1,024 unacked messages per
worker, well inside AMQP's 65,535 prefetch limit for when the lab drives a real broker."""


def over_limit(value: object, maximum: float, unit: str) -> str:
    """The message for a value above its limit (the caller puts the place in front)."""
    shown = int(maximum) if float(maximum).is_integer() else maximum
    return f"{value!r} is over the lab's limit of {shown} {unit}".rstrip()


MAX_CODE_CHARS = 20_000
"""Longest learner code, in characters: a task is ~20 lines, a file of several is ~2,000
characters; a pasted megabyte is refused before Python parses it."""

MAX_CODE_TASKS = 8
"""Most tasks one piece of learner code may define: a step asks for one or two."""

CODE_RUN_SECONDS = 10.0
"""How long one run of a learner's task body may take by default before the lab stops it.

Lab tasks spend at most a few seconds in ``work()``; ten seconds without finishing is an
endless loop or a wait that never ends, and the lab is replaced."""

MAX_CODE_RUN_SECONDS = 120.0
"""The longest time limit a lab accepts for one run of learner code."""

CODE_IMPORT_SECONDS = 2.0
"""How long the top level of learner code may run: it only defines tasks (microseconds)."""

MAX_CODE_PRINTS = 50
"""Most ``print`` calls of one run of learner code that reach the timeline."""

MAX_PRINT_CHARS = 200
"""Longest printed text the timeline shows (the rest is cut)."""
