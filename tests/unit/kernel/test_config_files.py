"""The config-file loader: every YAML file's errors name the file, the line, the owner, the key
and what was expected, all of them at once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from services.kernel.config_files import Label, Problem, load_model, problems_error
from services.kernel.errors import ConfigError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target(Strict):
    within: str
    calendar: str | None = None


class Item(Strict):
    name: str
    size: int = Field(ge=0)
    tags: list[str] = []
    targets: dict[str, Target] = {}
    again: bool = Field(False, alias="continue")


class Doc(Strict):
    version: int
    items: list[Item]
    extra: dict[str, list[Item]] = {}


LABELS = {"items": Label("item", "name")}

GOOD = """\
version: 1
items:
  - name: first
    size: 1
    targets:
      resolve:
        within: 4h
  - {name: second, size: 2, tags: [a, b]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def error_of(path: Path, **kwargs) -> str:
    with pytest.raises(ConfigError) as err:
        load_model(path, Doc, labels=LABELS, **kwargs)
    return str(err.value)


def test_a_good_file_loads_into_the_model(tmp_path):
    doc = load_model(write(tmp_path, GOOD.replace("size: 1", "size: 1\n    continue: true")), Doc)
    assert [i.name for i in doc.items] == ["first", "second"]
    assert doc.items[0].again is True
    assert doc.items[0].targets["resolve"].within == "4h"


@pytest.mark.parametrize(
    ("old", "new", "where", "first", "second"),
    [
        # top level
        ("version: 1\n", "version: 1\nversion: 2\n", "key version", "version: 1", "version: 2"),
        # inside a labelled list item
        (
            "    size: 1\n",
            "    size: 1\n    size: 3\n",
            "item #1 'first': key size",
            "size: 1",
            "size: 3",
        ),
        # three levels down, in a block mapping
        (
            "        within: 4h\n",
            "        within: 4h\n        within: 5h\n",
            "item #1 'first': key targets.resolve.within",
            "within: 4h",
            "within: 5h",
        ),
        # in a flow mapping
        (
            "tags: [a, b]}",
            "tags: [a, b], size: 9}",
            "item #2 'second': key size",
            "size: 2",
            "size: 9",
        ),
    ],
)
def test_a_duplicate_key_at_any_depth_is_refused_at_the_line_of_the_second(
    tmp_path, old, new, where, first, second
):
    # Given a file where one key appears twice
    path = write(tmp_path, GOOD.replace(old, new, 1))
    # When it is loaded
    message = error_of(path)
    # Then the error is at the second, and says where the first is
    assert message == (
        f"{path}:{line_of(path, second)}: {where}: duplicate key "
        f"(first on line {line_of(path, first)})"
    )


def test_every_duplicate_key_is_reported(tmp_path):
    path = write(tmp_path, "version: 1\nversion: 1\nitems: []\nitems: []\n")
    message = error_of(path)
    assert message.splitlines() == [
        f"{path}: 2 problems",
        f"  {path}:2: key version: duplicate key (first on line 1)",
        f"  {path}:4: key items: duplicate key (first on line 3)",
    ]


def test_keys_of_different_mappings_are_not_duplicates(tmp_path):
    text = GOOD.replace("tags: [a, b]}", "tags: [a, b], targets: {resolve: {within: 1h}}}")
    assert load_model(write(tmp_path, text), Doc).items[1].targets["resolve"].within == "1h"


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        (
            "        within: 4h\n",
            "        within: 4h\n        calendr: x\n",
            "calendr",
            "item #1 'first': key targets.resolve.calendr: unknown key: expected one of "
            "within, calendar",
        ),
        (
            "    size: 1\n",
            "    size: 1\n    colour: red\n",
            "colour",
            "item #1 'first': key colour: unknown key: expected one of name, size, tags, "
            "targets, continue",
        ),
        (
            "version: 1\n",
            "version: 1\nitem: []\n",
            "item: []",
            "key item: unknown key: expected one of version, items, extra",
        ),
        (
            "version: 1\n",
            "version: 1\nextra:\n  more:\n    - {name: x, size: 1, sise: 2}\n",
            "sise",
            "key extra.more[0].sise: unknown key: expected one of name, size, tags, targets, "
            "continue",
        ),
    ],
)
def test_an_unknown_key_lists_the_keys_allowed_there(tmp_path, old, new, needle, expected):
    path = write(tmp_path, GOOD.replace(old, new, 1))
    assert error_of(path) == f"{path}:{line_of(path, needle)}: {expected}"


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        (
            "        within: 4h\n",
            "        within: [4h]\n",
            "within: [4h]",
            "item #1 'first': key targets.resolve.within: expected a valid string",
        ),
        (
            "        within: 4h\n",
            "        calendar: office\n",
            "resolve:",  # a missing key is placed on its mapping's key
            "item #1 'first': key targets.resolve.within: required key is missing",
        ),
        (
            "tags: [a, b]}",
            "tags: [a, 7]}",
            "tags: [a, 7]",
            "item #2 'second': key tags[1]: expected a valid string (got 7)",
        ),
        (
            "  - {name: second, size: 2,",
            "  - {size: 2,",
            "{size: 2,",
            "item #2: key name: required key is missing",
        ),
    ],
)
def test_nested_problems_name_the_line_of_their_key(tmp_path, old, new, needle, expected):
    path = write(tmp_path, GOOD.replace(old, new, 1))
    assert error_of(path) == f"{path}:{line_of(path, needle)}: {expected}"


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    # Given three mistakes in different places
    text = GOOD.replace("version: 1", "version: one").replace("size: 1", "size: -1")
    path = write(tmp_path, text.replace("size: 2", "size: 2, sise: 3"))
    # When it is loaded, Then one error lists all three, each with its line
    assert error_of(path).splitlines() == [
        f"{path}: 3 problems",
        f"  {path}:1: key version: expected a valid integer, unable to parse string as an "
        "integer (got 'one')",
        f"  {path}:4: item #1 'first': key size: expected greater than or equal to 0 (got -1)",
        f"  {path}:8: item #2 'second': key sise: unknown key: expected one of name, size, "
        "tags, targets, continue",
    ]


