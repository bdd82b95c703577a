"""Events of the lab as a whole: its configuration, armed faults, resets and logged warnings."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from celery_tutor.lab.events.base import LabEvent


class ConfigChanged(LabEvent, kind="config_changed"):
    """Settings or task options changed; they apply to workers started from now on.

    A ``complete`` event carries the whole configuration (the lab starting, or reset);
    the others carry only what changed. Folding them in order gives the configuration
    at any event, so nobody needs to ask the lab for it.
    """

    settings: dict[str, Any] = field(default_factory=dict)
    """Celery settings by name."""
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Task name → its ``@app.task`` options (plain values: exceptions by name)."""
    complete: bool = False
    broker: str | None = None
    """On a complete event, the broker the lab runs on: ``rabbitmq`` or ``redis``."""
    broker_server: str = ""
    """…and the server behind it, when it is a real one (``Valkey 9.1.2``)."""

    def describe(self) -> str:
        settings = self.settings
        if self.complete:  # only what differs from the lab's defaults: nine settings are a lot to read
            from celery_tutor.lab.settings import SETTINGS

            settings = {k: v for k, v in settings.items() if k not in SETTINGS or SETTINGS[k].default != v}
        parts = [", ".join(f"{k}={v!r}" for k, v in settings.items())] if settings else []
        for task, options in self.task_options.items():
            parts.append(f"{task} " + ", ".join(f"{k}={v!r}" for k, v in options.items()))
        if self.broker == "redis":
            parts.insert(0, f"broker Redis ({self.broker_server or 'a real server'})")
        if self.complete:
            return "config: " + ("; ".join(parts) + " (the rest: lab defaults)" if parts else "the lab defaults")
        return "config: " + "; ".join(parts)


class FaultArmed(LabEvent, kind="fault_armed", template="armed: {description}"):
    """A failure or a crash is armed and waits for its moment."""

    description: str


class LabReset(LabEvent, kind="lab_reset", template="lab reset"):
    """The lab went back to its initial state."""


class LabLog(LabEvent, kind="log", template="[{level}] {logger}: {message}"):
    """A warning or error logged by Celery or kombu inside the lab."""

    level: str
    logger: str
    message: str
