"""Fuzzing the lesson loader: whatever the text, it returns a Lesson or raises LessonError with placed problems."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celery_tutor import yaml_source
from celery_tutor.course.loader import LessonError, parse_lesson
from celery_tutor.course.model import Lesson
from celery_tutor.lab.actions import CONTROL_NAMES, TASK_STATES
from celery_tutor.lab.events import EVENT_KINDS
from celery_tutor.lab.library import LAB_TASKS, all_checkpoints
from celery_tutor.lab.settings import EXCEPTIONS, SETTINGS, TASK_OPTIONS

ROOT = Path(__file__).parents[2]
LESSON = ROOT / "lessons" / "01-acknowledgement.yaml"
ORIGINAL: dict[str, Any] = yaml.safe_load(LESSON.read_text(encoding="utf-8"))

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip

DocPath = tuple[str | int, ...]


YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def check_parse(text: str) -> Lesson | None:
    """Parse; anything but a Lesson or a LessonError whose problems are placed in the file fails the test."""
    try:
        return parse_lesson(text, "fuzz.yaml")
    except LessonError as exc:
        assert exc.problems, "a LessonError without problems"
        # libyaml puts the end of a file without a final newline on the line after the last one
        last_line = len(YAML_LINE_BREAK.findall(text)) + 2
        for problem in exc.problems:
            assert problem.path == "fuzz.yaml"
            assert problem.pos.line >= 1 and problem.pos.col >= 1, problem
            assert problem.pos.line <= last_line, (problem, last_line)
            assert problem.message.strip(), problem
            assert "\n" not in problem.message, problem  # check prints one problem per line
            assert re.fullmatch(r"fuzz\.yaml:\d+:\d+: .+", str(problem)), problem
        return None


# --- vocabulary: the words lessons use, so that random documents reach deep into the loader ------

KEY_WORDS = sorted(
    {
        "schema", "id", "title", "summary", "minutes", "concepts", "lab", "controls", "steps",
        "settings", "task_options", "workers", "tasks", "key", "label", "toggle",
        "read", "predict", "quiz", "question", "choices", "text", "correct", "feedback", "experiment", "expect",
        "explain", "body", "goal", "hints", "solution", "setup",
        "single", "multiple", "true_false", "numeric", "ordering", "answer", "tolerance", "unit",
        "wrong_answers", "value", "measure", "count", "retry_countdown", "retry", "items", "if_true", "if_false",
        "event", "task", "where", "state", "is", "ledger", "action", "sequence", "setting", "not", "min", "max",
        "args", "kwargs", "as", "countdown", "times", "exc", "at", "worker", "seconds", "until", "timeout",
        *CONTROL_NAMES, *SETTINGS, *TASK_OPTIONS,
    }
)  # fmt: skip
VALUE_WORDS = sorted(
    {*LAB_TASKS, *all_checkpoints(), *EVENT_KINDS, *TASK_STATES, *EXCEPTIONS, "report", "report-1", "q", "s", "-"}
)

keys = st.one_of(st.sampled_from(KEY_WORDS), st.text(max_size=8))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(VALUE_WORDS),
    st.sampled_from(KEY_WORDS),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)
lesson_shaped = st.fixed_dictionaries(
    {},
    optional={
        "schema": st.one_of(st.just(1), scalars),
        "id": st.one_of(st.just("fuzz"), scalars),
        "title": scalars,
        "summary": scalars,
        "minutes": st.one_of(st.integers(0, 200), scalars),
        "lab": values,
        "controls": st.lists(st.dictionaries(keys, values, max_size=4), max_size=3),
        "steps": st.lists(st.dictionaries(keys, values, max_size=4), max_size=3),
        "concepts": values,
    },
)

characters = st.characters(codec="utf-8")
"""Any character a file can hold (no lone surrogates), those YAML forbids included."""
YAML_TOKENS = [
    "\n", "  ", "- ", ": ", ":", "? ", "{", "}", "[", "]", ",", "#", "'", '"', "|", ">", "&a ", "*a", "<<: ",
    "!!str ", "!!null ", "!!map ", "!!seq ", "!!python/object:os.system ", "!x ", "%YAML 1.1\n", "---\n", "...\n",
    "!!int ", "!!float ", "!!bool ", "!!binary ", "!!timestamp ", "\t", "\\", "~", "null", "true", "yes", "1", "-1",
    "0x1f", "1e3", ".nan", "2024-01-01", "=", "\x00", "\x85", "\ufeff", *KEY_WORDS[:40],
]  # fmt: skip
"""YAML syntax pieces (explicit tags and forbidden characters included) and lesson words."""
yamlish_text = st.lists(st.one_of(st.sampled_from(YAML_TOKENS), st.text(characters, max_size=3)), max_size=40).map(
    "".join
)


# --- (a) arbitrary text and documents ---------------------------------------------------------


@FUZZ
@given(st.text(characters, max_size=200))
def test_arbitrary_text_is_a_lesson_or_a_lesson_error(text: str) -> None:
    check_parse(text)


@FUZZ
@given(yamlish_text)
def test_yaml_like_text_is_a_lesson_or_a_lesson_error(text: str) -> None:
    check_parse(text)


@FUZZ
@given(st.one_of(values, lesson_shaped))
def test_arbitrary_documents_are_a_lesson_or_a_lesson_error(document: Any) -> None:
    check_parse(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


# --- (b) mutations of a real lesson -------------------------------------------------------------


def all_paths(node: Any, prefix: DocPath = ()) -> list[DocPath]:
    """The path of every value in a document, the root included."""
    paths = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            paths.extend(all_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            paths.extend(all_paths(child, (*prefix, index)))
    return paths


def at(document: Any, path: DocPath) -> Any:
    for step in path:
        document = document[step]
    return document


def put(document: Any, path: DocPath, value: Any) -> Any:
    """The document with the value at ``path`` replaced (the root too)."""
    if not path:
        return value
    at(document, path[:-1])[path[-1]] = value
    return document


def change_type(value: Any) -> Any:
    """The same content in another YAML type."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return len(value) if value else None
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def mutate(data: st.DataObject, document: Any) -> Any:
    """One random mutation: delete, replace, duplicate, rename or change a type, somewhere."""
    operation = data.draw(st.sampled_from(["delete", "replace", "duplicate", "rename", "retype"]))
    paths = all_paths(document)
    if operation == "delete":
        candidates = [p for p in paths if p and isinstance(at(document, p[:-1]), dict | list)]
        if candidates:
            path = data.draw(st.sampled_from(candidates))
            del at(document, path[:-1])[path[-1]]
    elif operation == "replace":
        path = data.draw(st.sampled_from(paths))
        document = put(document, path, data.draw(values))
    elif operation == "duplicate":
        lists = [p for p in paths if isinstance(at(document, p), list) and at(document, p)]
        if lists:
            items = at(document, data.draw(st.sampled_from(lists)))
            item = copy.deepcopy(data.draw(st.sampled_from(items)))
            items.insert(data.draw(st.integers(0, len(items))), item)
    elif operation == "rename":
        keyed = [p for p in paths if p and isinstance(at(document, p[:-1]), dict)]
        if keyed:
            path = data.draw(st.sampled_from(keyed))
            parent = at(document, path[:-1])
            new = data.draw(keys)
            renamed = {(new if key == path[-1] else key): value for key, value in parent.items()}
            parent.clear()
            parent.update(renamed)
    else:
        path = data.draw(st.sampled_from(paths))
        document = put(document, path, change_type(at(document, path)))
    return document


