"""Palette entries name the key bound to their action, read from the screen's bindings."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from celery_tutor.ui.screens.tutor_screen import TutorScreen


class _Keys(TutorScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "go", "Go"),
        Binding("escape", "back", "Back", show=False),
        Binding("b", "back", "Back"),
        Binding("left_square_bracket", "step", "Step", key_display="["),
    ]

    def action_go(self) -> None: ...

    def action_back(self) -> None: ...

    def action_step(self) -> None: ...

    def action_free(self) -> None: ...


async def test_a_command_says_its_key_after_its_note() -> None:
    async with App[None]().run_test() as pilot:
        screen = _Keys()
        await pilot.app.push_screen(screen)
        assert screen.command("Go", "go") == ("Go", "key x", screen.action_go)
        assert screen.command("Back", "back", "to the list")[1] == "to the list (b)"  # the key shown in the bar
        assert screen.command("Step", "step", "one back")[1] == "one back ([)"  # as the binding displays it
        assert screen.command("Free", "free", "no key of its own")[1] == "no key of its own"
