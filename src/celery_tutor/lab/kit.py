"""The few things a lab task imports: a task decorator, checkpoints, and a fake outside world.

Lab tasks are written the way a Celery user writes tasks (``@app.task(...)`` on a plain
function), because the app shows their source to the learner. Here ``app`` is a
:class:`TaskBook`: it records each function with its decorator options, and every lab
registers those same functions, with those options, on its own real Celery app. The
body that runs is the body the learner reads.

The outside world (a payment gateway, an exchange-rate API, a mailer, a file store)
writes what it does to the lab's side-effect ledger. An injected failure ("make the next
run fail with ConnectionError") surfaces at the run's first checkpoint or service call.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from celery_tutor.lab import runtime
from celery_tutor.lab.code_source import service_calls, static_checkpoints
from celery_tutor.lab.runtime import checkpoint

__all__ = [
    "TaskBook",
    "TaskRef",
    "TaskSpec",
    "app",
    "checkpoint",
    "exceptions",
    "mailer",
    "payments",
    "rates_api",
    "storage",
    "work",
]

FINISHED_CHECKPOINT = "task_finished"
"""Reached by every task after its body ended and Celery stored the outcome, before the
worker reports back (a late ack has not been sent yet)."""


@dataclass(frozen=True)
class TaskSpec:
    """A lab task as written: its function, decorator options, source and checkpoints."""

    name: str
    func: Callable[..., Any]
    options: dict[str, Any]
    source: str
    checkpoints: tuple[str, ...]
    summary: str = ""
    calls: tuple[str, ...] = field(default=())


def task_spec(name: str, func: Callable[..., Any], options: dict[str, Any], source: str) -> TaskSpec:
    """A task's spec from its function, its decorator options and its source text (one ``def``)."""
    tree = ast.parse(source)
    doc = inspect.getdoc(func) or ""
    return TaskSpec(
        name=name,
        func=func,
        options=dict(options),
        source=source,
        checkpoints=static_checkpoints(tree),
        summary=doc.splitlines()[0] if doc else "",
        calls=service_calls(tree, SERVICES),
    )


class TaskRef:
    """What ``@app.task`` returns: the task of the lab whose worker runs this thread.

    So ``my_task.retry(...)`` inside ``my_task`` reaches the real Celery task of the
    lab running it, as it would in a normal Celery project.
    """

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    def __getattr__(self, attr: str) -> Any:
        from celery import current_app  # the app of the worker running this thread

        runtime.current_run()  # only meaningful inside a lab task
        return getattr(current_app.tasks[self.spec.name], attr)

    def __repr__(self) -> str:
        return f"<lab task {self.spec.name}>"


class TaskBook:
    """Collects lab tasks, in the order they are defined, by name."""

    def __init__(self) -> None:
        self.specs: dict[str, TaskSpec] = {}

    def task(self, **options: Any) -> Callable[[Callable[..., Any]], TaskRef]:
        """Declare a lab task with the options a Celery ``@app.task`` takes."""

        def register(func: Callable[..., Any]) -> TaskRef:
            spec = task_spec(func.__name__, func, options, textwrap.dedent(inspect.getsource(func)))
            if not spec.checkpoints and not spec.calls:
                raise TypeError(f"lab task {spec.name} needs a checkpoint or a service call")
            self.specs[spec.name] = spec
            return TaskRef(spec)

        return register


app = TaskBook()
"""The decorator lab tasks use; each lab registers them on its own Celery app."""


class CeleryExceptions:
    """``celery.exceptions`` for lab tasks, imported when a task first reads a name from it.

    A lab task catches Celery's exceptions as a Celery user does after ``from celery
    import exceptions``: ``except exceptions.SoftTimeLimitExceeded:``. The lesson model
    reads this library but never runs a task, so Celery is imported only when such a
    clause is evaluated, on a worker's thread. Private names are not looked up (tools
    that probe objects for them must not import Celery).
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        from celery import exceptions as celery_exceptions

        return getattr(celery_exceptions, name)

    def __repr__(self) -> str:
        return "<celery.exceptions, imported on first use>"


exceptions = CeleryExceptions()
"""What lab tasks catch Celery's exceptions from (``exceptions.SoftTimeLimitExceeded``)."""


def work(seconds: float) -> None:
    """Pretend to be busy for a while; a killed worker's task dies here at once."""
    run = runtime.current_run()
    runtime.check_alive(run)
    if run.worker.killed.wait(seconds):
        raise run.die()


def _enter_service(run: runtime.RunContext) -> None:
    runtime.check_alive(run)
    failure = run.take_failure()
    if failure is not None:
        raise failure


class _Service:
    name = ""

    def _record(self, action: str, key: str, detail: str, idempotency_key: str | None = None) -> bool:
        run = runtime.current_run()
        _enter_service(run)
        return run.worker.hooks.side_effect(run, action, key, detail, idempotency_key)


class PaymentGateway(_Service):
    """Charges cards. Honours idempotency keys, like real payment providers do."""

    name = "payments"

    def charge(self, order_id: int, amount: float, idempotency_key: str | None = None) -> str:
        """Charge the order; with a key already used, nothing is charged again."""
        charged = self._record("charge", f"order {order_id}", f"${amount:.2f}", idempotency_key)
        return f"ch_{order_id}" if charged else f"ch_{order_id} (already charged)"


class RatesAPI(_Service):
    """A flaky exchange-rate API (flaky when the lab injects failures)."""

    name = "rates_api"
    RATES: ClassVar[dict[str, float]] = {"EUR": 0.92, "GBP": 0.79, "JPY": 151.2, "CHF": 0.88}

    def fetch(self, currency: str) -> float:
        """The rate of one US dollar in ``currency``."""
        run = runtime.current_run()
        _enter_service(run)
        return self.RATES.get(currency, 1.0)


class Mailer(_Service):
    """Sends emails: each one sent is a side effect in the ledger."""

    name = "mailer"

    def send(self, to: str, subject: str) -> None:
        """Send one email."""
        self._record("email", to, subject)


class Storage(_Service):
    """Stores files: each upload is a side effect in the ledger."""

    name = "storage"

    def upload(self, path: str) -> None:
        """Upload one file."""
        self._record("upload", path, "stored")


payments = PaymentGateway()
rates_api = RatesAPI()
mailer = Mailer()
storage = Storage()

SERVICES = {service.name: service for service in (payments, rates_api, mailer, storage)}
