"""YAML is read safely, positions survive, and hostile documents fail cleanly."""

from __future__ import annotations

import os
import re
import threading
import tracemalloc
from pathlib import Path

import pytest
import yaml

from celery_tutor import yaml_source
from celery_tutor.yaml_source import MAX_BYTES, Pos, YamlSourceError, parse_yaml, read_text


def test_values_keep_their_line_and_column() -> None:
    root, problems = parse_yaml("a: 1\nb:\n  - x\n  - {c: true}\n", "f.yaml")
    assert problems == []
    assert root is not None and root.is_map
    assert root.key_pos["b"] == Pos(2, 1)
    b = root.value["b"]
    assert b.is_list and b.value[1].pos == Pos(4, 5)
    assert b.value[1].value["c"].value is True
    assert root.plain() == {"a": 1, "b": ["x", {"c": True}]}


def test_an_empty_document_is_none() -> None:
    assert parse_yaml("", "f.yaml") == (None, [])


def test_duplicate_keys_are_problems_not_silent_overwrites() -> None:
    root, problems = parse_yaml("a: 1\na: 2\n", "f.yaml")
    assert root is not None and root.plain() == {"a": 1}
    assert [str(p) for p in problems] == ["f.yaml:2:1: duplicate key 'a'"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!python/object/apply:os.system ['true']\n", "unsupported tag"),
        ("a: !custom 3\n", "unsupported tag"),
        ("a: [1, 2\n", "invalid YAML"),
        ("? [1, 2]\n: x\n", "keys must be text"),
        ("base: &b {x: 1}\nchild:\n  <<: *b\n", "merge keys (<<) are not supported"),
    ],
)
def test_unsafe_or_broken_yaml_raises_with_a_position(text: str, message: str) -> None:
    with pytest.raises(YamlSourceError) as caught:
        parse_yaml(text, "f.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("f.yaml:")


def test_an_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(YamlSourceError, match="too large"):
        parse_yaml("\n".join(lines) + "\n", "bomb.yaml")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("w") as out:
        out.write("# padding\n" * (MAX_BYTES // 10 + 1))
    with pytest.raises(YamlSourceError) as caught:
        read_text(big, "lesson")
    message = str(caught.value)
    assert message.startswith(f"{big}:1:1: ")
    assert "1 MiB" in message and "lesson" in message
    assert "\n" not in message


def test_a_file_just_under_the_limit_is_read(tmp_path: Path) -> None:
    fine = tmp_path / "fine.yaml"
    fine.write_text("a: 1\n" + "#" * (MAX_BYTES - 6) + "\n")
    assert len(read_text(fine, "lesson")) == MAX_BYTES


def test_a_stream_of_unknown_size_is_cut_at_the_limit(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)

    def write() -> None:
        try:
            with fifo.open("w") as out:
                for _ in range(2 * MAX_BYTES // 10):
                    out.write("# padding\n")
        except BrokenPipeError:  # the reader stopped at the limit, as it should
            pass

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with pytest.raises(YamlSourceError, match="1 MiB"):
            read_text(fifo, "script")
    finally:
        writer.join(30)
    assert not writer.is_alive()


def test_text_over_the_size_limit_is_refused_by_the_parser_too() -> None:
    with pytest.raises(YamlSourceError, match="1 MiB"):
        parse_yaml("#" * (MAX_BYTES + 1), "big.yaml")


def test_a_document_with_too_many_values_stops_while_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_source, "MAX_NODES", 10_000)  # a lower limit: the same code, quicker
    text = "[" + "1," * 400_000 + "1]"  # 800 kB, under the size limit
    tracemalloc.start()
    try:
        with pytest.raises(YamlSourceError, match="too large") as caught:
            parse_yaml(text, "wide.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.problem.pos.line == 1
    assert caught.value.problem.pos.col < 20_010  # the value after the limit
    # Composing all 400,001 values first took ~130 MB here; stopping at the limit takes a fraction.
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MB"


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "{a: " * 100_000,
        "".join(" " * depth + "- \n" for depth in range(1_000)),
        "".join(" " * depth + "a:\n" for depth in range(1_000)),
        "a: &a [*a]\n",
    ],
    ids=["flow-lists", "flow-maps", "block-lists", "block-maps", "self-alias"],
)
def test_deep_nesting_is_a_placed_problem_not_a_recursion_error(text: str) -> None:
    with pytest.raises(YamlSourceError) as caught:
        parse_yaml(text, "deep.yaml")
    assert re.fullmatch(r"deep\.yaml:\d+:\d+: [^\n]+", str(caught.value))


def test_the_pure_python_loader_gives_the_same_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_source, "SafeLoader", yaml.SafeLoader)
    monkeypatch.setattr(yaml_source, "MAX_NODES", 1_000)
    with pytest.raises(YamlSourceError, match="too large"):
        parse_yaml("[" + "1," * 1_001 + "1]", "wide.yaml")
    with pytest.raises(YamlSourceError, match="nested"):
        parse_yaml("- " * 5_000 + "x\n", "deep.yaml")
    root, problems = parse_yaml("a: &x [1, 2]\nb: *x\n", "ok.yaml")
    assert root is not None and root.plain() == {"a": [1, 2], "b": [1, 2]} and problems == []
