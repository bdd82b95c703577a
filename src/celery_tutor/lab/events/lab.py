"""Events of the lab as a whole: its configuration, armed faults, resets and logged warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from celery_tutor.lab.events.base import LabEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigChanged(LabEvent):
    """Settings or task options changed; they apply to workers started from now on.

    A ``complete`` event carries the whole configuration (the lab starting, or reset);
    the others carry only what changed. Folding them in order gives the configuration
    at any event, so nobody needs to ask the lab for it.
    """

    kind: ClassVar[str] = "config_changed"
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


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultArmed(LabEvent):
    """A failure or a crash is armed and waits for its moment."""

    kind: ClassVar[str] = "fault_armed"
    template: ClassVar[str] = "armed: {description}"
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LabReset(LabEvent):
    """The lab went back to its initial state."""

    kind: ClassVar[str] = "lab_reset"
    template: ClassVar[str] = "lab reset"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabLog(LabEvent):
    """A warning or error logged by Celery or kombu inside the lab."""

    kind: ClassVar[str] = "log"
    template: ClassVar[str] = "[{level}] {logger}: {message}"
    level: str
    logger: str
    message: str
