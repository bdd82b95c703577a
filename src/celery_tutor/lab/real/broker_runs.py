"""Running scripts and lessons on a real broker: the factory of real labs that ``lab run`` and ``verify`` use."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from celery_tutor.lab.lab_config import LabConfig
from celery_tutor.lab.real.names import broker_kind
from celery_tutor.lab.real.real_lab import RealLab
from celery_tutor.lab.real.safety import check_broker_url, probe_broker

if TYPE_CHECKING:
    from celery_tutor.lab.engine import Lab

L = TypeVar("L")


def lab_maker(broker_url: str, allow_remote: bool = False) -> Callable[[LabConfig], Lab]:
    """A factory of real labs on one broker, for ``verify --broker`` (the URL checked, the broker probed)."""
    check_broker_url(broker_url, allow_remote)
    probe_broker(broker_url)

    def make_lab(config: LabConfig) -> Lab:
        return cast("Lab", RealLab(config, broker_url, allow_remote=allow_remote))

    return make_lab


def lessons_for(broker_url: str, lessons: list[L]) -> tuple[list[L], list[L]]:
    """The lessons whose lab runs on this broker's kind, and the others (skipped)."""
    kind = broker_kind(broker_url)
    chosen = [lesson for lesson in lessons if getattr(lesson.lab, "broker", "rabbitmq") == kind]  # type: ignore[attr-defined]
    return chosen, [lesson for lesson in lessons if lesson not in chosen]


def run_script_on_broker(script: Any, broker_url: str, *, allow_remote: bool = False) -> Any:
    """``lab run --broker URL``: the script's report, from real workers on that broker.

    The URL is checked and the broker probed first: a refused URL or a dead broker raises
    :class:`~.safety.BrokerRefused` within seconds, before anything starts.
    """
    from celery_tutor.lab.experiment import run_script

    return run_script(script, make_lab=lab_maker(broker_url, allow_remote))
