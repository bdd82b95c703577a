"""The app on a learner's own broker (``celery-tutor --broker URL``): which labs run on real workers.

The URL is checked and the broker probed once, before the app starts (:func:`open_broker`).
After that every lab the app starts asks :meth:`RealBroker.why_in_process` whether it can
run on real worker processes: a lab for the other kind of broker, or one that runs the
learner's own code, runs in the in-process lab instead, and the panel's border says so.
Nothing here imports Celery: the lab maker loads it with the first lab.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from celery_tutor.lab.real.names import broker_kind
from celery_tutor.lab.real.process import worker_arguments
from celery_tutor.lab.real.safety import describe_url

if TYPE_CHECKING:
    from celery_tutor.lab.engine import Lab, LabConfig

KIND_NAMES = {"redis": "Redis", "rabbitmq": "RabbitMQ"}
IN_PROCESS_ONLY = frozenset({"drop_connection"})
"""Controls the real lab cannot do yet: a lab that uses them runs in process."""
NEXT_WORKER = "worker2"
"""The name suggested for a worker started from another terminal (the tutor's own is worker1)."""


@dataclass(frozen=True)
class RealBroker:
    """The broker the app was started on, and how to make a lab on it."""

    url: str
    allow_remote: bool
    make_lab: Callable[[LabConfig], Lab]

    @property
    def kind(self) -> str:
        """``redis`` or ``rabbitmq``: the lab broker semantics of the URL."""
        return broker_kind(self.url)

    @property
    def shown(self) -> str:
        """The URL without its password, for the screen."""
        return describe_url(self.url)

    def why_in_process(self, config: LabConfig, controls: frozenset[str] = frozenset()) -> str | None:
        """Why a lab with ``config`` cannot run on this broker's real workers (None: it can).

        ``controls`` are the names of the controls the screen's lab will be driven with (its
        keys and its scripts): one the real lab cannot do yet keeps the lab in process, so a
        lesson stays one the learner can finish.
        """
        if config.broker != self.kind:
            lab_kind = KIND_NAMES.get(config.broker, config.broker)
            return f"this lab is for {lab_kind}, your broker is {KIND_NAMES[self.kind]}"
        if config.extra_tasks:
            return "your own task code runs only in the in-process lab"
        if config.settings.get("worker_enable_remote_control") is False:
            return "a worker without remote control runs only in the in-process lab"
        missing = sorted(controls & IN_PROCESS_ONLY)
        if missing:
            verb = "works" if len(missing) == 1 else "work"
            return f"{' and '.join(missing)} {verb} only in the in-process lab"
        return None

    def worker_command(
        self,
        prefix: str,
        name: str = NEXT_WORKER,
        settings: Mapping[str, Any] | None = None,
        task_options: Mapping[str, Any] | None = None,
    ) -> str:
        """What to paste into another terminal so that a worker joins the lab with ``prefix``.

        ``settings`` and ``task_options`` are the lab's (JSON values): a worker from elsewhere
        gets them only on its command line. A password in the URL is not shown on the screen:
        the command says where it goes.
        """
        words = worker_arguments(
            self._url_to_paste(), name, prefix, settings, task_options, allow_remote=self.allow_remote
        )
        return shlex.join(["celery-tutor", *words])

    def _url_to_paste(self) -> str:
        parts = urlsplit(self.url)
        if not parts.password:
            return self.url
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:PASSWORD@{host}"))


def open_broker(url: str, allow_remote: bool) -> RealBroker:
    """Check the URL and probe the broker now; raises ``BrokerRefused`` with one line if it cannot be used."""
    from celery_tutor.lab.real.broker_runs import lab_maker

    return RealBroker(url, allow_remote, lab_maker(url, allow_remote))