def test_problems_of_a_check_are_formatted_like_the_others(tmp_path):
    # Given a check that finds what a schema cannot see
    def check(doc: Doc) -> list[Problem]:
        return [(("items", 1, "tags", 1), "unknown tag 'b'"), (("version",), "too old")]

    path = write(tmp_path, GOOD)
    assert error_of(path, check=check).splitlines() == [
        f"{path}: 2 problems",
        f"  {path}:8: item #2 'second': key tags[1]: unknown tag 'b'",
        f"  {path}:1: key version: too old",
    ]


def test_problems_found_later_are_formatted_the_same_way(tmp_path):
    path = write(tmp_path, GOOD)
    error = problems_error(path, [(("items", 0, "targets", "resolve"), "no such")], labels=LABELS)
    assert str(error) == f"{path}:6: item #1 'first': key targets.resolve: no such"


def test_a_problem_where_the_file_has_no_key_names_the_nearest_line(tmp_path):
    path = write(tmp_path, GOOD)
    error = problems_error(path, [(("items", 0, "size", "deeper"), "odd")], labels=LABELS)
    assert str(error) == f"{path}:4: item #1 'first': key size.deeper: odd"


def test_an_unreadable_file_is_named(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as err:
        load_model(missing, Doc)
    assert str(err.value) == f"{missing}: cannot read the file: No such file or directory"


def test_a_file_that_is_not_text_is_named(tmp_path):
    path = tmp_path / "conf.yaml"
    path.write_bytes(b"version: \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read the file: not UTF-8 text") as err:
        load_model(path, Doc)
    assert str(err.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        (
            "version: 1\nitems: [\n  {name: a, size: 1}\n",
            4,
            "not valid YAML: while parsing a flow sequence, expected ',' or ']', but got "
            "'<stream end>'",
        ),
        (
            "version: 1\nitems:\n  - name: a\n   size: 1\n",
            4,
            "not valid YAML: while parsing a block collection, expected <block end>, but found "
            "'<block mapping start>'",
        ),
        (
            "version: 1\nitems: *nowhere\n",
            2,
            "not valid YAML: found undefined alias 'nowhere'",
        ),
        (
            "version: 1\nitems: []\n---\nversion: 2\n",
            3,
            "not valid YAML: expected a single document in the stream, but found another document",
        ),
    ],
)
def test_invalid_yaml_names_the_line(tmp_path, text, line, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_model(path, Doc)
    assert str(err.value) == f"{path}:{line}: {expected}"


def test_a_date_yaml_cannot_construct_is_an_error_not_a_crash(tmp_path):
    path = write(tmp_path, "version: 1\nitems: []\nwhen: 2025-02-30\n")
    with pytest.raises(ConfigError, match="not valid YAML: day is out of range") as err:
        load_model(path, Doc)
    assert str(err.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- list\n", ":1: expected a mapping of keys at the top, got list"),
        ("", ": expected a mapping of keys at the top, got nothing"),
        ("# only a comment\n", ": expected a mapping of keys at the top, got nothing"),
    ],
)
def test_the_top_must_be_a_mapping(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_model(path, Doc)
    assert str(err.value) == f"{path}{expected}"


def test_a_key_that_is_not_text_is_shown_as_written(tmp_path):
    # Given a date key and a number key, as calendars and mappings may have
    class Days(Strict):
        days: dict[date, int]
        names: dict[str, int] = {}

    path = write(tmp_path, "days:\n  2026-03-21: many\nnames:\n  7: 1\n")
    with pytest.raises(ConfigError) as err:
        load_model(path, Days)
    # Then the key path shows them as the file does, on their own lines
    assert str(err.value).splitlines()[1:] == [
        f"  {path}:2: key days.2026-03-21: expected a valid integer, unable to parse string as an "
        "integer (got 'many')",
        f"  {path}:4: key names.7: expected a valid string (got 7)",
    ]


def test_an_anchor_used_twice_is_not_a_duplicate(tmp_path):
    text = "version: 1\nitems:\n  - &one {name: a, size: 1}\n  - *one\n"
    assert [i.name for i in load_model(write(tmp_path, text), Doc).items] == ["a", "a"]


def test_a_control_character_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, "version: 1\nitems: []\nname: a\x15b\n")
    with pytest.raises(ConfigError) as err:
        load_model(path, Doc)
    assert str(err.value) == (
        f"{path}:3: not valid YAML: character U+0015 is not allowed (a control character)"
    )
