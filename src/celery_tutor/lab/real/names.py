"""Every name one real lab uses on a broker, all under one prefix, and the Celery settings built on them.

A learner's broker may also serve real work. The lab therefore never uses Celery's default
queue, exchanges or result keys: its queue, event and control exchanges carry the prefix,
and on Redis every key does too (kombu's and Celery's ``global_keyprefix``), so the lab's
clean-up can delete exactly its own keys and nothing else.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PREFIX_START = "celery-tutor-"
"""Every lab prefix starts so: a key or queue named so is the tutor's, never a deployment's."""


def broker_kind(url: str) -> str:
    """``redis`` or ``rabbitmq``: which lab broker semantics a URL has."""
    scheme = urlsplit(url).scheme.lower()
    return "redis" if scheme in ("redis", "rediss") else "rabbitmq"


class _Prefixed:
    """A broker name that is the lab's prefix and a fixed ending, read like an attribute."""

    def __init__(self, ending: str) -> None:
        self.ending = ending

    def __get__(self, names: LabNames, owner: type[LabNames] | None = None) -> str:
        return names.prefix + self.ending


@dataclass(frozen=True)
class LabNames:
    """The prefix of one lab, and every broker name derived from it."""

    prefix: str

    @classmethod
    def new(cls) -> LabNames:
        """A fresh prefix, unique enough that two tutors on one broker never meet."""
        return cls(f"{PREFIX_START}{secrets.token_hex(4)}")

    #: The one queue the lab's tasks go to.
    queue = _Prefixed(".tasks")
    #: Where the lab's workers send their events.
    event_exchange = _Prefixed(".events")
    #: Where remote-control commands reach the lab's workers (and only them).
    control_exchange = _Prefixed(".control")
    #: Redis: the prefix of every key the lab writes (queues, unacked hash, results).
    key_prefix = _Prefixed(":")

    @property
    def results_dir(self) -> Path:
        """RabbitMQ: where the lab's results are kept (Celery's filesystem backend; local workers share it)."""
        return Path(tempfile.gettempdir()) / f"{self.prefix}-results"

    def hostname(self, name: str) -> str:
        """A worker's Celery node name: its lab name, at this lab."""
        return f"{name}@{self.prefix}"


def worker_name(hostname: str) -> str:
    """The lab name of a worker from its Celery node name (``worker1@celery-tutor-…``)."""
    return hostname.split("@", 1)[0]


def celery_conf(url: str, names: LabNames, transport_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The settings both sides share: the tutor that sends and watches, and the workers.

    ``transport_options`` are the lab's own (a visibility timeout, say); the prefix is added
    on top and always holds.
    """
    kind = broker_kind(url)
    options = dict(transport_options or {})
    conf: dict[str, Any] = {
        "broker_url": url,
        "broker_connection_retry_on_startup": False,
        "broker_connection_timeout": 4.0,
        "task_default_queue": names.queue,
        "task_default_exchange": names.queue,
        "task_default_routing_key": names.queue,
        "event_exchange": names.event_exchange,
        "event_queue_prefix": f"{names.prefix}.watch",
        "control_exchange": names.control_exchange,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_enable_remote_control": True,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "result_extended": True,
        "enable_utc": True,
        "accept_content": ["json"],
    }
    if kind == "redis":
        options["global_keyprefix"] = names.key_prefix
        conf["result_backend"] = url
        conf["result_backend_transport_options"] = {"global_keyprefix": names.key_prefix}
    else:
        # RabbitMQ keeps no results: Celery's filesystem backend does, in a directory of the lab's own
        # that the tutor and the workers on this machine share.
        names.results_dir.mkdir(mode=0o700, exist_ok=True)
        conf["result_backend"] = f"file://{names.results_dir}"
    conf["broker_transport_options"] = options
    return conf
