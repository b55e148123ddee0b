"""SLA policies: loading and validation, resolution precedence, and planning targets."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from schemas.common import Priority
from schemas.sla import SlaTarget
from services.kernel.errors import ConfigError
from services.sla_timer.calendar import BusinessCalendar
from services.sla_timer.policy_book import PolicyBook, load, load_default

SH = ZoneInfo("Asia/Shanghai")
H, M = timedelta(hours=1), timedelta(minutes=1)

POLICIES = """\
defaults:
  escalation:
    levels:
      - {role: owner, after: 0m}
      - {role: team_lead, after: 1h}
      - {role: executive, after: 4h}
    sensitive_start_level: team_lead
policies:
  - {name: p1, priority: P1, calendar: 24x7, targets: {acknowledge: 15m, resolve: 4h}}
  - {name: p2, priority: P2, targets: {acknowledge: 1h, resolve: 1d}}
  - {name: p3, priority: P3, targets: {acknowledge: 4h, resolve: 3d}}
  - {name: p4, priority: P4, targets: {acknowledge: 1d, resolve: 5d}}
"""
SPECIFIC = """\
  - {name: p3-billing, priority: P3, category: billing, targets: {resolve: 2d}}
  - {name: p3-finance, priority: P3, department: finance, targets: {resolve: 4d}}
  - {name: p3-billing-collections, priority: P3, category: Billing, department: collections,
     targets: {resolve: 1d}}
"""
CALENDARS = """\
default: office
sources: {shanghai-cc: shanghai}
calendars:
  office:
    timezone: UTC
    hours: {mon-fri: ["09:00-17:00"]}
  shanghai:
    timezone: Asia/Shanghai
    holidays: CN
    hours: {mon-fri: ["09:00-12:00", "13:00-18:00"]}