@FUZZ
@given(st.data())
def test_mutated_lessons_are_a_lesson_or_a_lesson_error(data: st.DataObject) -> None:
    document = copy.deepcopy(ORIGINAL)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        document = mutate(data, document)
    check_parse(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


def test_the_unmutated_lesson_loads() -> None:
    assert isinstance(check_parse(yaml.safe_dump(ORIGINAL, allow_unicode=True, sort_keys=False)), Lesson)


# --- hostile documents ---------------------------------------------------------------------------

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


HOSTILE = {
    "alias-bomb": ALIAS_BOMB,
    "recursive-alias": "a: &a [*a]\n",
    "deep-flow": "[" * 5000 + "]" * 5000,
    "deep-block": "- " * 3000 + "x\n",
    "deep-mappings": "{a: " * 500 + "1" + "}" * 500,
}


@pytest.mark.parametrize(
    ("loader", "name"),
    [
        *[pytest.param("libyaml", name, id=f"libyaml-{name}") for name in HOSTILE],
        *[pytest.param("pure", name, id=f"pure-{name}") for name in HOSTILE],
    ],
)
def test_hostile_documents_are_a_lesson_error(loader: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if loader == "libyaml":
        if not yaml.__with_libyaml__:
            pytest.skip("PyYAML is built without libyaml")
        monkeypatch.setattr(yaml_source, "SafeLoader", yaml.CSafeLoader, raising=False)
    else:
        monkeypatch.setattr(yaml_source, "SafeLoader", yaml.SafeLoader, raising=False)
    assert check_parse(HOSTILE[name]) is None


# --- crashes found by fuzzing (at 6fd3ddd; fixed since in yaml_source.py): minimal inputs -------


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [("\x00", 1, 1), ("a: \x07\n", 1, 4), ("a: b\n\x7f", 2, 1), ("\ufffe", 1, 1)],
    ids=["nul", "bell", "del", "ufffe"],
)
def test_characters_yaml_forbids_are_a_lesson_error_where_they_are(text: str, line: int, col: int) -> None:
    """Was: yaml.reader.ReaderError escaped (the pure reader checks characters as the loader is created)."""
    with pytest.raises(LessonError) as caught:
        parse_lesson(text, "fuzz.yaml")
    assert [(p.pos.line, p.pos.col) for p in caught.value.problems] == [(line, col)]


@pytest.mark.parametrize(
    "text", ["a: !!int x\n", "a: !!int ''\n", "a: !!float x\n", "a: !!float ''\n", "a: !!bool x\n", "a: !!int 0x\n"]
)
def test_explicit_tags_with_bad_values_are_a_lesson_error(text: str) -> None:
    """Was: ValueError, KeyError or IndexError from PyYAML's constructors escaped."""
    with pytest.raises(LessonError) as caught:
        parse_lesson(text, "fuzz.yaml")
    assert [(p.pos.line, p.pos.col) for p in caught.value.problems] == [(1, 4)]


def test_an_invalid_step_id_does_not_break_the_messages_of_its_step() -> None:
    text = (ROOT / "tests" / "data" / "lessons" / "bad" / "step-id-not-an-id.yaml").read_text(encoding="utf-8")
    check_parse(text.replace("  - id: Try it\n", '  - id: "try\\nit"\n').replace("hints: [Press s.]", "hints: []"))
