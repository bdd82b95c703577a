"""Build a lab's Celery app: its broker, its private results, its settings, the task library's tasks.

A lab given learner tasks (:mod:`.learner_code`) registers them the same way, with their
own ``@app.task`` options, on :class:`~.code_guard.GuardedTask`: each run of their body is
watched by the lab's :class:`~.code_guard.CodeGuard`.

Each lab has apps of its own (never Celery's current or default app): changing a setting
builds a new app that the next workers run, as restarting a real worker with a new
config would. Every app built is remembered so that closing the lab closes them all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from celery import Celery

from celery_tutor.lab import celery_signals, settings
from celery_tutor.lab.broker_api import LabBroker
from celery_tutor.lab.code_guard import CodeGuard, GuardedTask
from celery_tutor.lab.code_guard import attach as attach_guard
from celery_tutor.lab.kit import TaskSpec
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.lab.results import LabResultBackend, make_result_backend

FIXED_SETTINGS: dict[str, Any] = {
    "broker_connection_retry_on_startup": True,
    "result_extended": True,
    "worker_hijack_root_logger": False,
    "worker_redirect_stdouts": False,
    "worker_send_task_events": False,
    "task_send_sent_event": False,
    "enable_utc": True,
    "worker_timer_precision": 0.1,  # ETAs fire on time, and the timer thread stops quickly
}
"""What every lab app has, whatever the lesson: quiet and private."""

WORKER_ONLY = ("worker_concurrency",)
"""Settings given to the worker itself rather than to the app."""


class AppBuilder:
    """The lab's current settings and task options, and the Celery apps built from them."""

    def __init__(
        self,
        main: str,
        broker: LabBroker,
        signal_target: celery_signals.SignalTarget,
        tasks: Mapping[str, TaskSpec] = LAB_TASKS,
        guarded: Collection[str] = (),
        guard: CodeGuard | None = None,
    ) -> None:
        self._main = main
        self._tasks = tasks
        """Every task the lab's apps register, by name (the library's, and a learner's)."""
        self._guarded = frozenset(guarded)
        """The names of the learner's tasks among them: registered on GuardedTask."""
        self._guard = guard
        self._broker = broker
        self._signal_target = signal_target
        self.results: type[LabResultBackend] = make_result_backend()
        """The result backend class every app of this lab shares (one store per lab)."""
        self.settings: dict[str, Any] = {}
        self.task_options: dict[str, dict[str, Any]] = {}
        self._apps: list[Celery] = []
        self._app: Celery | None = None

    @property
    def app(self) -> Celery:
        """The app for the current settings (built on first use after a change)."""
        if self._app is None:
            self._app = self._build()
        return self._app

    def reset(self, changes: Mapping[str, Any], task_options: Mapping[str, Mapping[str, Any]]) -> None:
        """Start over from the lab's defaults with ``changes`` and these task options."""
        self.settings = settings.with_defaults(changes)
        self.task_options = {task: dict(options) for task, options in task_options.items()}
        self._app = None

    def update_settings(self, checked: Mapping[str, Any]) -> None:
        """Change checked settings; the next app has them."""
        self.settings.update(checked)
        self._app = None

    def update_task_options(self, task: str, checked: Mapping[str, Any]) -> None:
        """Change a task's checked options; the next app has them."""
        self.task_options.setdefault(task, {}).update(checked)
        self._app = None

    def clear_results(self) -> None:
        """Forget every stored result (the lab is reset)."""
        self.results.store.clear()

    def close(self) -> None:
        """Close every app this builder made."""
        for app in self._apps:
            app.close()
        self._apps.clear()
        self._app = None

    def _build(self) -> Celery:
        app = Celery(self._main, set_as_current=False)
        connection = self._broker.celery_settings()
        app.conf.update({**connection, "result_backend": self.results, **FIXED_SETTINGS})
        app.conf.update({k: v for k, v in self.settings.items() if k not in WORKER_ONLY})
        if "broker_transport_options" in connection:  # the lab's own options (a key prefix) always hold
            options = {**self.settings.get("broker_transport_options", {}), **connection["broker_transport_options"]}
            app.conf.broker_transport_options = options
        celery_signals.attach(app, self._signal_target)
        if self._guard is not None:
            attach_guard(app, self._guard)
        for spec in self._tasks.values():
            options = {**spec.options, **self.task_options.get(spec.name, {})}
            if spec.name in self._guarded:
                options["base"] = GuardedTask
            app.task(name=spec.name, shared=False, **options)(spec.func)
        app.finalize()
        self._apps.append(app)
        return app
