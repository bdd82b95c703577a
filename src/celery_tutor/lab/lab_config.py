"""How a lab starts (:class:`LabConfig`), checked before anything is built, and its broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from celery_tutor.lab import limits, settings
from celery_tutor.lab.broker import Broker
from celery_tutor.lab.broker_api import LabBroker
from celery_tutor.lab.kit import TaskSpec
from celery_tutor.lab.library import task_table
from celery_tutor.lab.reporters import BrokerReporter
from celery_tutor.lab.settings import LabConfigError

BROKERS = settings.BROKERS
"""The brokers a lab can run on (defined with the other checked names, in :mod:`.settings`)."""


@dataclass
class LabConfig:
    """How a lab starts: Celery settings, per-task options, how many workers, which broker.

    ``extra_tasks`` are a learner's tasks (:func:`~.learner_code.compile_code`'s
    ``LearnerCode.specs``): registered beside the library's, replacing one of the same
    name. Each run of their body may take ``code_time_limit`` seconds; then the lab halts.
    """

    settings: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    workers: int = 1
    broker: str = "rabbitmq"
    extra_tasks: tuple[TaskSpec, ...] = ()
    code_time_limit: float = limits.CODE_RUN_SECONDS

    def checked(self) -> LabConfig:
        """A copy with every name and value checked (raises :class:`LabConfigError`)."""
        checked_settings = {name: settings.check_setting(name, v) for name, v in self.settings.items()}
        extra = tuple(self.extra_tasks)
        if len(extra) > limits.MAX_CODE_TASKS or not all(isinstance(spec, TaskSpec) for spec in extra):
            raise LabConfigError(f"extra_tasks: expected at most {limits.MAX_CODE_TASKS} compiled tasks")
        tasks = task_table({spec.name: spec for spec in extra})
        options: dict[str, dict[str, Any]] = {}
        for task, values in self.task_options.items():
            settings.pick(tasks, task, "task")
            options[task] = {name: settings.check_task_option(name, v) for name, v in values.items()}
        workers = self.workers
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= limits.MAX_WORKERS:
            raise LabConfigError(f"workers: expected 1 to {limits.MAX_WORKERS}, got {workers!r}")
        if not isinstance(self.broker, str) or self.broker not in BROKERS:
            raise LabConfigError(f"unknown broker {self.broker!r}; valid: {', '.join(BROKERS)}")
        limit = settings.named(
            "code_time_limit", settings.number, self.code_time_limit, 0.05, limits.MAX_CODE_RUN_SECONDS
        )
        return LabConfig(checked_settings, options, workers, self.broker, extra, limit)


def make_broker(name: str, probe: BrokerReporter) -> LabBroker:
    """The lab's broker: in process (RabbitMQ-like), or kombu's Redis transport on a real server."""
    if name == "redis":
        from celery_tutor.lab.redis_broker import RedisBroker  # imports redis-py only when used

        return RedisBroker(probe)
    return Broker(probe=probe)
