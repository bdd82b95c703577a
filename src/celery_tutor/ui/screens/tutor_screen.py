"""The base of the app's own screens: the app, typed as the tutor it is."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.screen import Screen

if TYPE_CHECKING:
    from celery_tutor.ui.app import TutorApp

R = TypeVar("R")


class TutorScreen(Screen[R]):
    """A screen that reaches the tutor's progress, course and settings through ``tutor``."""

    @property
    def tutor(self) -> TutorApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]
