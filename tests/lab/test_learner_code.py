"""A learner's own task code, loaded into a real lab: it runs on the worker like a library task.

Each test compiles code the way a code step does (:func:`compile_code`), gives the lab
its tasks (``LabConfig.extra_tasks``) and drives real Celery workers. The learner's
``charge_card`` replaces the library's; other names are new tasks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from celery_tutor.lab import LabConfigError
from celery_tutor.lab.learner_code import LearnerCode, compile_code
from celery_tutor.lab.library import LAB_TASKS

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from celery_tutor.lab import Lab
    from conftest import EventLog, LabFactory

pytestmark = pytest.mark.lab

PLAIN_CHARGE = '''
from lab import app, checkpoint, work, payments


@app.task()
def charge_card(order_id, amount):
    """My charge: no key."""
    checkpoint("before_charge")
    work(0.1)
    charge_id = payments.charge(order_id, amount)
    checkpoint("after_charge")
    return charge_id
'''

KEYED_CHARGE = PLAIN_CHARGE.replace(
    "payments.charge(order_id, amount)", 'payments.charge(order_id, amount, idempotency_key=f"order-{order_id}")'
).replace("no key", "with a key")

RETRYING_FETCH = """
from celery_tutor.lab.kit import app, checkpoint, rates_api


@app.task(bind=True, max_retries=3)
def fetch_exchange_rate(self, currency):
    try:
        rate = rates_api.fetch(currency)
    except (ConnectionError, TimeoutError) as exc:
        raise self.retry(exc=exc, countdown=1)
    checkpoint("got_rate")
    return rate
"""


def compiled(source: str, expected: list[str] | None = None) -> LearnerCode:
    code = compile_code(source, expected)
    assert isinstance(code, LearnerCode), code
    return code


def redeliver_after_charge(make_lab: LabFactory, source: str) -> tuple[Lab, EventLog, str]:
    """Late acks; kill the worker right after the charge; a new worker runs the message again."""
    lab = make_lab({"task_acks_late": True}, extra_tasks=compiled(source, ["charge_card"]).specs)
    log = make_lab.events(lab)
    lab.crash_at("after_charge", task="charge_card")
    task_id = lab.send("charge_card", (7, 19.99))
    log.wait_event("worker_killed", checkpoint="after_charge")
    lab.restart_worker()
    view = make_lab.wait_for_task(lab, task_id)
    assert view.state == "SUCCESS"
    assert [r.redelivered for r in view.runs] == [False, True]
    return lab, log, task_id


def test_the_learners_charge_without_a_key_charges_twice_under_redelivery(make_lab: LabFactory) -> None:
    lab, _, task_id = redeliver_after_charge(make_lab, PLAIN_CHARGE)

    assert [(e.key, e.count, e.duplicate) for e in lab.snapshot().ledger] == [
        ("order 7", 1, False),
        ("order 7", 2, True),
    ]
    assert lab.app.AsyncResult(task_id).result == "ch_7"


def test_the_learners_charge_with_an_idempotency_key_charges_once(make_lab: LabFactory) -> None:
    lab, log, task_id = redeliver_after_charge(make_lab, KEYED_CHARGE)

    (entry,) = lab.snapshot().ledger
    assert (entry.task_id, entry.key, entry.duplicate) == (task_id, "order 7", False)
    (skipped,) = log.of("skipped", task_id)
    assert skipped.key == "order 7"
    assert lab.app.AsyncResult(task_id).result == "ch_7 (already charged)"


def test_the_learners_task_replaces_the_library_task_of_that_name(make_lab: LabFactory) -> None:
    code = compiled(KEYED_CHARGE)
    lab = make_lab(extra_tasks=code.specs, start=False)

    assert lab.tasks["charge_card"] is code.tasks["charge_card"]
    assert "idempotency_key" in lab.tasks["charge_card"].source
    assert lab.tasks["charge_card"].summary == "My charge: with a key."
    assert list(lab.tasks) == list(LAB_TASKS)  # replaced in place: the order is the library's
    assert LAB_TASKS["charge_card"].source != lab.tasks["charge_card"].source  # the library is untouched
    assert lab.app.tasks["charge_card"].run.__code__.co_filename.startswith("<your code")


def test_a_learner_task_with_self_retry_and_a_countdown_retries(make_lab: LabFactory) -> None:
    lab = make_lab(extra_tasks=compiled(RETRYING_FETCH).specs)
    log = make_lab.events(lab)
    lab.fail_next("fetch_exchange_rate", 2)
    task_id = lab.send("fetch_exchange_rate", ("EUR",))

    view = make_lab.wait_for_task(lab, task_id, timeout=15)
    assert view.state == "SUCCESS"
    assert [r.retries for r in view.runs] == [0, 1, 2]
    retries = log.of("retry_scheduled", task_id)
    assert [(e.attempt, e.countdown, e.max_retries, e.exc_type) for e in retries] == [
        (1, 1.0, 3, "ConnectionError"),
        (2, 1.0, 3, "ConnectionError"),
    ]
    assert lab.app.AsyncResult(task_id).result == 0.92


def test_a_learner_task_with_autoretry_and_backoff_is_retried_by_celery(make_lab: LabFactory) -> None:
    source = """
@app.task(autoretry_for=(ConnectionError,), retry_backoff=True, retry_jitter=False, max_retries=4)
def send_receipt(order_id):
    mailer.send(f"customer-{order_id}@example.com", "Receipt")
    checkpoint("sent")
