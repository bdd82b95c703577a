"""The lesson format's vocabulary: the key tables it is declared in, and the shapes of their values.

The lesson format is declared once, as :class:`Keys` tables next to the code that reads
each mapping. The readers (:mod:`celery_tutor.course.reading`) check a file's keys by
them (unknown ones, missing ones), and ``scripts/write_lesson_schema.py`` turns the same
tables into the JSON Schema editors use, so a key added to a table is known to both. A
key's ``shape`` is the JSON Schema of its value; a :class:`Keys` inside a shape stands
for a mapping of its own. Declaring needs nothing of the lab: this module imports only
the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]
"""JSON Schema, possibly holding :class:`Keys` where a mapping of the format goes."""


@dataclass(frozen=True)
class Key:
    """One key of a mapping in the lesson format."""

    name: str
    shape: Schema | Keys
    """What its value is, as JSON Schema (the loader checks the same in code)."""
    help: str
    required: bool = False
    """Must be there (some readers report a missing one in words of their own, and go on)."""

    def json_schema(self) -> Schema:
        """Its value's schema, described by its help."""
        return {**json_schema(self.shape), "description": self.help}


@dataclass(frozen=True)
class Keys:
    """The keys of one mapping, in the order messages list them."""

    keys: tuple[Key, ...]
    kinds: tuple[Key, ...] = ()
    """Exactly one of these is given: it says what the mapping is (a step's ``read``, ``quiz``…)."""
    only_with: Mapping[str, tuple[Key, ...]] = field(default_factory=dict)
    """Keys that go with one kind only (a numeric question's ``tolerance``)."""
    help: str = ""
    schema: Schema = field(default_factory=dict)
    """More JSON Schema for the mapping, for what the reader checks beyond its keys."""

    def names(self) -> tuple[str, ...]:
        """Every key, the kinds' own ones included once."""
        extra = [key.name for keys in self.only_with.values() for key in keys]
        return tuple(dict.fromkeys([*(key.name for key in (*self.keys, *self.kinds)), *extra]))

    def required(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys if key.required)

    def optional(self) -> tuple[str, ...]:
        return tuple(name for name in self.names() if name not in self.required())

    def kind_names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.kinds)

    def json_schema(self) -> Schema:
        """The mapping as a JSON Schema object: its keys, exactly one kind, the keys only a kind takes."""
        schema: Schema = {"type": "object", **({"description": self.help} if self.help else {})}
        schema["properties"] = {key.name: key.json_schema() for key in (*self.keys, *self.kinds)}
        if self.required():
            schema["required"] = list(self.required())
        if self.kinds:
            schema["oneOf"] = [{"required": [kind]} for kind in self.kind_names()]
        if not self.only_with:
            schema["additionalProperties"] = False
        else:  # each kind takes the common keys, itself, and its own
            schema["allOf"] = [self._kind_rule(kind, self.only_with.get(kind, ())) for kind in self.kind_names()]
        return {**schema, **json_schema(self.schema)}

    def _kind_rule(self, kind: str, own: tuple[Key, ...]) -> Schema:
        then: Schema = {"properties": {key.name: key.json_schema() for key in own}} if own else {}
        if any(key.required for key in own):
            then["required"] = [key.name for key in own if key.required]
        then["propertyNames"] = {"enum": [*(key.name for key in self.keys), kind, *(key.name for key in own)]}
        return {"if": {"required": [kind]}, "then": then}


def json_schema(shape: Any) -> Any:
    """A shape as plain JSON Schema: every :class:`Keys` inside becomes an object schema."""
    if isinstance(shape, Keys):
        return shape.json_schema()
    if isinstance(shape, dict):
        return {name: json_schema(value) for name, value in shape.items()}
    if isinstance(shape, (list, tuple)):
        return [json_schema(value) for value in shape]
    return shape


TEXT: Schema = {"type": "string", "pattern": r"\S"}
"""Text that is not blank."""
OPTIONAL_TEXT: Schema = {"type": ["string", "null"], "pattern": r"\S"}
BOOLEAN: Schema = {"type": "boolean"}
NUMBER: Schema = {"type": "number"}


def ref(name: str) -> Schema:
    """A definition of the schema, by name (see each reader's ``DEFINITIONS``)."""
    return {"$ref": f"#/$defs/{name}"}


def whole(low: int, high: int) -> Schema:
    """A whole number in range (the reader checks it with :meth:`Reader.whole`)."""
    return {"type": "integer", "minimum": low, "maximum": high}


def list_of(item: Schema | Keys, minimum: int = 1) -> Schema:
    """A list of at least ``minimum`` items (the reader checks it with :meth:`Reader.items`)."""
    return {"type": "array", "minItems": minimum, "items": item}


def summary(doc: str | None) -> str:
    """The first sentence of a docstring, as schema and docs text (Markdown code spans)."""
    line = doc.strip().splitlines()[0] if doc and doc.strip() else ""
    return line.split(". ", 1)[0].rstrip(".").replace("``", "`") + "." if line else ""
