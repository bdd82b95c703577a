"""The ``celery-tutor`` Textual app: lessons, a live lab, progress that is kept."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gc
import signal
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.notifications import Notify, SeverityLevel
from textual.screen import Screen

from celery_tutor.course.index import LessonEntry, index_path, lesson_files, read_index, write_index
from celery_tutor.paths import data_dir, lessons_dir
from celery_tutor.progress import Clock, Progress, wall_clock
from celery_tutor.progress_store import LoadResult, ProgressStore
from celery_tutor.ui.screens.lesson_list import LessonListScreen

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from celery_tutor.course.lessons import Course
    from celery_tutor.ui.real_broker import RealBroker
    from celery_tutor.ui.screens.too_small import TooSmall

MIN_WIDTH = 80
MIN_HEIGHT = 24
SIGNAL_EXIT = 128
"""A process ended by signal N exits with 128 + N, as shells report it."""


def literal(text: str) -> str:
    """``text`` as Textual markup that shows exactly ``text``.

    Some Textual APIs take only markup (the command palette's titles and help). A lesson's
    titles and labels are plain text, and a ``[`` in them would be read as a tag: a style, an
    action, or a crash. A ``[`` after a backslash is never a tag, and the backslash goes.
    """
    return text.replace("[", "\\[")


WARM_UP_DELAY = 0.3
"""Seconds after start before the lessons are read and Celery imported in the background."""

FULL_GC_EVERY = 100
"""Middle-generation passes between full garbage collections (CPython's default: 10)."""


class TutorApp(App[int]):
    """The celery-tutor application."""

    # No app-wide stylesheet: each screen carries its own rules (the lesson list's are all the
    # first frame parses), and only theme variables, so every theme (and NO_COLOR) works.
    TITLE = "celery-tutor"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help"),
        Binding("f1", "help", "Help", show=False),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        entries: list[LessonEntry],
        load_course: Callable[[], Course],
        store: ProgressStore,
        loaded: LoadResult | None = None,
    ) -> None:
        super().__init__()
        self.entries = entries
        self._load_course = load_course
        self._course: Course | None = None
        self._course_lock = threading.Lock()
        self.store = store
        loaded = loaded or store.load()
        self.progress: Progress = loaded.progress
        self.notices: list[str] = [loaded.notice] if loaded.notice else []
        """What the learner must be told on start (files that could not be read, and where they went)."""
        self._saver_pool: ThreadPoolExecutor | None = None
        self._saver_lock = threading.Lock()
        self._too_small: TooSmall | None = None
        self._started = False
        self.handle_signals = False
        """Quit cleanly on SIGTERM and SIGHUP (set by :func:`run_app`; tests leave the test runner's alone)."""
        self.real_broker: RealBroker | None = None
        """``--broker URL``: the labs that fit it run on real worker processes (None: all in process)."""
        self.clock: Clock = wall_clock
        """The time for the review's due dates and the time spent in lessons (tests set a fixed one)."""

    @classmethod
    def for_course(cls, course: Course, store: ProgressStore, loaded: LoadResult | None = None) -> TutorApp:
        """An app over a course already in memory."""
        app = cls(course.entries(), lambda: course, store, loaded)
        app._course = course
        return app

    @property
    def _saver(self) -> ThreadPoolExecutor:
        """The one thread that writes the progress, in order (made at the first save, not at start)."""
        with self._saver_lock:  # one pool, whichever thread saves first: the writes stay in order
            if self._saver_pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._saver_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="celery-tutor-save")
            return self._saver_pool

    @property
    def course(self) -> Course:
        """The lessons themselves (read on first use when the list came from the index)."""
        with self._course_lock:
            if self._course is None:
                self._course = self._load_course()
            return self._course

    def _warm_up(self) -> None:
        # After the first paint: read the lessons and import Celery, so opening a lesson is quick.
        _ = self.course
        import celery_tutor.lab.engine  # noqa: F401

        # Everything so far lives as long as the app (modules, classes, lessons). Freezing it
        # keeps the garbage collector's full passes short: they were 70-90 ms pauses, long
        # enough to make a key press feel slow.
        gc.freeze()
        # With so little left unfrozen, CPython would run a full pass every few thousand
        # surviving objects, and a 1,000-task burst keeps that many alive for a moment: three
        # full passes of 30-70 ms in one burst. A full pass now waits for 100 middle-generation
        # passes (the default is 10); the younger passes stay as they were, a few ms each.
        young, middle, _full = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_GC_EVERY)

    def get_default_screen(self) -> Screen[None]:
        # The lesson list is the app's base screen: no blank screen is drawn before it.
        return LessonListScreen()

    def on_mount(self) -> None:
        if self.handle_signals:
            self._handle_signals()
        # The warm-up reads the lessons and imports Celery: started with the first paint it
        # took the GIL from it. It starts once the list is on screen (opening a lesson before
        # then reads the lessons at once).
        self.set_timer(
            WARM_UP_DELAY,
            lambda: threading.Thread(target=self._warm_up, name="celery-tutor-warm-up", daemon=True).start(),
        )
        for notice in self.notices:
            self.notify(notice, title="saved data", severity="warning", timeout=15)
        self._started = True
        self._check_size(self.size.width, self.size.height)

    def on_resize(self, event: Resize) -> None:
        if self._started:  # before mount, the first screen is not there yet
            self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        if small and self._too_small is None:
            from celery_tutor.ui.screens.too_small import TooSmall  # rarely needed: not imported at start

            self._too_small = TooSmall(MIN_WIDTH, MIN_HEIGHT)
            self.push_screen(self._too_small)
        if self._too_small is not None:
            if small:
                self._too_small.show_size(width, height)
            else:
                screen, self._too_small = self._too_small, None
                if self.screen is screen:
                    self.pop_screen()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Show a toast; its text is always plain (``markup`` is ignored).

        Notifications carry lesson titles, file names and error messages, any of which may
        hold ``[``; none of the app's own notifications uses markup.
        """
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def drop_passing_notices(self) -> None:
        """Take away the information toasts: they spoke of the screen the learner has left.

        A new lesson must not open under "That was the last step of this lesson". Warnings
        and errors (a save that failed, files moved aside) stay until their time is up.
        """
        kept = [notification for notification in self._notifications if notification.severity != "information"]
        if len(kept) == len(self._notifications):
            return
        self.clear_notifications()
        for notification in kept:
            self.post_message(Notify(notification))

    def save_progress(self) -> None:
        """Write the progress in the background, one write at a time, in order."""
        snapshot = copy.deepcopy(self.progress)
        self._saver.submit(self._save, snapshot)

    def _save(self, progress: Progress) -> None:
        try:
            self.store.save(progress)
        except OSError as exc:
            self.call_from_thread(self.notify, f"Could not save your progress: {exc}", severity="error")

    def open_lesson(self, lesson_id: str) -> None:
        """Open a lesson where the learner left it."""
        from celery_tutor.ui.screens.lesson import LessonScreen

        lesson = self.course.lesson(lesson_id)
        current = self.progress.peek(lesson.id).current
        self.push_screen(LessonScreen.for_lesson(lesson)(lesson, start_at=current))

    def lesson_ended(self, lesson_id: str, newly_complete: bool) -> None:
        """A lesson's end card was closed: the list under it moves on from that lesson when it shows again."""
        for screen in self.screen_stack:
            if isinstance(screen, LessonListScreen):
                screen.lesson_ended(lesson_id, newly_complete)

    def open_review(self) -> None:
        """Ask the missed questions that are due (or say when the next one is)."""
        from celery_tutor.course.review import due_questions
        from celery_tutor.course.scores import course_totals, time_until
        from celery_tutor.ui.screens.review import ReviewScreen

        now = self.clock()
        due = due_questions(self.course.lessons, self.progress, now)
        if due:
            self.push_screen(ReviewScreen(due))
            return
        later = course_totals(self.entries, self.progress, now).next_due
        if later is not None:
            self.notify(f"Nothing to review now: the next question comes back {time_until(later, now)}.")
        else:
            self.notify("Nothing to review: a question you answer wrong in a quiz comes back here.")

    def open_sandbox(self) -> None:
        """Open the free lab."""
        from celery_tutor.ui.screens.sandbox import SandboxScreen

        self.push_screen(SandboxScreen())

    async def action_quit(self) -> None:
        """Quit at once: kill every lab first, so no task keeps the process alive."""
        self._quit(0)

    def _quit(self, code: int) -> None:
        for screen in self.screen_stack:
            keep_code = getattr(screen, "keep_code", None)
            if keep_code is not None:
                keep_code()  # a code step's last keystrokes, not yet kept (the saver finishes on unmount)
            session = getattr(screen, "session", None)
            if session is not None:
                session.shutdown()
        self.exit(code)

    def _handle_signals(self) -> None:
        """SIGTERM and SIGHUP quit as ``q`` does, and the terminal is given back as it was.

        Their default action kills the process at once, leaving the terminal in the
        alternate screen with mouse tracking on, the labs unclosed and the last save
        unwritten. The loop runs the handler between callbacks, so the exit is orderly.
        """
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # no signals here
                loop.add_signal_handler(number, self._quit, SIGNAL_EXIT + number)

    def action_help(self) -> None:
        """Show every key (the help screen is built once, then reused)."""
        from celery_tutor.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            if not self.is_screen_installed("help"):
                self.install_screen(HelpScreen(), "help")
            self.push_screen("help")

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        lessons = [entry for entry in self.entries if not entry.broken]
        for number, entry in enumerate(lessons, 1):
            title = literal(f"Open lesson {number}: {entry.title}")
            yield SystemCommand(title, literal(entry.summary), lambda chosen=entry.id: self.open_lesson(chosen))
        yield SystemCommand("Open the sandbox", "a free lab with every control", self.open_sandbox)
        yield SystemCommand("Help", "every key, and what the lab panel shows", self.action_help)
        commands = getattr(screen, "palette_commands", None)
        if commands is not None:
            # The screens' commands carry lesson text (control labels): plain, so made literal.
            for title, help_text, callback in commands():
                yield SystemCommand(literal(title), literal(help_text), callback)

    def on_unmount(self) -> None:
        if self._saver_pool is not None:
            self._saver_pool.shutdown(wait=True)


def __getattr__(name: str) -> type[TooSmall]:
    """``TooSmall`` lived here; it is imported when first asked for (it is not needed to start)."""
    if name == "TooSmall":
        from celery_tutor.ui.screens.too_small import TooSmall

        return TooSmall
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_app(lessons: Path | None = None, data: Path | None = None) -> TutorApp:
    """The app with its course and progress store (the CLI and the benchmarks build it here).

    The lesson list comes from the index kept by the last run when the lesson files have
    not changed since; otherwise the lessons are read now and the index is written.
    """
    folder = lessons_dir(lessons)
    where = data_dir(data)
    files = lesson_files(folder)
    index = index_path(where, folder)

    def load() -> Course:
        from celery_tutor.course.lessons import load_course

        course = load_course([folder])
        write_index(index, files, course.entries())
        return course

    store = ProgressStore(where)
    notices: list[str] = []
    entries = read_index(index, files, on_broken=notices.append)
    app = TutorApp.for_course(load(), store) if entries is None else TutorApp(entries, load, store)
    app.notices.extend(notices)
    return app


def run_app(lessons: Path | None = None, data_dir: Path | None = None, real_broker: RealBroker | None = None) -> int:
    """Run the app until the learner quits; returns the exit code.

    After an unhandled exception Textual's ``run()`` returns None like a normal quit, having
    printed the traceback; its ``return_code`` (1) is what tells the two apart.
    """
    app = make_app(lessons, data_dir)
    app.real_broker = real_broker
    app.handle_signals = True
    result = app.run()
    return app.return_code or result or 0