"""
    lab = make_lab(extra_tasks=compiled(source).specs)
    log = make_lab.events(lab)
    lab.fail_next("send_receipt", 2)
    task_id = lab.send("send_receipt", (3,))

    view = make_lab.wait_for_task(lab, task_id, timeout=15)
    assert view.state == "SUCCESS"
    assert [e.countdown for e in log.of("retry_scheduled", task_id)] == [1.0, 2.0]  # 1, 2, 4… without jitter
    assert [e.key for e in lab.snapshot().ledger] == ["customer-3@example.com"]


def test_a_learner_task_retrying_through_its_own_name_without_bind(make_lab: LabFactory) -> None:
    source = """
@app.task()
def notify(order_id):
    try:
        mailer.send("warehouse@example.com", f"Ship order {order_id}")
    except ConnectionError as exc:
        raise notify.retry(exc=exc, countdown=0.2, max_retries=2)
"""
    lab = make_lab(extra_tasks=compiled(source).specs)
    lab.fail_next("notify", 1)
    task_id = lab.send("notify", (5,))

    view = make_lab.wait_for_task(lab, task_id)
    assert view.state == "SUCCESS"
    assert len(view.runs) == 2


def test_a_new_task_name_works_with_every_control(make_lab: LabFactory) -> None:
    source = """
@app.task(acks_late=True)
def ship_order(order_id):
    checkpoint("packed")
    storage.upload(f"labels/{order_id}.pdf")
    checkpoint("labelled")
    return order_id
"""
    code = compiled(source, ["ship_order"])
    assert code.tasks["ship_order"].checkpoints == ("packed", "labelled")
    lab = make_lab(extra_tasks=code.specs, task_options={"ship_order": {"reject_on_worker_lost": True}})
    log = make_lab.events(lab)

    lab.crash_at("labelled", task="ship_order")
    task_id = lab.send("ship_order", (11,), alias="order")
    log.wait_event("worker_killed", checkpoint="labelled")
    lab.restart_worker()
    view = make_lab.wait_for_task(lab, task_id)
    assert (view.state, view.alias, [r.redelivered for r in view.runs]) == ("SUCCESS", "order", [False, True])
    assert lab.task_id("order") == task_id
    assert [e.checkpoint for e in log.of("checkpoint", task_id)][:2] == ["packed", "labelled"]

    lab.fail_next("ship_order", 1, "ValueError")
    failed = lab.send("ship_order", (12,))
    assert make_lab.wait_for_task(lab, failed).state == "FAILURE"
    lab.set_task_options("ship_order", acks_late=False)
    assert make_lab.wait_for_task(lab, lab.send("ship_order", (13,))).state == "SUCCESS"


def test_controls_check_checkpoints_against_the_learners_own_task(make_lab: LabFactory) -> None:
    source = "@app.task()\ndef charge_card(order_id, amount):\n    return payments.charge(order_id, amount)\n"
    lab = make_lab(extra_tasks=compiled(source).specs, start=False)

    with pytest.raises(LabConfigError, match="unknown checkpoint of charge_card 'after_charge'"):
        lab.crash_at("after_charge", task="charge_card")
    lab.crash_at("task_finished", task="charge_card")  # every task reaches this one
    with pytest.raises(LabConfigError, match="unknown task 'ship_order'"):
        lab.send("ship_order")


def test_the_library_lab_knows_nothing_of_a_learners_new_task(make_lab: LabFactory) -> None:
    make_lab(extra_tasks=compiled("@app.task\ndef extra():\n    checkpoint('x')\n").specs, start=False)
    plain = make_lab(start=False)

    assert "extra" not in plain.tasks
    with pytest.raises(LabConfigError, match="unknown task 'extra'"):
        plain.send("extra")


def test_print_in_a_learner_task_goes_to_the_timeline(make_lab: LabFactory) -> None:
    source = """
@app.task(bind=True)
def chatty(self, n):
    for i in range(n):
        print("step", i, "of", self.request.id[:4])
    checkpoint("done")
"""
    lab = make_lab(extra_tasks=compiled(source).specs)
    log = make_lab.events(lab)
    task_id = lab.send("chatty", (60,))
    make_lab.wait_for_task(lab, task_id)

    printed = log.of("printed", task_id)
    assert len(printed) == 50  # the lab's limit per run
    assert printed[0].text == f"step 0 of {task_id[:4]}"
    assert printed[0].describe() == f"chatty[{task_id[:8]}] printed: step 0 of {task_id[:4]}"
    assert printed[-1].text.endswith("more are dropped)")


def test_an_error_in_the_learners_task_body_is_a_celery_failure(make_lab: LabFactory) -> None:
    source = "@app.task()\ndef broken(x):\n    checkpoint('start')\n    return x / 0\n"
    lab = make_lab(extra_tasks=compiled(source).specs)
    log = make_lab.events(lab)
    task_id = lab.send("broken", (1,))

    assert make_lab.wait_for_task(lab, task_id).state == "FAILURE"
    (failed,) = log.of("failed", task_id)
    assert failed.exc_type == "ZeroDivisionError"
    assert not lab.halted


def test_a_learner_task_can_raise_celerys_own_exceptions(make_lab: LabFactory) -> None:
    source = """
from celery.exceptions import Reject


@app.task(acks_late=True)
def refuse(order_id):
    checkpoint("checked")
    raise Reject("bad order", requeue=False)
"""
    lab = make_lab(extra_tasks=compiled(source).specs)
    log = make_lab.events(lab)
    task_id = lab.send("refuse", (1,))

    log.wait_event("rejected", task_id)
    assert [e.requeue for e in log.of("rejected", task_id)] == [False]


def test_a_lab_config_refuses_what_is_not_compiled_learner_code() -> None:
    from celery_tutor.lab import LabConfig

    with pytest.raises(LabConfigError, match="extra_tasks"):
        LabConfig(extra_tasks=("def f(): pass",)).checked()  # type: ignore[arg-type]
    with pytest.raises(LabConfigError, match="code_time_limit"):
        LabConfig(code_time_limit=10_000).checked()
