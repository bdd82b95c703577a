"""Counted words as a learner reads them: "1 run", "2 runs", "0.5 seconds".

Every number the app puts in front of a noun goes through :func:`count_of`, so no screen
says "1 runs" or "1 seconds". Lessons write units in the plural (``unit: runs``), as a
reader says them for any number but one; the singular is made from it here.
"""

from __future__ import annotations

_SINGULAR_ENDINGS = (("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"))


def singular(plural: str) -> str:
    """The singular of an English plural, as units are written ("retries" → "retry")."""
    for ending, replacement in _SINGULAR_ENDINGS:
        if plural.endswith(ending):
            return plural[: -len(ending)] + replacement
    if plural.endswith("s") and not plural.endswith("ss"):
        return plural[:-1]
    return plural


def count_of(number: float, plural: str) -> str:
    """A number and its noun, agreeing: ``count_of(1, "runs")`` is "1 run", 1.5 is "1.5 runs".

    Only exactly one takes the singular. An empty noun gives the number alone.
    """
    shown = str(int(number)) if float(number).is_integer() else f"{number:g}"
    if not plural:
        return shown
    return f"{shown} {singular(plural) if number == 1 else plural}"
