"""celery-tutor: learn how Celery keeps work safe, or loses it, on a real worker."""

__version__ = "0.1.0"
