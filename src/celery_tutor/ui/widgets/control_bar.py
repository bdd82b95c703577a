"""The lesson's controls as buttons, each showing its key (the key works anywhere)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import ItemGrid
from textual.content import Content
from textual.message import Message
from textual.widgets import Button

from celery_tutor.course.model import Control


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
            yield Button(self._label(control, {}), compact=True, id=f"control-{number}")

    @staticmethod
    def _label(control: Control, settings: dict[str, Any]) -> Content:
        # Content, not str: a Button parses a str as markup, and a lesson's label is plain text.
        if control.toggle is not None:
            state = "ON" if settings.get(control.toggle) else "off"
            return Content(f"{control.key} · {control.toggle}: {state}")
        return Content(f"{control.key} · {control.label}")

    def show_settings(self, settings: dict[str, Any]) -> None:
        """Refresh the toggles' labels."""
        for number, control in enumerate(self.controls):
            if control.toggle is not None:
                self.query_one(f"#control-{number}", Button).label = self._label(control, settings)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        number = int((event.button.id or "control-0").rsplit("-", 1)[1])
        self.post_message(self.Pressed(self.controls[number].key))
