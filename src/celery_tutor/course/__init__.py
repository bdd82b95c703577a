"""The course: lesson format, loader, conditions and grading (pure: no Celery, no Textual)."""
