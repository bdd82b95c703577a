"""``celery-tutor worker``: one real lab worker process (a Celery prefork worker running the lab tasks).

The tutor starts these itself (:mod:`.process`), and a learner may start more on any machine
that reaches the broker: they join the lab whose prefix they are given.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from celery import Celery

from celery_tutor.lab import settings
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.lab.real import worker_side
from celery_tutor.lab.real.names import LabNames, celery_conf
from celery_tutor.lab.real.plans import PlanStore
from celery_tutor.lab.real.safety import describe_url
from celery_tutor.lab.real.worker_identity import WorkerIdentity
from celery_tutor.lab.real.worker_kill import kill_worker

WORKER_ONLY = ("worker_concurrency", "broker_transport_options")
"""Lab settings the worker takes other than as plain app settings."""


def checked_settings(plain: Mapping[str, Any]) -> dict[str, Any]:
    """The lab's defaults with ``plain`` (JSON values) on top, every one checked."""
    changes = {name: settings.check_setting(name, value) for name, value in plain.items()}
    return settings.with_defaults(changes)


def build_app(
    url: str, names: LabNames, lab_settings: Mapping[str, Any], task_options: Mapping[str, Mapping[str, Any]]
) -> Celery:
    """The worker's app: the lab's names, its settings, the library's tasks with their options."""
    app = Celery(names.prefix, set_as_current=True)
    app.conf.update(celery_conf(url, names, dict(lab_settings.get("broker_transport_options") or {})))
    app.conf.update({k: v for k, v in lab_settings.items() if k not in WORKER_ONLY})
    for spec in LAB_TASKS.values():
        extra = {k: settings.check_task_option(k, v) for k, v in task_options.get(spec.name, {}).items()}
        app.task(name=spec.name, shared=False, **{**spec.options, **extra})(spec.func)
    app.finalize()
    return app


def hold_lifeline(fd: int) -> None:
    """Die with the tutor that started this worker: SIGKILL the worker's group once ``fd`` reads EOF."""
    main_pid = os.getpid()

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 64):
                pass
        kill_worker(main_pid)

    threading.Thread(target=watch, name="celery-tutor-lifeline", daemon=True).start()


def run_worker(
    url: str,
    name: str,
    prefix: str,
    plain_settings: Mapping[str, Any] | None = None,
    task_options: Mapping[str, Mapping[str, Any]] | None = None,
    lifeline: int | None = None,
) -> int:
    """Run one lab worker until it is stopped; its exit code.

    ``lifeline``: a pipe's read end whose write end the tutor holds; when it closes, the worker dies.
    """
    if lifeline is not None:
        hold_lifeline(lifeline)
    names = LabNames(prefix)
    lab_settings = checked_settings(plain_settings or {})
    app = build_app(url, names, lab_settings, task_options or {})
    concurrency = int(lab_settings["worker_concurrency"])
    prefetch = int(lab_settings["worker_prefetch_multiplier"])
    directory = Path(tempfile.mkdtemp(prefix=f"{prefix}-{name}-"))
    try:
        worker_side.install(
            app,
            WorkerIdentity(
                name=name,
                main_pid=os.getpid(),
                store=PlanStore(directory / "plans.json"),
                key_prefix=names.key_prefix,
                concurrency=concurrency,
                prefetch=prefetch,
                directory=directory,
                hostname=names.hostname(name),
            ),
        )
        worker = app.Worker(
            hostname=names.hostname(name),
            pool="prefork",
            concurrency=concurrency,
            prefetch_multiplier=prefetch,
            queues=[names.queue],
            loglevel="WARNING",
            quiet=True,
            without_mingle=True,
            without_gossip=True,
            task_events=True,
        )
        print(f"{name}: joining lab {prefix} on {describe_url(url)}", flush=True)
        worker.start()
        return int(getattr(worker, "exitcode", 0) or 0)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def parse_json_option(text: str | None, what: str) -> dict[str, Any]:
    """A JSON mapping given on the command line ({} when absent)."""
    if not text:
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"{what}: expected a JSON mapping")
    return value
