"""A learner's retrying task, for examples/your-own-retry.yaml (run by ``celery-tutor lab run``)."""

from lab import app, checkpoint, rates_api


@app.task(bind=True, max_retries=3)
def fetch_exchange_rate(self, currency):
    """Retry a network error in one second, keeping the error."""
    try:
        rate = rates_api.fetch(currency)
    except (ConnectionError, TimeoutError) as exc:
        raise self.retry(exc=exc, countdown=1) from exc
    checkpoint("got_rate")
    return rate
