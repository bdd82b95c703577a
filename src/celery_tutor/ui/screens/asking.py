"""A screen that asks quiz questions: a lesson's quiz and the review take answers the same way.

The answer widgets (:func:`~celery_tutor.ui.widgets.answers.answer_widgets`, id ``answer``)
report picks and typed numbers; this base routes them to whoever is asking now and shows
the verdict through the screen's own :meth:`AskingScreen.show_verdict`.
"""

from __future__ import annotations

from textual import on
from textual.widgets import Input, OptionList

from celery_tutor.course.asking import Refusal
from celery_tutor.course.grading import Grade
from celery_tutor.course.phases import Phase
from celery_tutor.ui.screens.tutor_screen import TutorScreen
from celery_tutor.ui.widgets.answers import Answering, give_number, marks
from celery_tutor.ui.widgets.steps import ChoiceList


class AskingScreen(TutorScreen[None]):
    """Takes the learner's answers to the question being asked."""

    def asking(self) -> Answering:
        """Whoever asks the question on screen (the lesson's walk, the review)."""
        raise NotImplementedError

    def show_verdict(self, grade: Grade) -> None:
        """Show a graded answer (each screen words it its own way)."""
        raise NotImplementedError

    @on(OptionList.OptionSelected, "#answer")
    def _choice_picked(self, event: OptionList.OptionSelected) -> None:
        """(Part of) an answer was picked: graded once complete, refused with a reason, or re-marked."""
        asking = self.asking()
        result = asking.pick(int(event.option.id or 0))
        if isinstance(result, Refusal):
            self.notify(result.reason, severity="warning")
        elif result is not None:
            self.show_verdict(result)
        elif asking.phase is Phase.ASKING and isinstance(event.option_list, ChoiceList):
            options = asking.options() or []
            event.option_list.set_marks(options, marks(asking.question, asking.answer, len(options)) or [])

    @on(Input.Submitted, "#answer")
    def _number_submitted(self, event: Input.Submitted) -> None:
        grade = give_number(self.asking(), event.value, self.notify)
        if grade is not None:
            self.show_verdict(grade)