"""


def write(
    tmp_path: Path, policies: str = POLICIES, calendars: str = CALENDARS
) -> tuple[Path, Path]:
    p, c = tmp_path / "policies.yaml", tmp_path / "calendars.yaml"
    p.write_text(policies, encoding="utf-8")
    c.write_text(calendars, encoding="utf-8")
    return p, c


@pytest.fixture(scope="module")
def shipped() -> PolicyBook:
    return load_default()


@pytest.fixture
def book(tmp_path: Path) -> PolicyBook:
    return load(*write(tmp_path, POLICIES + SPECIFIC))


@pytest.mark.parametrize(
    ("priority", "target", "source", "expected"),
    [
        (Priority.P1, SlaTarget.ACKNOWLEDGE, "shanghai-cc", 15 * M),
        (Priority.P1, SlaTarget.RESOLVE, "shanghai-cc", 4 * H),
        (Priority.P1, SlaTarget.KEEP_INFORMED, "london-cc", 1 * H),
        (Priority.P1, SlaTarget.FOLLOW_UP, "shanghai-cc", 24 * H),
        (Priority.P2, SlaTarget.ACKNOWLEDGE, "austin-cc", 1 * H),
        (Priority.P2, SlaTarget.RESOLVE, "shanghai-cc", 8 * H),
        (Priority.P2, SlaTarget.KEEP_INFORMED, "shanghai-cc", 4 * H),
        (Priority.P3, SlaTarget.RESOLVE, "shanghai-cc", 24 * H),
        (Priority.P3, SlaTarget.RESOLVE, "london-cc", 3 * 8.5 * H),
        (Priority.P3, SlaTarget.KEEP_INFORMED, "taipei-cc", 7.5 * H),
        (Priority.P4, SlaTarget.ACKNOWLEDGE, "shanghai-cc", 8 * H),
        (Priority.P4, SlaTarget.RESOLVE, "austin-cc", 40 * H),
        (Priority.P4, SlaTarget.FOLLOW_UP, "unknown-cc", 24 * H),
    ],
)
def test_shipped_targets(shipped, priority, target, source, expected):
    # Given the shipped policy of `priority`, When its target is measured where it counts
    policy = shipped.resolve(priority)
    calendar = shipped.calendar_for(policy, target, source)
    # Then it allows the documented business time
    assert policy.duration(target, calendar) == expected
    assert policy.name == f"standard-{priority.value}"


def test_shipped_calendars_by_source(shipped):
    zones = {
        src: shipped.calendar_for_source(src).tz.key
        for src in ("shanghai-cc", "taipei-cc", "london-cc", "austin-cc", "somewhere-else")
    }
    assert zones == {
        "shanghai-cc": "Asia/Shanghai",
        "taipei-cc": "Asia/Taipei",
        "london-cc": "Europe/London",
        "austin-cc": "America/Chicago",
        "somewhere-else": "UTC",
    }
    assert shipped.calendar_for_source(None).name == "default"


def test_p1_counts_round_the_clock_but_follows_up_in_business_days(shipped):
    p1 = shipped.resolve(Priority.P1)
    assert shipped.calendar_for(p1, SlaTarget.RESOLVE, "shanghai-cc").always
    assert shipped.calendar_for(p1, SlaTarget.FOLLOW_UP, "shanghai-cc").name == "shanghai"
    p3 = shipped.resolve(Priority.P3)
    assert shipped.calendar_for(p3, SlaTarget.RESOLVE, "shanghai-cc").name == "shanghai"


@pytest.mark.parametrize(
    ("priority", "category", "department", "expected"),
    [
        (Priority.P3, "billing", "collections", "p3-billing-collections"),
        (Priority.P3, " BILLING ", "Collections", "p3-billing-collections"),
        (Priority.P3, "billing", "finance", "p3-billing"),
        (Priority.P3, "billing", "technical", "p3-billing"),
        (Priority.P3, "billing", None, "p3-billing"),
        (Priority.P3, "refund", "finance", "p3-finance"),
        (Priority.P3, None, "finance", "p3-finance"),
        (Priority.P3, "refund", "logistics", "p3"),
        (Priority.P3, None, None, "p3"),
        (Priority.P2, "billing", "finance", "p2"),
    ],
)
def test_most_specific_policy_wins(book, priority, category, department, expected):
    assert book.resolve(priority, category, department).name == expected


def test_specific_policy_inherits_what_it_does_not_state(book):
    # Given p3-billing states only its resolve target
    policy = book.resolve(Priority.P3, "billing")
    # Then acknowledge, calendar and escalation come from the P3 default
    assert (
        policy.target(SlaTarget.ACKNOWLEDGE).within
        == book.named("p3").targets[SlaTarget.ACKNOWLEDGE].within
    )
    assert policy.calendar == "local"
    assert [lv.role for lv in policy.escalation.levels] == ["owner", "team_lead", "executive"]
    assert policy.duration(SlaTarget.RESOLVE, book.calendar_for_source("x")) == 16 * H


def test_a_policy_may_switch_warnings_off_and_start_escalation_higher(tmp_path):
    # Given a P4 policy with no warnings and a chain starting at team_lead
    text = _replace(
        POLICIES,
        "{name: p4, priority: P4,",
        "{name: p4, priority: P4, warnings: [],"
        " escalation: {levels: [{role: owner, after: 0m}, {role: team_lead, after: 1h}],"
        " start_level: team_lead},",
    )
    p4 = load(*write(tmp_path, text)).resolve(Priority.P4, sensitive=True)
    # Then nothing warns, and a sensitive complaint starts where everyone starts
    start, always = datetime(2026, 3, 16, tzinfo=UTC), BusinessCalendar.always_open()
    plan = p4.plan_target(SlaTarget.RESOLVE, start, always)
    assert plan.warnings == ()
    assert [role for _, role, _ in plan.escalations] == ["team_lead"]


def test_resolution_takes_no_customer_value():
    # The SLA follows what happened, not what the customer is worth.
    params = set(inspect.signature(PolicyBook.resolve).parameters)
    assert params == {"self", "priority", "category", "department", "sensitive"}


def test_p1_plan_is_wall_clock_and_starts_escalation_at_team_lead(shipped):
    # Given a P1 complaint acknowledged at a Saturday night 23:00 in Shanghai
    p1 = shipped.resolve(Priority.P1)
    start = datetime(2026, 10, 3, 15, 0, tzinfo=UTC)
    cal = shipped.calendar_for(p1, SlaTarget.RESOLVE, "shanghai-cc")
    # When its resolve target is planned
    plan = p1.plan_target(SlaTarget.RESOLVE, start, cal)
    # Then the clock ran through the holiday night and the chain starts one level up
    assert plan.deadline == start + 4 * H
    assert plan.warnings == tuple((p, start + 4 * H * p / 100) for p in (50, 75, 90))
    assert [(n, role, at - plan.deadline) for n, role, at in plan.escalations] == [
        (2, "team_lead", 0 * M),
        (3, "department_manager", 15 * M),
        (4, "director", 45 * M),
        (5, "executive", 105 * M),
    ]


def test_sensitive_complaints_start_higher_and_reach_the_executive_sooner(shipped):
    start = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
    cal = shipped.calendar_for_source("shanghai-cc")
    for priority in (Priority.P1, Priority.P3):
        normal = shipped.resolve(priority).plan_target(SlaTarget.RESOLVE, start, cal)
        sensitive = shipped.resolve(priority, sensitive=True).plan_target(
            SlaTarget.RESOLVE, start, cal
        )
        assert sensitive.escalations[0][:2] == (3, "department_manager")
        assert sensitive.escalations[0][2] == sensitive.deadline
        assert sensitive.escalations[-1][1] == normal.escalations[-1][1] == "executive"
        assert sensitive.escalations[-1][2] < normal.escalations[-1][2]
    assert shipped.resolve(Priority.P3).plan_target(SlaTarget.RESOLVE, start, cal).escalations[0][
        :2
    ] == (1, "owner")


def test_p3_plan_in_business_time_over_national_day(shipped):
    # Given a P3 complaint from shanghai-cc at 17:00 the day before National Day
    p3 = shipped.resolve(Priority.P3, "billing", "finance")
    cal = shipped.calendar_for(p3, SlaTarget.RESOLVE, "shanghai-cc")
    start = datetime(2026, 9, 30, 17, tzinfo=SH)
    plan = p3.plan_target(SlaTarget.RESOLVE, start, cal)

    def local(t: datetime) -> tuple[int, int, int, int]:
        t = t.astimezone(SH)
        return (t.month, t.day, t.hour, t.minute)

    # Then 3 business days (24h) run 1h on 30 Sep, then 8, 9 and the swapped Saturday 10 Oct
    assert local(plan.deadline) == (10, 10, 17, 0)
    # And the warnings fall at 12, 18 and 21.6 business hours, skipping lunch
    assert [(pct, local(t)) for pct, t in plan.warnings] == [
        (50, (10, 9, 12, 0)),
        (75, (10, 10, 10, 0)),
        (90, (10, 10, 14, 36)),
    ]
    # And escalation delays count business time: 2h after 17:00 Sat is 10:00 Monday
    assert [(role, local(t)) for _, role, t in plan.escalations[:3]] == [
        ("owner", (10, 10, 17, 0)),
        ("team_lead", (10, 12, 10, 0)),
        ("department_manager", (10, 12, 17, 0)),
    ]


def test_time_already_used_brings_the_deadline_forward_in_business_time(shipped):
    # Given a P2 resolve target (8 business hours) with 6h used before a night's pause
    p2 = shipped.resolve(Priority.P2)
    cal = shipped.calendar_for_source("shanghai-cc")
    resumed = datetime(2026, 3, 17, 9, tzinfo=SH)
    plan = p2.plan_target(SlaTarget.RESOLVE, resumed, cal, used=6 * H)
    # Then 2 business hours remain, and the passed warnings are due at once
    assert plan.deadline == datetime(2026, 3, 17, 11, tzinfo=SH)
    assert plan.warnings[0] == (50, resumed)
    assert plan.warnings[1] == (75, resumed)
    assert plan.warnings[2] == (90, datetime(2026, 3, 17, 10, 12, tzinfo=SH))


def test_an_exhausted_target_is_due_at_once(shipped):
    p2 = shipped.resolve(Priority.P2)
    now = datetime(2026, 3, 21, 3, tzinfo=SH)
    plan = p2.plan_target("resolve", now, shipped.calendar_for_source("shanghai-cc"), used=9 * H)
    assert plan.deadline == now


def test_callback_is_due_at_the_promised_time_and_warned_before(shipped):
    # Given a callback promised at 16:00 on a Saturday, made at 14:00
    p3 = shipped.resolve(Priority.P3)
    cal = shipped.calendar_for_source("shanghai-cc")
    made, due = datetime(2026, 3, 21, 14, tzinfo=SH), datetime(2026, 3, 21, 16, tzinfo=SH)
    plan = p3.plan_target(SlaTarget.CALLBACK, made, cal, due=due)
    # Then the promise is kept on the wall clock, whatever the business hours
    assert plan.deadline == due
    assert plan.warnings == ((88, due - 15 * M),)
    with pytest.raises(ValueError, match="promised time"):
        p3.plan_target(SlaTarget.CALLBACK, made, cal)
    with pytest.raises(ValueError, match="no duration"):
        p3.duration(SlaTarget.CALLBACK, cal)


def test_a_target_the_policy_does_not_track(book):
    with pytest.raises(KeyError, match="no follow_up target"):
        book.resolve(Priority.P2).target(SlaTarget.FOLLOW_UP)
    with pytest.raises(KeyError):
        book.named("no-such-policy")


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("policies", "where", "expected"),
    [
        (
            _replace(POLICIES, "resolve: 3d", "resolve: 3days"),
            ":11: policy #3 'p3': key targets.resolve.within:",
            "expected a duration like '30m', '4h', '1h30m' or '3d', got '3days'",
        ),
        (
            _replace(POLICIES, "priority: P4", "priority: P5"),
            ":12: policy #4 'p4': key priority:",
            "expected 'P1', 'P2', 'P3' or 'P4' (got 'P5')",
        ),
        (
            _replace(POLICIES, "name: p4, priority: P4", "name: p4, priority: P3, category: x"),
            ":8: key policies:",
            "expected a default policy (no category, no department) for every priority;"
            " missing ['P4']",
        ),
        (
            _replace(POLICIES, "name: p2", "name: p1"),
            ":10: policy #2 'p1': key name:",
            "expected a unique name; 'p1' is already policy #1",
        ),
        (
            POLICIES + "  - {name: again, priority: P2, targets: {resolve: 1h}}\n",
            ":13: policy #5 'again':",
            "expected one policy per priority, category and department; policy #2 already"
            " covers them",
        ),
        (
            _replace(POLICIES, "calendar: 24x7", "calendar: mars"),
            ":9: policy #1 'p1': key calendar:",
            "expected one of the calendars ['24x7', 'local', 'office', 'shanghai'], got 'mars'",
        ),
        (
            _replace(POLICIES, "resolve: 4h}", "resolve: 4h, callback: 1h}"),
            ":9: policy #1 'p1':",
            "targets.callback: expected warn_before",
        ),
        (
            _replace(POLICIES, "{acknowledge: 1h, resolve: 1d}", "{acknowledge: 1h}"),
            ":10: policy #2 'p2': key targets:",
            "expected a resolve target",
        ),
        (
            _replace(POLICIES, "sensitive_start_level: team_lead", "start_level: boss"),
            ":2: key defaults.escalation:",
            "start_level: expected one of ['owner', 'team_lead', 'executive'], got 'boss'",
        ),
        (
            _replace(POLICIES, "    sensitive_", "    start_level: executive\n    sensitive_"),
            ":2: key defaults.escalation:",
            "sensitive_start_level: expected a level at or above start_level",
        ),
        (
            _replace(POLICIES, "{name: p3,", "{name: p3, customer_value: gold,"),
            ":11: policy #3 'p3': key customer_value:",
            "unknown key: expected one of name, priority, category, department, calendar,"
            " warnings, escalation, targets",
        ),
        (
            _replace(POLICIES, "resolve: 4h}", "resolve: 4h, callback: {warn_before: 1d}}"),
            ":9: policy #1 'p1':",
            "targets.callback.warn_before: expected minutes or hours",
        ),
        (
            _replace(POLICIES, "after: 1h}", "after: soon}"),
            ":5: key defaults.escalation.levels[1].after:",
            "expected a duration",
        ),
        ("- just\n- a list\n", ":1:", "expected a mapping of keys at the top, got list"),
        (
            "defaults: [unclosed\n",
            ":2:",
            "not valid YAML: while parsing a flow sequence, expected ',' or ']'",
        ),
    ],
)
def test_policy_errors_name_file_line_key_and_expectation(tmp_path, policies, where, expected):
    # Given a policies.yaml with one mistake
    paths = write(tmp_path, policies)
    # When it is loaded, Then the error says where and what was expected
    with pytest.raises(ConfigError) as caught:
        load(*paths)
    message = str(caught.value)
    assert message.startswith(str(paths[0]) + where), message
    assert expected in message, message


@pytest.mark.parametrize(
    ("calendars", "where", "expected"),
    [
        (
            _replace(CALENDARS, "Asia/Shanghai", "Asia/Shanghia"),
            ":8: key calendars.shanghai.timezone:",
            "expected an IANA time zone such as 'Asia/Shanghai', got 'Asia/Shanghia'",
        ),
        (
            _replace(CALENDARS, '"13:00-18:00"', '"13:00-11:00"'),
            ":10: key calendars.shanghai.hours.mon-fri:",
            "expected the period to end after it starts, got '13:00-11:00'",
        ),
        (
            _replace(CALENDARS, "{mon-fri:", "{mon-fry:"),
            ":6: key calendars.office.hours.mon-fry:",
            "expected a weekday such as 'mon' or a range 'mon-fri', got 'mon-fry'",
        ),
        (
            _replace(CALENDARS, "holidays: CN", "holidays: US-XX"),
            ":9: key calendars.shanghai.holidays:",
            "expected a subdivision of US",
        ),
        (
            _replace(CALENDARS, "shanghai-cc: shanghai", "shanghai-cc: shangai"),
            ":2: key sources.shanghai-cc:",
            "expected one of the calendars ['office', 'shanghai'], got 'shangai'",
        ),
        (
            _replace(CALENDARS, "default: office", "default: nowhere"),
            ":1: key default:",
            "expected one of the calendars ['office', 'shanghai'], got 'nowhere'",
        ),
        (
            _replace(CALENDARS, "  office:", "  24x7:").replace("default: office", "default: 24x7"),
            ":4: key calendars.24x7:",
            "expected a name other than '24x7'",
        ),
        (
            _replace(CALENDARS, '["09:00-17:00"]}', '["09:00-17:00"], fri: []}'),
            ":4: key calendars.office:",
            "hours: expected each weekday once, got ['fri'] more than once",
        ),
        (
            _replace(CALENDARS, "holidays: CN", "holiday: CN"),
            ":9: key calendars.shanghai.holiday:",
            "unknown key: expected one of timezone, hours, holidays, extra_holidays,",
        ),
        (
            _replace(
                CALENDARS,
                "holidays: CN",
                "holidays: CN\n    extra_holidays: [2026-05-06]\n"
                "    extra_working_days: [2026-05-06]",
            ),
            ":7: key calendars.shanghai:",
            "expected a date in extra_holidays or extra_working_days",
        ),
    ],
)
def test_calendar_errors_name_file_line_key_and_expectation(tmp_path, calendars, where, expected):
    paths = write(tmp_path, calendars=calendars)
    with pytest.raises(ConfigError) as caught:
        load(*paths)
    message = str(caught.value)
    assert message.startswith(str(paths[1]) + where), message
    assert expected in message, message


def test_every_problem_is_reported_at_once(tmp_path):
    text = _replace(_replace(POLICIES, "resolve: 3d", "resolve: 3x"), "priority: P4", "priority: 4")
    paths = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(*paths)
    assert str(caught.value).splitlines() == [
        f"{paths[0]}: 2 problems",
        f"  {paths[0]}:11: policy #3 'p3': key targets.resolve.within: expected a duration"
        " like '30m', '4h', '1h30m' or '3d', got '3x'",
        f"  {paths[0]}:12: policy #4 'p4': key priority: expected 'P1', 'P2', 'P3' or 'P4' (got 4)",
    ]


def test_every_problem_across_the_files_is_reported_at_once(tmp_path):
    # Given policies that name unknown calendars twice, repeat a name and lack a target
    text = _replace(POLICIES, "calendar: 24x7", "calendar: mars")
    text = _replace(text, "{acknowledge: 4h, resolve: 3d}", "{acknowledge: 4h}")
    text += (
        "  - {name: p2, priority: P2, category: x,\n"
        "     targets: {resolve: {within: 1h, calendar: moon}}}\n"
    )
    paths = write(tmp_path, text)
    # When they are loaded
    with pytest.raises(ConfigError) as caught:
        load(*paths)
    # Then each problem is named where it is written, all in one error
    known = "['24x7', 'local', 'office', 'shanghai']"
    assert str(caught.value).splitlines() == [
        f"{paths[0]}: 4 problems",
        f"  {paths[0]}:9: policy #1 'p1': key calendar: expected one of the calendars {known},"
        " got 'mars'",
        f"  {paths[0]}:13: policy #5 'p2': key name: expected a unique name; 'p2' is already"
        " policy #2",
        f"  {paths[0]}:14: policy #5 'p2': key targets.resolve.calendar: expected one of the"
        f" calendars {known}, got 'moon'",
        f"  {paths[0]}:11: policy #3 'p3': key targets: expected a resolve target",
    ]


def test_calendar_problems_are_reported_at_once(tmp_path):
    text = _replace(CALENDARS, "default: office", "default: nowhere")
    paths = write(tmp_path, calendars=_replace(text, "shanghai-cc: shanghai", "shanghai-cc: x"))
    with pytest.raises(ConfigError) as caught:
        load(*paths)
    assert str(caught.value).splitlines() == [
        f"{paths[1]}: 2 problems",
        f"  {paths[1]}:1: key default: expected one of the calendars ['office', 'shanghai'],"
        " got 'nowhere'",
        f"  {paths[1]}:2: key sources.shanghai-cc: expected one of the calendars"
        " ['office', 'shanghai'], got 'x'",
    ]


def test_a_duplicate_key_is_refused(tmp_path):
    text = _replace(CALENDARS, "    holidays: CN\n", "    holidays: CN\n    holidays: US\n")
    paths = write(tmp_path, calendars=text)
    with pytest.raises(ConfigError) as caught:
        load(*paths)
    assert str(caught.value) == (
        f"{paths[1]}:10: key calendars.shanghai.holidays: duplicate key (first on line 9)"
    )


def test_a_missing_file_is_named(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load(missing, write(tmp_path)[1])
    assert str(caught.value) == f"{missing}: cannot read the file: No such file or directory"


def test_operator_overrides_load(tmp_path):
    # Given an operator's calendar with a company holiday and a Saturday half day
    calendars = _replace(
        CALENDARS,
        'hours: {mon-fri: ["09:00-17:00"]}',
        'hours: {mon-fri: ["09:00-17:00"]}\n'
        "    extra_holidays: [2026-03-16, 2026-03-17, 2026-03-18, 2026-03-19, 2026-03-20]\n"
        '    special_hours: {2026-03-21: ["09:00-13:00"]}\n    day_length: 7h',
    )
    book = load(*write(tmp_path, calendars=calendars))
    office = book.calendar_for_source("anywhere")
    # Then the overrides shape the business time
    assert office.day_length == 7 * H
    friday = datetime(2026, 3, 13, 16, tzinfo=UTC)
    assert office.add_business_time(friday, 2 * H) == datetime(2026, 3, 21, 10, tzinfo=UTC)


def test_a_missed_follow_up_tells_the_owner_and_never_climbs_the_chain(shipped, tmp_path):
    # Given the shipped P1 policy, whose breaches climb to the executive within hours
    p1 = shipped.resolve(Priority.P1, sensitive=True)
    cal = shipped.calendar_for_source("shanghai-cc")
    resolved = datetime(2026, 3, 16, 10, tzinfo=SH)
    assert p1.plan_target(SlaTarget.RESOLVE, resolved, cal).escalations[-1][1] == "executive"
    # When its follow-up is planned, Then a breach of it escalates to nobody
    follow_up = p1.plan_target(SlaTarget.FOLLOW_UP, resolved, cal)
    assert follow_up.deadline > resolved and follow_up.escalations == ()
    # And a policy may say otherwise, target by target
    text = _replace(POLICIES, "resolve: 4h}", "resolve: {within: 4h, escalate: false},"
                    " follow_up: {within: 1d, escalate: true}}")  # fmt: skip
    p1_own = load(*write(tmp_path, text)).resolve(Priority.P1)
    assert p1_own.plan_target(SlaTarget.RESOLVE, resolved, cal).escalations == ()
    assert [role for _, role, _ in p1_own.plan_target(SlaTarget.FOLLOW_UP, resolved, cal)
            .escalations] == ["owner", "team_lead", "executive"]  # fmt: skip


def test_the_shipped_follow_up_warns_only_when_the_survey_is_late(shipped):
    # The survey goes out at most half-way to the deadline: an earlier warning would only
    # tell the owner of a survey about to be sent
    cal = shipped.calendar_for_source("shanghai-cc")
    resolved = datetime(2026, 3, 16, 10, tzinfo=SH)
    for priority in Priority:
        plan = shipped.resolve(priority).plan_target(SlaTarget.FOLLOW_UP, resolved, cal)
        assert [pct for pct, _ in plan.warnings] == [90], priority
