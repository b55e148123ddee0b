"""Converting CFPB and mapped CSV exports into raw events."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest

from schemas.raw import NewComplaint
from services.intake.importers import cfpb, mapping
from services.intake.validate import parse
from services.kernel.errors import ConfigError

COLUMNS_18 = [
    "Date received",
    "Product",
    "Sub-product",
    "Issue",
    "Sub-issue",
    "Consumer complaint narrative",
    "Company public response",
    "Company",
    "State",
    "ZIP code",
    "Tags",
    "Consumer consent provided?",
    "Submitted via",
    "Date sent to company",
    "Company response to consumer",
    "Timely response?",
    "Consumer disputed?",
    "Complaint ID",
]
COLUMNS_16 = [c for c in COLUMNS_18 if c not in ("Consumer disputed?", "Company public response")]
NOW = datetime(2026, 11, 24, tzinfo=UTC)


def rows(columns: list[str], *values: list[str]) -> list[dict[str, str]]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    writer.writerows(values)
    return list(csv.DictReader(io.StringIO(buf.getvalue(), newline="")))


def row18(**over: str) -> list[str]:
    base = dict(
        zip(
            COLUMNS_18,
            [
                "2024-03-15",
                "Debt collection",
                "I do not know",
                "Attempts to collect debt not owed",
                "Debt was paid",
                "They keep calling me.\nEven at night, about a debt I paid.",
                "None",
                "ACME CORP",
                "TX",
                "787XX",
                "Servicemember",
                "Consent provided",
                "Web",
                "2024-03-16",
                "Closed with explanation",
                "Yes",
                "N/A",
                "8812345",
            ],
            strict=True,
        )
    )
    base.update(over)
    return [base[c] for c in COLUMNS_18]


def test_an_18_column_row_becomes_a_valid_new_complaint_and_a_closure():
    (row,) = rows(COLUMNS_18, row18())
    new, closed = cfpb.events(row)
    parsed = parse(json.dumps(new).encode(), now=NOW)
    assert parsed.type == "complaint.new" and parsed.complaint_ref == "8812345"
    assert parsed.category == "Debt collection"
    assert parsed.sub_category == "Attempts to collect debt not owed"
    assert "Even at night" in parsed.description  # the quoted multi-line narrative survived
    assert parse(json.dumps(closed).encode(), now=NOW).status == "closed"
    assert new["event_id"] == "8812345-new" and closed["event_id"] == "8812345-closed"


def test_the_16_column_variant_and_missing_values():
    values = dict(
        zip(
            COLUMNS_18,
            row18(
                **{
                    "Consumer complaint narrative": "",
                    "Sub-product": "None",
                    "Company response to consumer": "In progress",
                    "Submitted via": "Referral",
                }
            ),
            strict=True,
        )
    )
    (row,) = rows(COLUMNS_16, [values[c] for c in COLUMNS_16])
    cfpb.check_header(list(row))
    (new,) = cfpb.events(row)
    assert new["product"] is None
    assert new["description"] == "Attempts to collect debt not owed — Debt was paid"
    assert new["channel"] == "regulator"
    parse(json.dumps(new).encode(), now=NOW)


def test_a_file_that_is_not_a_cfpb_export_is_refused_by_name():
    with pytest.raises(ValueError, match="Complaint ID"):
        cfpb.check_header(["Date received", "Product"])


def test_mapping_turns_any_export_into_events(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(
        "source: acme-cc\ntime_format: '%d/%m/%Y %H:%M'\ntime_zone: Europe/London\n"
        "columns:\n  complaint_ref: Ticket\n  occurred_at: Opened\n  description: Text\n"
        "  customer.phone: Phone\ndefaults:\n  channel: phone\n  language: en\n"
    )
    rules = mapping.load(path)
    (event,) = mapping.events(
        rules,
        {
            "Ticket": "T-9",
            "Opened": "15/07/2026 09:30",
            "Text": "Router broken",
            "Phone": "07700 900123",
        },
    )
    parsed = parse(json.dumps(event).encode(), now=NOW)
    assert parsed.occurred_at.utcoffset().total_seconds() == 3600  # British summer time
    assert parsed.customer.phone == "07700 900123"
    assert event["event_id"] == "T-9-new"


def test_mapping_joins_several_columns_into_the_place(tmp_path):
    # Given a mapping that makes the place from street, city and ZIP columns
    path = tmp_path / "map.yaml"
    path.write_text(
        "source: acme-cc\ncolumns:\n  complaint_ref: Ticket\n  occurred_at: Opened\n"
        "  description: Text\n  place: [Street, City, ZIP]\n"
    )
    rules = mapping.load(path)
    mapping.check_header(rules, ["Ticket", "Opened", "Text", "Street", "City", "ZIP"])
    row = {"Ticket": "T-1", "Opened": "2026-07-15T09:30:00+01:00", "Text": "Bins overflowing"}
    # When rows are mapped, Then the non-empty columns are joined; none given gives no place
    (event,) = mapping.events(rules, {**row, "Street": "High St", "City": "Leeds", "ZIP": "n/a"})
    parsed = parse(json.dumps(event).encode(), now=NOW)
    assert isinstance(parsed, NewComplaint) and parsed.place == "High St, Leeds"
    (bare,) = mapping.events(rules, row)
    assert "place" not in bare
    with pytest.raises(ValueError, match="ZIP"):
        mapping.check_header(rules, ["Ticket", "Opened", "Text", "Street", "City"])


def test_mapping_errors_name_the_file_line_key_and_expectation(tmp_path):
    # Given a mapping with three mistakes
    path = tmp_path / "bad.yaml"
    path.write_text("source: Acme CC\ncolumns:\n  complaint_ref: Ticket\ntime_zone: Mars/Base\n")
    # When it is loaded
    with pytest.raises(ConfigError) as info:
        mapping.load(path)
    # Then each is named with its line and key, and what was expected
    assert str(info.value).splitlines() == [
        f"{path}: 3 problems",
        f"  {path}:1: key source: expected text matching '^[a-z0-9][a-z0-9_-]*$' (got 'Acme CC')",
        f"  {path}:2: key columns: must map 'occurred_at' to a column",
        f"  {path}:4: key time_zone: unknown time zone 'Mars/Base'",
    ]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "  description: Body\n",
            ":6: key columns.description: duplicate key (first on line 5)",
        ),
        (
            "time_zne: UTC\n",
            ":6: key time_zne: unknown key: expected one of source, columns, defaults,"
            " time_format, time_zone, event_id",
        ),
    ],
)
def test_mapping_refuses_a_duplicate_or_unknown_key(tmp_path, extra, expected):
    path = tmp_path / "map.yaml"
    path.write_text(
        "source: acme-cc\ncolumns:\n  complaint_ref: Ticket\n  occurred_at: Opened\n"
        "  description: Text\n" + extra
    )
    with pytest.raises(ConfigError) as info:
        mapping.load(path)
    assert str(info.value) == f"{path}{expected}"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("  customer: Name\n  customer.phone: Phone\n", "'customer' is mapped to a column"),
        ('event_id: "{0}"\n', "{0} is not the name of a mapped field"),
        ('event_id: "{complaint_ref.real}"\n', "is not the name of a mapped field"),
        ('event_id: "{"\n', "not a template"),
        ("  customer.name: Name\ndefaults:\n  customer: [a]\n", "defaults.customer must be a"),
    ],
)
def test_a_mapping_that_could_not_make_events_is_refused_when_loaded(tmp_path, extra, expected):
    # Found by the fuzz: each of these crashed the import at its first row
    path = tmp_path / "map.yaml"
    path.write_text(
        "source: acme-cc\ncolumns:\n  complaint_ref: Ticket\n  occurred_at: Opened\n"
        "  description: Text\n" + extra
    )
    with pytest.raises(ConfigError, match=re.escape(expected)):
        mapping.load(path)
