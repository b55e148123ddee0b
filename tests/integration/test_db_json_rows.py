"""Many rows as one JSON parameter (`JsonRows`) on the real database: every kind of value the
workers store arrives exactly as given, and what JSON cannot carry is refused, not altered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from schemas.common import Language, Priority
from services.kernel.db import JsonRows, UnstorableValue

pytestmark = pytest.mark.integration

COLUMNS = (
    "id int, label text, at timestamptz, day date, amount numeric, flag bool, big bigint,"
    " ratio float8, tags text[], doc jsonb, raw bytea"
)
ROWS = JsonRows("r", COLUMNS)


def tz(hours: int, minutes: int = 0, seconds: int = 0) -> timezone:
    sign = -1 if hours < 0 else 1
    return timezone(sign * timedelta(hours=abs(hours), minutes=minutes, seconds=seconds))


VALUES: list[tuple[Any, ...]] = [
    (
        1,
        "账单费用 «quoted» \"double\" 'single' back\\slash \\u0000 tab\tnew\nline 🚀",
        datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=tz(5, 45)),
        date(2026, 2, 28),
        Decimal("12345678901234567890.123456789012345678"),
        True,
        9_007_199_254_740_993,  # above 2**53: not a float on the way
        0.1,
        ["帳單", 'a "quoted", comma', "back\\slash", "", "{braces}", "NULL"],
        {"zh": "投诉", "nested": {"list": [1, 2.5, None, True, "x"]}, "empty": {}, "n": 1e-7},
        b"\x00\xffbinary\x7f",
    ),
    (
        2,
        "",
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=tz(-3, 30)),
        date(1999, 1, 1),
        Decimal("-0.000000000000000000000001"),
        False,
        -1,
        -1.5e300,
        [],
        [1, "two", {"three": 3}],
        b"",
    ),
    (3, None, None, None, None, None, None, None, None, None, None),
    (
        4,
        Priority.P1,
        datetime(1950, 6, 1, 0, 0, tzinfo=tz(5, 45, 30)),  # a zone's old offset, to the second
        date(2026, 3, 1),
        Decimal("1E+3"),
        True,
        0,
        5e-324,
        [Language.ZH_HANS],
        "a JSON string",
        bytes(range(256)),
    ),
    (
        5,
        "x",
        datetime(2026, 3, 1, tzinfo=tz(14)),
        None,
        Decimal(0),
        None,
        None,
        0.0,
        None,
        {},
        None,
    ),
]


@pytest.fixture
def conn(cf) -> Iterator[psycopg.Connection]:
    with psycopg.connect(cf.database_url) as conn:
        conn.execute(f"CREATE TABLE t ({COLUMNS})")
        conn.execute(f"CREATE TABLE u ({COLUMNS})")
        yield conn


def test_every_kind_of_value_arrives_exactly_as_given(conn):
    # When the rows go in as one JSON parameter
    conn.execute(f"INSERT INTO t SELECT * FROM {ROWS}", (ROWS.param(VALUES),))
    # Then each value reads back equal to what was given (times the same instant, to the
    # microsecond; enums as their values; NULL as None)
    got = conn.execute("SELECT * FROM t ORDER BY id").fetchall()
    assert len(got) == len(VALUES)
    for row, given in zip(got, VALUES, strict=True):
        expected = tuple(v.value if isinstance(v, Priority) else v for v in given[:8]) + (
            None if given[8] is None else [getattr(t, "value", t) for t in given[8]],
            given[9],
            given[10],
        )
        assert row == expected
    # And the instants are those of their offsets, seconds of offset too
    assert got[0][2] == datetime(2026, 3, 1, 3, 45, 15, 123456, tzinfo=UTC)
    assert got[3][2] == datetime(1950, 5, 31, 18, 14, 30, tzinfo=UTC)
    assert got[1][4] == Decimal("-0.000000000000000000000001")
    assert str(got[0][4]) == "12345678901234567890.123456789012345678"


def test_the_table_is_as_parallel_arrays_would_have_made_it(conn):
    # Given the same rows written the way the statements wrote them before: one array per column
    columns = list(zip(*VALUES, strict=True))
    conn.execute(
        "INSERT INTO u SELECT a, b, c, d, e, f, g, h, i::text[], j, k FROM unnest(%s::int[],"
        " %s::text[], %s::timestamptz[], %s::date[], %s::numeric[], %s::bool[], %s::bigint[],"
        " %s::float8[], %s::text[], %s::jsonb[], %s::bytea[]) AS x(a, b, c, d, e, f, g, h, i,"
        " j, k)",
        [
            list(columns[0]),
            [getattr(v, "value", v) for v in columns[1]],
            *map(list, columns[2:8]),
            # unnest cannot take an array of arrays: one text[] per row, as a text literal
            [
                None if v is None else _text_array([getattr(t, "value", t) for t in v])
                for v in columns[8]
            ],
            [None if v is None else psycopg.types.json.Jsonb(v) for v in columns[9]],
            list(columns[10]),
        ],
    )
    # When they are written as JSON rows
    conn.execute(f"INSERT INTO t SELECT * FROM {ROWS}", (ROWS.param(VALUES),))
    # Then the two tables hold the same, to the text of every value
    as_text = "SELECT id, {t}::text FROM {t} ORDER BY id"
    assert (
        conn.execute(as_text.format(t="t")).fetchall()
        == conn.execute(as_text.format(t="u")).fetchall()
    )


def _text_array(items: list[str]) -> str:
    quoted = (s.replace("\\", "\\\\").replace('"', '\\"') for s in items)
    return "{" + ",".join(f'"{s}"' for s in quoted) + "}"


def test_no_rows_is_an_empty_set(conn):
    assert conn.execute(f"SELECT count(*) FROM {ROWS}", (ROWS.param([]),)).fetchone() == (0,)


@pytest.mark.parametrize(
    ("value", "column", "says"),
    [
        (float("nan"), 7, r"row 1, column ratio is nan: JSON has no NaN or Infinity"),
        (float("-inf"), 7, r"row 1, column ratio is -inf"),
        (Decimal("NaN"), 4, r"row 1, column amount is Decimal\('NaN'\)"),
        (Decimal("Infinity"), 4, r"row 1, column amount is Decimal\('Infinity'\)"),
        ({"a": [1, float("inf")]}, 9, r"row 1, column doc\['a'\]\[1\] is inf"),
        ("before\x00after", 1, r"row 1, column label holds the NUL character"),
        (["ok", "n\x00l"], 8, r"row 1, column tags\[1\] holds the NUL character"),
        ({"k\x00": 1}, 9, r"a key in row 1, column doc holds the NUL character"),
        (datetime(2026, 3, 1, 9, 0), 2, r"row 1, column at is a datetime without a time zone"),
    ],
)
def test_what_json_cannot_carry_is_refused_with_where_it_is(value, column, says):
    # Given a good row and one with a value PostgreSQL would not get back unchanged
    bad = list(VALUES[4])
    bad[column] = value
    # When the rows are made JSON, then it is refused, naming the row and column
    with pytest.raises(UnstorableValue, match=says):
        ROWS.param([VALUES[0], bad])


def test_a_value_of_no_agreed_form_and_a_short_row_are_refused():
    with pytest.raises(UnstorableValue, match="no JSON form agreed for timedelta"):
        ROWS.param([(1, timedelta(seconds=1), *VALUES[2][2:])])
    with pytest.raises(ValueError, match="shorter"):
        ROWS.param([(1, "too few")])
    with pytest.raises(ValueError, match="columns must read 'name type, ...'"):
        JsonRows("r", "id int, label")
