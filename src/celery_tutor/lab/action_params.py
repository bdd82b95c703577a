"""A control's parameters, defined once: name, type, whether required, bounds, help.

The actions (:mod:`.actions`) declare their parameters with :class:`Param`; the parser
(:mod:`.action_parser`) and anything that describes the vocabulary read the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ParamType(StrEnum):
    """What kind of value a parameter takes."""

    TASK = "task"
    """The name of a lab task."""
    TEXT = "text"
    """Non-empty text: an alias, a worker's name."""
    CHECKPOINT = "checkpoint"
    """A checkpoint of the step's ``task`` (of any task when none is given)."""
    LIST = "list"
    """A list (positional arguments)."""
    MAPPING = "mapping"
    """A mapping (keyword arguments)."""
    WHOLE = "whole"
    """A whole number between ``minimum`` and ``maximum``."""
    SECONDS = "seconds"
    """A number of seconds between ``minimum`` and ``maximum``."""
    EXCEPTION = "exception"
    """The name of an exception the lab can inject."""
    EVENT = "event"
    """An event kind."""
    STATE = "state"
    """One of :data:`~.actions.TASK_STATES`."""
    UNTIL = "until"
    """What a wait waits for: a mapping read by :attr:`~.actions.Until.PARAMS`."""
    FLAG = "flag"
    """true or false."""


@dataclass(frozen=True)
class Param:
    """One parameter of a control, defined once for the parser and for anything describing it."""

    name: str
    """As written in YAML."""
    type: ParamType
    help: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    """The upper bound (a limit from :mod:`.limits`), for numbers."""
    unit: str = ""
    """What a number counts, for messages: "messages", "seconds"…"""
    attribute: str = ""
    """The action's field that gets the value, when it is not ``name`` (``as`` → ``alias``)."""
    example: str = ""

    @property
    def field(self) -> str:
        """The action's field that gets the value."""
        return self.attribute or self.name
