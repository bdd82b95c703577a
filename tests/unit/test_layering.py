"""The layers stay apart: the lab engine and the YAML reader never load Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("celery_tutor.lab", ("textual",)),
        ("celery_tutor.lab.experiment", ("textual",)),
        ("celery_tutor.lab.state", ("textual", "celery", "kombu")),
        ("celery_tutor.yaml_source", ("textual", "celery", "kombu")),
        ("celery_tutor.cli", ("textual", "celery")),
        ("celery_tutor.course.loader", ("textual", "celery", "kombu")),
        ("celery_tutor.course.format", ("celery_tutor.lab", "yaml")),  # declaring the format needs no lab
        ("celery_tutor.course.grading", ("textual", "celery", "kombu")),
        ("celery_tutor.course.conditions", ("textual", "celery", "kombu")),
        ("celery_tutor.course.lessons", ("textual", "celery", "kombu")),
        ("celery_tutor.course.session", ("textual", "celery", "kombu")),
        ("celery_tutor.verification", ("textual",)),
    ],
)
def test_module_does_not_import(module: str, forbidden: tuple[str, ...]) -> None:
    code = f"import sys, {module}; print(' '.join(m for m in {forbidden!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"{module} imported {out}"
