"""The lesson-format guide names every event kind a condition or a wait can match."""

from __future__ import annotations

import re
from pathlib import Path

from celery_tutor.lab.events import EVENT_KINDS

GUIDE = Path(__file__).parents[2] / "docs" / "lesson-format.md"


def test_the_guide_lists_every_event_kind() -> None:
    text = GUIDE.read_text()
    listed = text[text.index("Event kinds:") :].split("Their fields are in")[0]
    named = set(re.findall(r"`([a-z_]+)`", listed))
    assert named == set(EVENT_KINDS), (sorted(set(EVENT_KINDS) - named), sorted(named - set(EVENT_KINDS)))
