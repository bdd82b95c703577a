"""The parts of a step a learner interacts with: goal checklists, choices, quiz answers."""

from __future__ import annotations

from rich.text import Text
from textual.visual import VisualType
from textual.widgets import Markdown, OptionList, Static
from textual.widgets.option_list import Option

from celery_tutor.course.conditions import Condition


def checklist(results: list[tuple[Condition, bool]], title: str) -> Text:
    """Labelled conditions with ✓/✗ (words and glyphs, not colour alone)."""
    text = Text(f"{title}\n", style="bold")
    for condition, ok in results:
        mark, style = ("✓", "green") if ok else ("✗", "red")
        text.append(f"  {mark} ", style=style)
        text.append(f"{condition.label}\n")
    return text


class ChoiceList(OptionList):
    """Answer options; Enter picks the highlighted one.

    Options are plain text: a lesson's choice may contain ``[`` and ``]``, which as markup
    would be styles, links or a crash.
    """

    DEFAULT_CSS = """
    ChoiceList { height: auto; max-height: 12; }
    """

    def __init__(self, texts: list[str], *, marks: list[str] | None = None, id: str | None = None) -> None:
        marks = marks or [f"{i + 1}." for i in range(len(texts))]
        super().__init__(
            *[Option(f"{m} {t}", id=str(i)) for i, (t, m) in enumerate(zip(texts, marks, strict=True))],
            id=id,
            markup=False,
        )

    def set_marks(self, texts: list[str], marks: list[str]) -> None:
        """Show a mark before each option (☐/☑ for multiple choice, order numbers…)."""
        highlighted = self.highlighted
        self.clear_options()
        self.add_options(
            [Option(f"{mark} {t}", id=str(i)) for i, (t, mark) in enumerate(zip(texts, marks, strict=True))]
        )
        self.highlighted = highlighted


class Feedback(Markdown):
    """What a lesson says about an answer: Markdown, as the step text is, lined up with the notices."""

    DEFAULT_CSS = """
    Feedback { height: auto; margin: 1 0 0 0; padding: 0; }
    Feedback > MarkdownParagraph:last-child { margin: 0; }
    """


class Notice(Static):
    """A short message in the step area (feedback, progress of an experiment…).

    A string is shown as written (a lesson's feedback is plain text, not markup).
    """

    DEFAULT_CSS = """
    Notice { height: auto; margin: 1 0 0 0; }
    """

    def __init__(self, content: VisualType = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(content, id=id, classes=classes, markup=False)
