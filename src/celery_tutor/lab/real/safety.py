"""Never harm a real deployment: refuse remote brokers unless asked, and fail fast on a dead one.

A URL whose host is not this machine is refused unless the learner says ``--allow-remote``.
A broker that is down or refuses the login is one clear line within a few seconds, never a
hang: kombu would otherwise retry for ever.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from celery_tutor.hosts import is_loopback

PROBE_TIMEOUT = 4.0
"""Seconds a broker may take to accept a connection and a login before it is given up on."""
SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")


class BrokerRefused(RuntimeError):
    """The broker URL may not be used, or the broker cannot be reached: one line says why."""


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def check_broker_url(url: str, allow_remote: bool = False) -> str:
    """The URL, if the lab may use it; else :class:`BrokerRefused`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BrokerRefused(f"broker URL {url!r} is not valid: {exc}") from None
    del port
    if parts.scheme.lower() not in SCHEMES:
        raise BrokerRefused(f"broker URL {url!r}: expected redis://… or amqp://…")
    host = parts.hostname or "localhost"
    if not allow_remote and not is_loopback(host):
        raise BrokerRefused(
            f"broker {describe_url(url)} is not on this machine: the lab creates and deletes queues and keys "
            "there (only its own, under a celery-tutor- prefix); give --allow-remote if that is what you want"
        )
    return url


def probe_broker(url: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Connect and log in once; :class:`BrokerRefused` with one line when that fails or takes too long."""
    from kombu import Connection

    failure: list[str] = []
    done = threading.Event()

    def attempt() -> None:
        try:
            with Connection(
                url,
                connect_timeout=timeout,
                transport_options={
                    "socket_connect_timeout": timeout,
                    "socket_timeout": timeout,
                    "max_retries": 0,
                },
            ) as connection:
                connection.connect()
                channel = connection.default_channel
                client = getattr(channel, "client", None)
                if client is not None and hasattr(client, "ping"):
                    client.ping()  # Redis connects lazily: make it log in now
        except OSError as exc:
            failure.append(_reason(exc))
        except Exception as exc:  # kombu and the clients raise many kinds; each is one line here
            failure.append(_reason(exc))
        finally:
            done.set()

    thread = threading.Thread(target=attempt, name="celery-tutor-broker-probe", daemon=True)
    thread.start()
    where = describe_url(url)
    if not done.wait(timeout + 0.5):
        raise BrokerRefused(f"broker {where} did not answer within {timeout:g}s")
    if failure:
        raise BrokerRefused(f"cannot use broker {where}: {failure[0]}")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "auth" in lowered or "password" in lowered or "access_refused" in lowered or "noperm" in lowered:
        return f"it refused the login ({text})"
    if "refused" in lowered or "connect" in lowered:
        return f"it is down or not listening there ({text})"
    return text
