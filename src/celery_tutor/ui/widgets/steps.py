"""The parts of a step a learner interacts with: goal checklists, choices, quiz answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer, Vertical
from textual.visual import VisualType
from textual.widget import Widget
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


def _revealing(move: Callable[[OptionList], None]) -> Callable[[ChoiceList], None]:
    """One of the list's own cursor moves, then the step pane scrolls to the new highlight."""

    def action(self: ChoiceList) -> None:
        move(self)
        self.call_after_refresh(self._reveal_highlight)

    action.__doc__ = move.__doc__
    return action


def swap_box(pane: Widget, old: Widget, *widgets: Widget) -> Vertical:
    """A new box of ``widgets`` in ``old``'s place in ``pane``, with its classes.

    A new box, not new children: the old ones are removed only later, and the new ones may
    carry the same ids (``#answer``), which would clash inside one box.
    """
    box = Vertical(*widgets, classes=" ".join(old.classes))
    pane.mount(box, after=old)
    old.remove()
    return box


class ChoiceList(OptionList):
    """Answer options; Enter picks the highlighted one.

    Options are plain text: a lesson's choice may contain ``[`` and ``]``, which as markup
    would be styles, links or a crash. The list sits in the scrolling step pane under the
    question: page keys scroll the pane (the question may be above, the rest below), and the
    highlighted choice is kept in the pane's view, not only in the list's.
    """

    DEFAULT_CSS = """
    ChoiceList { height: auto; max-height: 12; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "scroll_step(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_step(1)", "Scroll down", show=False),
    ]

    def __init__(self, texts: list[str], *, marks: list[str] | None = None, id: str | None = None) -> None:
        marks = marks or [f"{i + 1}." for i in range(len(texts))]
        super().__init__(
            *[Option(f"{m} {t}", id=str(i)) for i, (t, m) in enumerate(zip(texts, marks, strict=True))],
            id=id,
            markup=False,
        )

    def _step_pane(self) -> ScrollableContainer | None:
        return next((node for node in self.ancestors if isinstance(node, ScrollableContainer)), None)

    def action_scroll_step(self, direction: int) -> None:
        """Scroll the step pane a page (the list's own page keys would move the highlight)."""
        pane = self._step_pane()
        if pane is not None:
            if direction < 0:
                pane.scroll_page_up(animate=False)
            else:
                pane.scroll_page_down(animate=False)

    # Only the learner's moves reveal the highlight: on mount the layout may still hold the
    # step's previous widgets, and the question above must stay in view anyway.
    action_cursor_up = _revealing(OptionList.action_cursor_up)
    action_cursor_down = _revealing(OptionList.action_cursor_down)
    action_first = _revealing(OptionList.action_first)
    action_last = _revealing(OptionList.action_last)

    def _reveal_highlight(self) -> None:
        """Scroll the step pane the least that shows the highlighted choice."""
        pane, index = self._step_pane(), self.highlighted
        if pane is None or index is None or not self.is_mounted or not self.has_focus:
            return
        lines: dict[int, int] = getattr(self, "_index_to_line", {})  # Textual's own map of wrapped options
        heights: dict[int, int] = getattr(self, "_heights", {})
        y = self.content_region.y + lines.get(index, index) - round(self.scroll_y)
        height = heights.get(index, 1)
        view = pane.content_region
        if y < view.y:
            pane.scroll_to(y=pane.scroll_y - (view.y - y), animate=False)
        elif y + height > view.bottom:
            pane.scroll_to(y=pane.scroll_y + (y + height - view.bottom), animate=False)

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
    """


class Notice(Static):
    """A short message in the step area (feedback, progress of an experiment…).

    A string is shown as written (a lesson's feedback is plain text, not markup).
    """

    DEFAULT_CSS = """
    Notice { height: auto; margin: 1 0 0 0; }
    """

    reveal = False
    """Scroll into view once shown (a hint the learner just asked for)."""
    reveal_at_top = False
    """…at the top of the view, with what follows it below (the goal just reached, then why)."""

    def __init__(self, content: VisualType = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(content, id=id, classes=classes, markup=False)

    def on_mount(self) -> None:
        if self.reveal or self.reveal_at_top:
            self.call_after_refresh(self.scroll_visible, top=self.reveal_at_top, animate=False)
