"""The tasks that run in the lab.

This is ordinary Celery code: the app shows it to the learner as it is. ``checkpoint``
names a point where the lab can crash the worker on purpose, ``work`` stands for time
spent doing something, and ``payments``, ``rates_api``, ``mailer`` and ``storage`` are
the outside world, whose side effects land in the lab's ledger. ``exceptions`` is
``celery.exceptions`` (``from celery import exceptions``), read only when a task runs.
"""

from celery_tutor.lab.kit import app, checkpoint, exceptions, mailer, payments, rates_api, storage, work
from celery_tutor.lab.limits import MAX_WAIT_SECONDS


@app.task()
def add(x, y):
    """Add two numbers: the smallest task there is."""
    checkpoint("adding")
    return x + y


@app.task()
def charge_card(order_id, amount):
    """Charge a customer's card. Not idempotent: every run charges again."""
    checkpoint("before_charge")
    work(0.5)  # talk to the bank
    charge_id = payments.charge(order_id, amount)
    checkpoint("after_charge")
    return charge_id


@app.task()
def charge_card_idempotent(order_id, amount):
    """Charge a card with an idempotency key: a second run cannot charge twice."""
    checkpoint("before_charge")
    work(0.5)  # talk to the bank
    charge_id = payments.charge(order_id, amount, idempotency_key=f"order-{order_id}")
    checkpoint("after_charge")
    return charge_id


@app.task(bind=True, max_retries=3)
def fetch_exchange_rate(self, currency):
    """Call a flaky API; on a network error, retry in 1 s (the error is kept)."""
    try:
        rate = rates_api.fetch(currency)
    except (ConnectionError, TimeoutError) as exc:
        raise self.retry(exc=exc, countdown=1)
    checkpoint("got_rate")
    return rate


@app.task(bind=True, max_retries=3)
def sync_inventory(self, sku):
    """Retry without a countdown or exc: Celery's defaults decide the delay and the error."""
    try:
        rates_api.fetch("EUR")  # stands for the inventory service
    except ConnectionError:
        raise self.retry()
    checkpoint("synced")
    return f"{sku} in sync"


@app.task()
def notify_warehouse(order_id):
    """Retry through the task object itself, without bind=True."""
    try:
        mailer.send("warehouse@example.com", f"Ship order {order_id}")
    except ConnectionError as exc:
        raise notify_warehouse.retry(exc=exc, countdown=2, max_retries=5)
    checkpoint("notified")


@app.task(autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True, max_retries=4)
def send_receipt(order_id):
    """Retried by Celery itself on network errors, waiting longer each time."""
    mailer.send(f"customer-{order_id}@example.com", f"Receipt for order {order_id}")
    checkpoint("sent")


@app.task()
def generate_report(report_id):
    """A slow task with several steps."""
    checkpoint("querying")
    work(1.0)
    checkpoint("rendering")
    work(1.0)
    checkpoint("uploading")
    storage.upload(f"reports/{report_id}.pdf")
    checkpoint("done")
    return f"reports/{report_id}.pdf"


@app.task()
def transcode_video(video_id, seconds):
    """Transcode a video, taking `seconds`, then tell its owner. Not idempotent: every run emails."""
    seconds = min(seconds, MAX_WAIT_SECONDS)  # the lab's longest wait
    checkpoint("encoding")
    work(seconds / 2)  # encode the first half
    checkpoint("half_encoded")
    work(seconds / 2)  # encode the second half
    mailer.send(f"owner-{video_id}@example.com", f"Video {video_id} is ready")
    checkpoint("emailed")
    return f"videos/{video_id}.mp4"


@app.task()
def export_orders(export_id):
    """Export every order to a CSV file (about 2 s); past its soft time limit, keep what it has."""
    try:
        checkpoint("reading")
        work(1.0)  # read the orders
        checkpoint("writing")
        work(1.0)  # write the CSV file
        checkpoint("uploading")
        storage.upload(f"exports/{export_id}.csv")
        return "complete"
    except exceptions.SoftTimeLimitExceeded:
        # Clean up in a hurry: keep what is done.
        storage.upload(f"exports/{export_id}-partial.csv")
        checkpoint("saved_partial")
        return "partial"
