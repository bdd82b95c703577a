"""The ``celery-tutor`` Textual app (for now, a welcome screen: the course comes next)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Markdown

WELCOME = """\
# celery-tutor

Learn how Celery keeps work safe, or loses it: acknowledgement, early and late acks,
idempotence and retries, on a **real Celery worker** running inside this app.

The lessons are on their way. The lab already works from the command line:

```
celery-tutor lab tasks                         # the lab's tasks and checkpoints
celery-tutor lab run examples/late-ack-crash.yaml
```

Each example crashes, fails or retries a real worker and reports what happened:
how many times each task ran, whether a run was a redelivery, the state Celery
stored, and the side effects (the ledger).

Press **q** to quit.
"""


class TutorApp(App[int]):
    """The celery-tutor application."""

    CSS_PATH = "app.tcss"
    TITLE = "celery-tutor"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="welcome"):
            yield Markdown(WELCOME)
        yield Footer()


def run_app(lessons: Path | None = None, data_dir: Path | None = None) -> int:
    """Run the app until the learner quits; returns the exit code."""
    result = TutorApp().run()
    return result or 0
