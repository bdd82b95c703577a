"""Help: every key, and what the lab panel shows."""

from __future__ import annotations

from typing import ClassVar

from rich.markdown import Markdown as RichMarkdown
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from celery_tutor.ui.widgets.key_bar import KeyBar

HELP = """\
# Help

**Everywhere**: `?` or `F1` this help · `ctrl+p` command palette (lessons, sandbox,
themes) · `q` quit (also `ctrl+c`).

**Lesson list**: `↑`/`↓` choose · `Enter` open · `c` continue where you left off ·
`s` sandbox · `v` review the questions you missed (when some are due) · `r` reset the
highlighted lesson's progress · `R` reset all progress.

**In a lesson**: `n` next step (in a quiz: the next question, answered or skipped) ·
`p` previous step · `h` next hint ·
`ctrl+o` replay the solution on the lab · `ctrl+r` reset the lab · `l` or `Esc` back to
the lessons. The lesson's own controls are buttons under the lab, each with its key
and a few words, like `s · charge, no key`; a toggle shows its state, like
`a · acks_late: off`. Press the key or click the button; the full label is in the
button's tooltip and in the command palette (`ctrl+p`, "Lab: …").

**Code steps** (you write the task): `Enter` into the editor (`Tab` indents, `Enter` keeps
the indentation) · `ctrl+r` run: a fresh lab runs the step's experiment on your code and
the goal shows ✓/✗ · `ctrl+t` back to the starter code · `ctrl+g` (or `h` outside the
editor) next hint · `ctrl+o` puts the solution in the editor · `ctrl+z` undo · `Esc`
leaves the editor, so `n`, `p`, `l` work again. A syntax error is shown at its line,
with the cursor there; nothing runs. A task that runs too long (an endless loop?) is
stopped and the lab replaced. Your code is kept: leave, quit and come back.

**Answering**: `↑`/`↓` and `Enter` pick an answer. For several answers, `Enter` ticks
☑ each one, then pick *check my answer*. To order items, pick them first to last.
Numbers: type, then `Enter`. `PgUp`/`PgDn` scroll the step (back up to the question).
A prediction's result quotes, under each ✓/✗, the timeline and ledger lines it rests on.

**The lab's view** (lessons and sandbox; the lab panel's bottom border lists these keys):
`f2` zoom: the lab fills the screen and the step shrinks to one line (`f2` again: back) ·
`space` pause the panel at the newest event; the lab runs on underneath (`space` again:
live) · `[` / `]` one event back / on: the broker strip, worker, retries and ledger as they
were right after that event, its timeline row marked ▶ (`[` pauses first; `]` past the
newest is live again) · `f3` replay since the lab's last reset (at most its last minute)
at quarter speed, each event on screen for a moment at least; long waits are sped up.
The history keeps the newest 10,000 events.

## The lab panel

- **READY → UNACKED → RUNNING → DONE**: every message, by name. *Ready* messages wait in
  the queue. *Unacked* ones are held by a worker (prefetched, or waiting for an ETA ◔):
  if the worker dies, the broker gives them back. *Running* shows the checkpoint the
  task reached last. *Done* ones say how they ended: ✓ succeeded, ✗ failed, ! LOST (the
  work is gone), ⊘ dropped (rejected, not requeued), ⏱ over its time limit. ↻ marks a
  redelivered message.
- **Worker**: ● alive, … stopping (warm shutdown), ○ stopped, ✗ KILLED; how many tasks
  it runs and how many messages it holds unacked.
- **Retries**: ◔ a retry waiting for its ETA, with a live countdown and "retry n of max".
- **Ledger**: side effects in the outside world (charges, emails, uploads), one line each.
  A repeated one is marked ×2 DUPLICATE; the timeline has every write.
- **Timeline**: everything that happened, in order.

Killing the **worker** drops its connection: the broker requeues every unacked message.
On **Redis** (the panel's border names the broker; `m` switches it in the sandbox) it does
not: the broker keeps them, invisible (✗), until a worker's restore scan finds them older
than the visibility timeout. The ◷ line counts down to the next scan and to each message.
Killing only the **pool child** is what the OOM killer does: the worker lives on and
reports WorkerLostError.

`Esc`, `q` or `?` closes this help.
"""


class HelpScreen(Screen[None]):
    """Keys and the lab panel explained."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    #help {
        border: round $primary;
        padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
        Binding("f1", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        # One Static rendering Rich's Markdown: far lighter than a widget per paragraph.
        with VerticalScroll(id="help"):
            yield Static(RichMarkdown(HELP))
        yield KeyBar()

    def action_close(self) -> None:
        """Back to where the learner was."""
        self.app.pop_screen()
