"""One lab's result backend: an in-memory key/value store that no other lab shares.

Celery's ``cache+memory://`` backend keeps every result in one process-wide LRU cache of
5,000 entries. The lab wants its results private (two labs never see each other's) and
never evicted while a lesson runs, so each lab gets a small store of its own; Celery's
own key/value backend logic (states, metadata, retries) runs on top unchanged.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from celery.backends.base import KeyValueStoreBackend


class LabResultBackend(KeyValueStoreBackend):
    """A key/value result backend over a dict shared by every thread of one lab."""

    store: ClassVar[dict[bytes | str, Any]]
    lock: ClassVar[threading.Lock]
    supports_native_join = False
    persistent = True  # it outlives any worker, as Redis or a database would
    implements_incr = True

    def get(self, key: bytes | str) -> Any:
        return self.store.get(key)

    def mget(self, keys: list[str]) -> list[Any]:
        return [self.store.get(key) for key in keys]

    def set(self, key: bytes | str, value: Any) -> None:
        self.store[key] = value

    def delete(self, key: bytes | str) -> None:
        self.store.pop(key, None)

    def incr(self, key: bytes | str) -> int:
        with self.lock:
            value = int(self.store.get(key) or 0) + 1
            self.store[key] = value
            return value

    def expire(self, key: bytes | str, value: Any) -> None:
        """Results live as long as the lab; nothing expires."""

    def as_uri(self, include_password: bool = False) -> str:
        return "lab-memory://"


def make_result_backend() -> type[LabResultBackend]:
    """A backend class with a fresh store (Celery builds one instance per thread)."""
    return type(
        "LabResultBackend",
        (LabResultBackend,),
        {"store": {}, "lock": threading.Lock()},
    )
