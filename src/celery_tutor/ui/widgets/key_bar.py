"""The key bar at the foot of a screen: each shown binding as its key and label, on one line.

Textual's ``Footer`` builds a widget per key and rebuilds them all whenever the bindings
change (a focus change, a screen pushed or popped): at start-up that was about 50 ms, a
fifth of the time to the first paint. This bar is one ``Static``, redrawn only when the
text it shows changes. A key is still clickable: the click presses the key.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static


def key_bar_text(keys: list[tuple[str, str, str, bool]], key_style: Style | None = None) -> Text:
    """The bar's text from ``(key, shown key, label, enabled)`` rows."""
    text = Text(no_wrap=True, overflow="ellipsis")
    key_style = key_style or Style(bold=True)
    for key, shown, label, enabled in keys:
        click = Style(meta={"@click": f"app.simulate_key({key!r})"})
        dim = Style(dim=True) if not enabled else Style()
        text.append(f" {shown}", key_style + dim + click)
        text.append(f" {label} ", dim + click)
    return text


class KeyBar(Static):
    """A one-line, clickable list of the screen's keys (what ``Footer`` shows, cheaper)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key"}

    DEFAULT_CSS = """
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        text-style: bold;
    }
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        background: $footer-background;
        color: $footer-description-foreground;
        link-style: none;
        link-style-hover: reverse;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._shown: list[tuple[str, str, str, bool]] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        keys: list[tuple[str, str, str, bool]] = []
        actions: set[str] = set()
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if binding.show and binding.action not in actions:  # one entry per action, as Footer does
                actions.add(binding.action)
                keys.append((binding.key, self.app.get_key_display(binding), binding.description, enabled))
        palette = screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if palette is not None and self.app.ENABLE_COMMAND_PALETTE and palette.binding.action not in actions:
            keys.append((palette.binding.key, self.app.get_key_display(palette.binding), "palette", palette.enabled))
        if keys != self._shown:  # the bindings change far more often than what they show
            self._shown = keys
            self.update(key_bar_text(keys, self.get_component_rich_style("key-bar--key")))
