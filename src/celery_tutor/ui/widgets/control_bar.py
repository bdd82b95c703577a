"""The lesson's controls as buttons: key, short label, a toggle's state; the full label is the tooltip.

The key works anywhere on the screen. The row is for finding the key; what a control does
in full is in its tooltip and in the command palette.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import ItemGrid
from textual.content import Content
from textual.message import Message
from textual.widgets import Button

from celery_tutor.course.model import Control
from celery_tutor.lab.settings import flag_value


class ControlBar(ItemGrid):
    """A grid of compact buttons, one per control."""

    DEFAULT_CSS = """
    ControlBar { height: auto; }
    ControlBar > Button { width: 1fr; margin: 0 1 0 0; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    class Pressed(Message):
        """A control's button was pressed."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, controls: tuple[Control, ...], **kwargs: Any) -> None:
        super().__init__(min_column_width=22, **kwargs)
        self.controls = controls

    def compose(self) -> ComposeResult:
        for number, control in enumerate(self.controls):
            # Content, not str: a Button (and a tooltip) parses a str as markup; lesson text is plain.
            button = Button(self._label(control, {}), compact=True, id=f"control-{number}")
            button.tooltip = Content(control.label)
            yield button

    @staticmethod
    def _label(control: Control, settings: dict[str, Any]) -> Content:
        if control.toggle is not None:
            return Content(
                f"{control.key} · {control.short_label}: {'on' if flag_value(control.toggle, settings) else 'off'}"
            )
        return Content(f"{control.key} · {control.short_label}")

    def show_settings(self, settings: dict[str, Any]) -> None:
        """Refresh the toggles' labels."""
        for number, control in enumerate(self.controls):
            if control.toggle is not None:
                self.query_one(f"#control-{number}", Button).label = self._label(control, settings)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        number = int((event.button.id or "control-0").rsplit("-", 1)[1])
        self.post_message(self.Pressed(self.controls[number].key))
