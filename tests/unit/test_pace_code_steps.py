"""A code step costs its writing time, its words and its experiment's waits in a lesson's minutes."""

from __future__ import annotations

from celery_tutor.course import pace
from celery_tutor.course.loader import parse_lesson
from celery_tutor.course.pace import Pace, estimate

# Counted words: one … eight (body, goal label, explain); hints and code are skipped.
CODED = """\
schema: 1
id: coded
title: Coded
summary: One code step.
minutes: 3
lab:
  tasks: [fetch_exchange_rate]
steps:
  - id: write-it
    code:
      body: one two three
      starter: |
        from lab import app, rates_api

        @app.task(bind=True)
        def fetch_exchange_rate(self, currency):
            return rates_api.fetch(currency)
      experiment:
        - send: {task: fetch_exchange_rate, args: [EUR], as: rate}
        - wait: {seconds: 2}
        - wait: {until: {task: rate, state: SUCCESS}, timeout: 5}
      goal:
        - label: four five
          state: {task: rate, is: SUCCESS}
      hints: [skipped skipped]
      solution: |
        from lab import app, rates_api

        @app.task(bind=True)
        def fetch_exchange_rate(self, currency):
            return rates_api.fetch(currency)
      explain: six seven eight
"""


def test_a_code_step_counts_its_words_its_writing_and_its_experiment_s_waits() -> None:
    got = estimate(parse_lesson(CODED, "coded.yaml"))
    assert got == Pace(words=8, predictions=0, labs=0, questions=0, wait_seconds=7.0, code_steps=1)
    assert got.seconds == 8 * 60 / pace.WORDS_PER_MINUTE + pace.CODE_SECONDS + 7.0
    assert got.describe() == "8 words, 0 predictions, 0 lab steps, 1 code step, 0 questions and 7 seconds of lab waits"


def test_a_lesson_without_code_steps_describes_itself_as_before() -> None:
    described = Pace(words=1, predictions=1, labs=1, questions=1, wait_seconds=1).describe()
    assert "code" not in described
