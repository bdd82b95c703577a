"""YAML is read safely, positions survive, and hostile documents fail cleanly."""

from __future__ import annotations

import pytest

from celery_tutor.yaml_source import Pos, YamlSourceError, parse_yaml


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
