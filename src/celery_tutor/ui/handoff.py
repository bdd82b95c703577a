"""Work handed from any thread to one consumer, which is woken once, not once an item.

The lab's events reach the screen this way (a thousand events, a handful of wake-ups),
and so do the jobs a lab session runs on its worker thread (one thread at a time, in order).
A handoff has no lock of its own: its owner calls it under the owner's lock, so that
whatever goes with a hand-over (posting the wake-up, noticing a close) happens under
the same lock.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Handoff(Generic[T]):
    """Items in order, and whether their consumer has been woken for them already."""

    __slots__ = ("_awake", "_items", "_shut")

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._awake = False
        self._shut = False

    @property
    def awake(self) -> bool:
        """The consumer has been woken and has not yet gone idle."""
        return self._awake

    @property
    def shut(self) -> bool:
        """Nothing is taken any more (see :meth:`shut_down`)."""
        return self._shut

    def put(self, item: T) -> bool:
        """Queue ``item``; True when the consumer was idle and the caller must wake it."""
        if self._shut:
            return False
        self._items.append(item)
        if self._awake:
            return False
        self._awake = True
        return True

    def take_all(self) -> list[T]:
        """Everything queued, in order; the consumer is idle again (the next put wakes it)."""
        items = list(self._items)
        self._items.clear()
        self._awake = False
        return items

    def take_one(self) -> tuple[T] | tuple[()]:
        """The oldest item, or ``()`` once none is left: then the consumer is idle again."""
        if self._items and not self._shut:
            return (self._items.popleft(),)
        self._items.clear()
        self._awake = False
        return ()

    def shut_down(self) -> None:
        """Drop what is queued and refuse everything from now on, for good."""
        self._shut = True
        self._items.clear()
