"""The base of the app's own screens: the app, typed as the tutor it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from textual.screen import Screen

if TYPE_CHECKING:
    from celery_tutor.ui.app import TutorApp

R = TypeVar("R")

PaletteCommand = tuple[str, str, Callable[[], object]]
"""A command palette entry a screen offers: its title, its help line, what it runs."""


class TutorScreen(Screen[R]):
    """A screen that reaches the tutor's progress, course and settings through ``tutor``."""

    @property
    def tutor(self) -> TutorApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def command(self, title: str, action: str, note: str = "") -> PaletteCommand:
        """A palette entry that runs ``action_<action>``; its help line ends with the key bound to it.

        The key is read from the screen's bindings (a shown one first), so the palette never
        names a key the screen does not bind.
        """
        bound = sorted((binding for _, binding in self._bindings if binding.action == action), key=lambda b: not b.show)
        key = (bound[0].key_display or bound[0].key) if bound else ""
        help_text = (f"{note} ({key})" if note else f"key {key}") if key else note
        return title, help_text, getattr(self, f"action_{action}")
