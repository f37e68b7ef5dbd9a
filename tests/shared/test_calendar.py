"""Working calendar: official 2025/2026 data, deadline arithmetic, coverage guard."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import (
    CHINA_TZ,
    CalendarYear,
    DayCount,
    DayKind,
    Deadline,
    HolidayRange,
    WorkingCalendar,
    china_date,
    official_calendar,
)
from shared.calendar_data import OFFICIAL_YEARS
from shared.errors import InvalidError, ValidationError
from shared.terms import LimitUnit

# Typed from the notices independently of shared/calendar_data.py.
REST_2025 = """
2025-01-01
2025-01-28 2025-01-29 2025-01-30 2025-01-31 2025-02-01 2025-02-02 2025-02-03 2025-02-04
2025-04-04 2025-04-05 2025-04-06
2025-05-01 2025-05-02 2025-05-03 2025-05-04 2025-05-05
2025-05-31 2025-06-01 2025-06-02
2025-10-01 2025-10-02 2025-10-03 2025-10-04 2025-10-05 2025-10-06 2025-10-07 2025-10-08
"""
MAKEUP_2025 = "2025-01-26 2025-02-08 2025-04-27 2025-09-28 2025-10-11"
REST_2026 = """
2026-01-01 2026-01-02 2026-01-03
2026-02-15 2026-02-16 2026-02-17 2026-02-18 2026-02-19 2026-02-20 2026-02-21 2026-02-22 2026-02-23
2026-04-04 2026-04-05 2026-04-06
2026-05-01 2026-05-02 2026-05-03 2026-05-04 2026-05-05
2026-06-19 2026-06-20 2026-06-21
2026-09-25 2026-09-26 2026-09-27
2026-10-01 2026-10-02 2026-10-03 2026-10-04 2026-10-05 2026-10-06 2026-10-07
"""
MAKEUP_2026 = "2026-01-04 2026-02-14 2026-02-28 2026-05-09 2026-09-20 2026-10-10"

CAL = official_calendar()
Pause = tuple[date, date]
Pauses = list[Pause]
Offsets = list[tuple[int, int]]
D = date


def _days(text: str) -> set[date]:
    return {date.fromisoformat(s) for s in text.split()}


def _year_days(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(i) for i in range((date(year + 1, 1, 1) - first).days)]


def _kind_set(year: int, kind: DayKind) -> set[date]:
    return {d for d in _year_days(year) if CAL.day_kind(d) is kind}


def _year(
    year: int,
    holidays: Iterable[tuple[str, date, date]] = (),
    makeup: Iterable[date] = (),
    source: str = "",
) -> CalendarYear:
    return CalendarYear(
        year=year,
        holidays=tuple(HolidayRange(name=n, first=f, last=la) for n, f, la in holidays),
        makeup_workdays=tuple(makeup),
        source=source,
    )


# ---- official data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "rest", "makeup"),
    [(2025, REST_2025, MAKEUP_2025), (2026, REST_2026, MAKEUP_2026)],
)
def test_calendar_official_rest_and_makeup_days_match_notice(
    year: int, rest: str, makeup: str
) -> None:
    assert _kind_set(year, DayKind.HOLIDAY) == _days(rest)
    assert _kind_set(year, DayKind.MAKEUP) == _days(makeup)
    data = next(y for y in OFFICIAL_YEARS if y.year == year)
    assert set(data.rest_days()) == _days(rest)
    assert set(data.makeup_workdays) == _days(makeup)
    assert all(CAL.is_workday(d) for d in _days(makeup))
    assert not any(CAL.is_workday(d) for d in _days(rest))


def test_calendar_official_rest_day_counts() -> None:
    assert len(_days(REST_2025)) == 28
    assert len(_days(REST_2026)) == 33


@pytest.mark.parametrize(("year", "count"), [(2025, 248), (2026, 248)])
def test_calendar_working_days_per_year(year: int, count: int) -> None:
    assert sum(CAL.is_workday(d) for d in _year_days(year)) == count
    assert CAL.working_days_between(D(year - 1, 12, 31), D(year, 12, 31)) == DayCount(count, False)
    assert len(CAL.workdays_in(D(year, 1, 1), D(year, 12, 31))) == count


def test_calendar_official_years_validate_and_cite_notice() -> None:
    assert [y.year for y in OFFICIAL_YEARS] == [2025, 2026]
    for y in OFFICIAL_YEARS:
        assert y.validate() == []
        assert f"关于{y.year}年部分节假日安排的通知" in y.source
    assert OFFICIAL_YEARS[0].source.endswith("（国办发明电〔2024〕12号）")
    assert OFFICIAL_YEARS[1].source.endswith("（国办发明电〔2025〕7号）")
    assert CAL.first_covered == D(2025, 1, 1)
    assert CAL.last_covered == D(2026, 12, 31)
    assert official_calendar() is CAL


def test_calendar_day_kinds() -> None:
    assert CAL.day_kind(D(2026, 2, 14)) is DayKind.MAKEUP  # Saturday at work
    assert CAL.day_kind(D(2026, 2, 21)) is DayKind.HOLIDAY  # Saturday inside 春节
    assert CAL.day_kind(D(2026, 2, 23)) is DayKind.HOLIDAY  # Monday inside 春节
    assert CAL.day_kind(D(2026, 3, 7)) is DayKind.WEEKEND
    assert CAL.day_kind(D(2026, 3, 9)) is DayKind.WORKDAY
    assert DayKind.MAKEUP.is_working and not DayKind.HOLIDAY.is_working
    assert DayKind.MAKEUP.label == "调休上班日"


# ---- worked examples -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (D(2026, 2, 6), 20, D(2026, 3, 12)),
        (D(2026, 2, 6), 5, D(2026, 2, 13)),
        (D(2026, 4, 28), 5, D(2026, 5, 8)),
        (D(2026, 9, 18), 20, D(2026, 10, 22)),
        (D(2026, 9, 30), 10, D(2026, 10, 20)),
        (D(2026, 2, 13), 1, D(2026, 2, 14)),  # make-up Saturday
        (D(2026, 2, 14), 1, D(2026, 2, 24)),  # over the whole Spring Festival
        (D(2025, 12, 31), 1, D(2026, 1, 4)),  # across the year boundary, make-up Sunday
    ],
)
def test_calendar_add_working_days_worked_examples(start: date, n: int, due: date) -> None:
    assert CAL.add_working_days(start, n) == Deadline(due, False)
    assert CAL.working_days_between(start, due) == DayCount(n, False)
    assert CAL.add_days(start, n, LimitUnit.WORKING_DAYS) == Deadline(due, False)


def test_calendar_add_zero_is_on_the_spot_even_on_a_holiday() -> None:
    assert CAL.add_working_days(D(2026, 2, 16), 0) == Deadline(D(2026, 2, 16), False)
    assert CAL.add_calendar_days(D(2026, 2, 16), 0) == Deadline(D(2026, 2, 16), False)


def test_calendar_start_on_rest_day_counts_from_next_working_day() -> None:
    assert CAL.add_working_days(D(2026, 2, 15), 1).due == D(2026, 2, 24)


def test_calendar_negative_limit_is_rejected() -> None:
    with pytest.raises(InvalidError) as err:
        CAL.add_working_days(D(2026, 3, 2), -1)
    assert err.value.code == "negative_limit"
    with pytest.raises(InvalidError):
        CAL.add_calendar_days(D(2026, 3, 2), -3)


def test_calendar_rejects_datetime_where_a_date_is_expected() -> None:
    with pytest.raises(InvalidError) as err:
        CAL.add_working_days(datetime(2026, 3, 2, 9, tzinfo=CHINA_TZ), 5)
    assert err.value.code == "date_expected"


def test_calendar_between_negative_and_zero() -> None:
    assert CAL.working_days_between(D(2026, 3, 12), D(2026, 2, 6)) == DayCount(-20, False)
    assert CAL.working_days_between(D(2026, 3, 12), D(2026, 3, 12)) == DayCount(0, False)
    assert CAL.working_days_between(D(2026, 2, 14), D(2026, 2, 23)) == DayCount(0, False)


# ---- pauses ----------------------------------------------------------------------------------


def test_calendar_pause_of_a_working_week_adds_five_days() -> None:
    pause = [(D(2026, 3, 2), D(2026, 3, 6))]
    assert CAL.add_working_days(D(2026, 2, 6), 20, pauses=pause) == Deadline(D(2026, 3, 19), False)
    assert CAL.working_days_between(D(2026, 2, 6), D(2026, 3, 19), pauses=pause).days == 20


def test_calendar_pauses_overlapping_unordered_are_merged() -> None:
    pauses = [(D(2026, 3, 4), D(2026, 3, 6)), (D(2026, 3, 2), D(2026, 3, 5))]
    assert CAL.add_working_days(D(2026, 2, 6), 20, pauses=pauses).due == D(2026, 3, 19)


def test_calendar_pause_nested_inside_another_is_absorbed() -> None:
    pauses = [(D(2026, 3, 2), D(2026, 3, 13)), (D(2026, 3, 4), D(2026, 3, 5))]
    assert CAL.add_working_days(D(2026, 2, 6), 20, pauses=pauses).due == D(2026, 3, 26)
    assert CAL.add_calendar_days(D(2026, 3, 1), 3, pauses=pauses).due == D(2026, 3, 16)


def test_calendar_pause_beginning_before_start_only_counts_after_start() -> None:
    pause = [(D(2026, 2, 1), D(2026, 2, 10))]  # removes 02-09 and 02-10
    assert CAL.add_working_days(D(2026, 2, 6), 20, pauses=pause).due == D(2026, 3, 16)


def test_calendar_pause_after_due_or_on_rest_days_changes_nothing() -> None:
    assert CAL.add_working_days(
        D(2026, 2, 6),
        20,
        pauses=[(D(2026, 3, 13), D(2026, 4, 30)), (D(2026, 2, 15), D(2026, 2, 23))],
    ) == Deadline(D(2026, 3, 12), False)


def test_calendar_pause_into_uncovered_year_beyond_due_is_not_provisional() -> None:
    pause = [(D(2026, 12, 1), D(2027, 2, 1))]
    assert CAL.add_working_days(D(2026, 11, 2), 5, pauses=pause) == Deadline(D(2026, 11, 9), False)


def test_calendar_reversed_pause_is_rejected() -> None:
    with pytest.raises(InvalidError) as err:
        CAL.add_working_days(D(2026, 3, 2), 5, pauses=[(D(2026, 3, 6), D(2026, 3, 2))])
    assert err.value.code == "pause_reversed"


# ---- calendar days ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "pauses", "due"),
    [
        (D(2026, 3, 2), 3, [], D(2026, 3, 5)),
        (D(2026, 3, 2), 5, [], D(2026, 3, 9)),  # Saturday moves to Monday
        (D(2026, 2, 6), 10, [], D(2026, 2, 24)),  # inside 春节 moves past it
        (D(2026, 3, 2), 3, [(D(2026, 3, 3), D(2026, 3, 5))], D(2026, 3, 9)),
        (D(2026, 3, 2), 5, [(D(2026, 3, 9), D(2026, 3, 11))], D(2026, 3, 12)),
        (D(2026, 3, 2), 4, [(D(2026, 3, 9), D(2026, 3, 11))], D(2026, 3, 6)),
    ],
)
def test_calendar_add_calendar_days(start: date, n: int, pauses: Pauses, due: date) -> None:
    assert CAL.add_calendar_days(start, n, pauses=pauses) == Deadline(due, False)
    assert CAL.add_days(start, n, LimitUnit.CALENDAR_DAYS, pauses=pauses).due == due


def test_calendar_calendar_days_landing_on_makeup_saturday_stays() -> None:
    assert CAL.add_calendar_days(D(2026, 2, 4), 10).due == D(2026, 2, 14)


# ---- coverage guard --------------------------------------------------------------------------


def test_calendar_deadline_running_into_unpublished_year_is_provisional() -> None:
    # 12-11, 14..18, 21..25, 28..31 = 15; 2027-01-01 is New Year; 01-04..08 = 20.
    assert CAL.add_working_days(D(2026, 12, 10), 20) == Deadline(D(2027, 1, 8), True)
    assert CAL.add_working_days(D(2026, 2, 6), 20).provisional is False
    assert CAL.working_days_between(D(2026, 12, 10), D(2027, 1, 8)) == DayCount(20, True)
    assert CAL.add_calendar_days(D(2026, 12, 28), 4) == Deadline(D(2027, 1, 4), True)


def test_calendar_before_coverage_uses_provisional_rule() -> None:
    # 2024 is before the 2024 办法 took effect: only 1 May is fixed, 2 May is an ordinary Thursday.
    assert CAL.add_working_days(D(2024, 4, 30), 1) == Deadline(D(2024, 5, 2), True)
    assert CAL.add_working_days(D(2024, 12, 30), 2) == Deadline(D(2025, 1, 2), True)
    assert CAL.working_days_between(D(2024, 12, 30), D(2025, 1, 2)) == DayCount(2, True)


def test_calendar_uncovered_days_before_a_pause_make_it_provisional() -> None:
    # 2024-12-23..26 are counted under the provisional rule; the rest falls in 2025.
    pause = [(D(2024, 12, 27), D(2025, 1, 10))]
    assert CAL.add_working_days(D(2024, 12, 20), 5, pauses=pause) == Deadline(D(2025, 1, 13), True)
    assert CAL.add_working_days(D(2024, 12, 26), 1, pauses=pause) == Deadline(D(2025, 1, 13), False)


def test_calendar_first_uncovered_day_is_looked_at() -> None:
    assert CAL.working_days_between(D(2026, 12, 31), D(2027, 1, 1)) == DayCount(0, True)
    assert CAL.working_days_between(D(2026, 12, 30), D(2026, 12, 31)) == DayCount(1, False)
    assert CAL.working_days_between(D(2024, 12, 31), D(2025, 1, 2)) == DayCount(1, False)
    assert CAL.working_days_between(D(2024, 12, 30), D(2025, 1, 2)) == DayCount(2, True)


def test_calendar_uncovered_day_kinds() -> None:
    assert not CAL.covers(D(2027, 1, 1))
    assert CAL.covers(D(2026, 12, 31))
    assert CAL.day_kind(D(2027, 1, 1)) is DayKind.HOLIDAY
    assert CAL.day_kind(D(2027, 5, 3)) is DayKind.WORKDAY  # lunar/调休 unknown: weekday
    assert CAL.day_kind(D(2027, 5, 2)) is DayKind.HOLIDAY  # Sunday, fixed holiday since 2025
    assert CAL.day_kind(D(2027, 10, 4)) is DayKind.WORKDAY
    assert CAL.day_kind(D(2027, 1, 9)) is DayKind.WEEKEND


# ---- validation and administration -----------------------------------------------------------

_FIXED_2027 = [("元旦", D(2027, 1, 1), D(2027, 1, 3)), ("劳动节", D(2027, 5, 1), D(2027, 5, 5))]
_FIXED_2027 += [("国庆节", D(2027, 10, 1), D(2027, 10, 7))]


def test_calendar_with_year_adds_synthetic_2027() -> None:
    y2027 = _year(2027, [*_FIXED_2027, ("测试假", D(2027, 1, 4), D(2027, 1, 5))], [D(2027, 1, 9)])
    cal = CAL.with_year(y2027)
    assert cal.last_covered == D(2027, 12, 31)
    assert [y.year for y in cal.years] == [2025, 2026, 2027]
    assert cal.add_working_days(D(2026, 12, 10), 20) == Deadline(D(2027, 1, 11), False)
    assert cal.day_kind(D(2027, 1, 9)) is DayKind.MAKEUP
    assert CAL.last_covered == D(2026, 12, 31)  # the original is untouched


def test_calendar_with_year_replaces_existing_year() -> None:
    ranges = [(r.name, r.first, r.last) for r in OFFICIAL_YEARS[1].holidays]
    with pytest.raises(ValidationError):  # 10-01..03 are statutory and must stay rest days
        CAL.with_year(_year(2026, ranges[:-1]))
    y = _year(2026, ranges, [D(2026, 3, 7)])
    cal = CAL.with_year(y)
    assert cal.years[1] == y and len(cal.years) == 2
    assert cal.is_workday(D(2026, 3, 7)) and not cal.is_workday(D(2026, 2, 14))


def test_calendar_rejects_gap_duplicate_and_empty() -> None:
    with pytest.raises(ValidationError) as err:
        CAL.with_year(
            _year(
                2028, [(n, f.replace(year=2028), la.replace(year=2028)) for n, f, la in _FIXED_2027]
            )
        )
    assert err.value.problems == ["缺少2027年的放假安排：录入的年份必须连续"]
    with pytest.raises(ValidationError) as err:
        WorkingCalendar(
            [
                OFFICIAL_YEARS[0],
                _year(
                    2028,
                    [(n, f.replace(year=2028), la.replace(year=2028)) for n, f, la in _FIXED_2027],
                ),
            ]
        )
    assert err.value.problems == ["缺少2026年 至 2027年的放假安排：录入的年份必须连续"]
    with pytest.raises(ValidationError) as err:
        WorkingCalendar([OFFICIAL_YEARS[0], OFFICIAL_YEARS[0]])
    assert err.value.problems == ["2025年的放假安排录入了不止一次"]
    with pytest.raises(ValidationError):
        WorkingCalendar([])


def test_calendar_year_validate_reports_each_problem() -> None:
    bad = _year(
        2027,
        [
            *_FIXED_2027,
            ("", D(2027, 2, 1), D(2027, 2, 1)),
            ("倒置", D(2027, 3, 5), D(2027, 3, 1)),
            ("跨年", D(2026, 12, 31), D(2027, 1, 1)),
            ("重叠", D(2027, 10, 7), D(2027, 10, 8)),
            ("过长", D(2027, 7, 1), D(2027, 7, 20)),
        ],
        [D(2027, 1, 2), D(2027, 3, 3), D(2026, 12, 27), D(2027, 3, 6), D(2027, 3, 6)],
    )
    problems = bad.validate()
    expected_fragments = [
        "没有填写节日名称",
        "「倒置」放假区间 2027-03-05 至 2027-03-01：开始日期晚于结束日期",
        "「跨年」放假区间 2026-12-31 至 2027-01-01：不在2027年内",
        "放假区间重叠：「国庆节」2027-10-01 至 2027-10-07 与「重叠」2027-10-07 至 2027-10-08",
        "「过长」放假区间 2027-07-01 至 2027-07-20：超过15天",
        "调休上班日 2027-01-02（周六）：落在放假区间内",
        "调休上班日 2027-03-03（周三）：不是周六或周日",
        "调休上班日 2026-12-27（周日）：不在2027年内",
        "调休上班日 2027-03-06（周六）：重复录入",
    ]
    for fragment in expected_fragments:
        assert sum(fragment in p for p in problems) == 1, fragment
    assert len(problems) == len(expected_fragments) + 1  # 跨年 also overlaps 元旦 on 01-01
    with pytest.raises(ValidationError):
        WorkingCalendar([*OFFICIAL_YEARS, bad])


def test_calendar_year_validate_requires_fixed_statutory_holidays() -> None:
    problems = _year(2027, [("元旦", D(2027, 1, 1), D(2027, 1, 1))]).validate()
    assert problems == [
        f"2027年法定节假日 {d} 不在任何放假区间内"
        for d in (D(2027, 5, 1), D(2027, 5, 2), D(2027, 10, 1), D(2027, 10, 2), D(2027, 10, 3))
    ]
    assert _year(1900).validate() == ["年份 1900 不在 1950–9000 之间"]


def test_calendar_json_round_trip_rebuilds_equal_calendar() -> None:
    data = CAL.to_json()
    assert WorkingCalendar.from_json(data) == CAL
    assert WorkingCalendar(CAL.to_years()) == CAL
    with pytest.raises(InvalidError) as err:
        WorkingCalendar.from_json(b"[{")
    assert err.value.code == "calendar_malformed"
    with pytest.raises(InvalidError):
        WorkingCalendar.from_json(b'[{"year": "x"}]')


def test_calendar_china_date_converts_instants() -> None:
    late_utc = datetime(2026, 2, 13, 17, 30, tzinfo=UTC)
    assert china_date(late_utc) == D(2026, 2, 14)
    with pytest.raises(InvalidError):
        china_date(datetime(2026, 2, 13, 17, 30))


# ---- properties ------------------------------------------------------------------------------

COVERED = st.dates(D(2025, 1, 1), D(2026, 12, 31))
ANY = st.dates(D(2024, 6, 1), D(2027, 9, 30))
N = st.integers(0, 150)
PAUSE = st.tuples(ANY, st.integers(0, 40)).map(lambda t: (t[0], t[0] + timedelta(t[1])))
PAUSES = st.lists(PAUSE, max_size=4)
NEAR = st.lists(st.tuples(st.integers(-10, 80), st.integers(0, 20)), max_size=5)


def _near(start: date, offsets: Offsets) -> Pauses:
    """Pauses close to ``start``, so they overlap, nest and touch often."""
    return [(start + timedelta(a), start + timedelta(a + b)) for a, b in offsets]


FAST = settings(max_examples=200, deadline=None)


def _slow_add(start: date, n: int, pauses: Pauses) -> Deadline:
    """Day-by-day oracle built on day_kind only; provisional if it classified an uncovered day."""
    d, left, provisional = start, n, False
    while left:
        d += timedelta(1)
        if not any(a <= d <= b for a, b in pauses):
            provisional |= not CAL.covers(d)
            left -= CAL.is_workday(d)
    return Deadline(d, provisional)


@FAST
@given(ANY, N, PAUSES, NEAR)
def test_calendar_prop_matches_day_by_day_oracle(
    start: date, n: int, pauses: Pauses, near: Offsets
) -> None:
    pauses = [*pauses, *_near(start, near)]
    assert CAL.add_working_days(start, n, pauses=pauses) == _slow_add(start, n, pauses)


@FAST
@given(COVERED, N)
def test_calendar_prop_between_inverts_add(start: date, n: int) -> None:
    due = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, due.due).days == n
    assert CAL.working_days_between(due.due, start).days == -n


@FAST
@given(ANY, N, PAUSES)
def test_calendar_prop_between_inverts_add_with_pauses_anywhere(
    start: date, n: int, pauses: Pauses
) -> None:
    due = CAL.add_working_days(start, n, pauses=pauses)
    count = CAL.working_days_between(start, due.due, pauses=pauses)
    assert count.days == n
    assert count.provisional == due.provisional


@FAST
@given(ANY, ANY, N, N)
def test_calendar_prop_add_is_monotonic(s1: date, s2: date, n1: int, n2: int) -> None:
    s1, s2 = min(s1, s2), max(s1, s2)
    n1, n2 = min(n1, n2), max(n1, n2)
    assert CAL.add_working_days(s1, n1).due <= CAL.add_working_days(s1, n2).due
    assert CAL.add_working_days(s1, n1).due <= CAL.add_working_days(s2, n1).due
    assert CAL.add_calendar_days(s1, n1).due <= CAL.add_calendar_days(s2, n1).due


@FAST
@given(ANY, st.integers(1, 150), PAUSES)
def test_calendar_prop_due_is_a_working_day(start: date, n: int, pauses: Pauses) -> None:
    assert CAL.is_workday(CAL.add_working_days(start, n, pauses=pauses).due)
    due = CAL.add_calendar_days(start, n, pauses=pauses).due
    assert CAL.is_workday(due)
    assert not any(a <= due <= b for a, b in pauses)


def _rest_runs() -> list[tuple[date, date]]:
    runs, d = [], D(2025, 1, 1)
    while d <= D(2026, 12, 31):
        if not CAL.is_workday(d):
            first = d
            while not CAL.is_workday(d + timedelta(1)):
                d += timedelta(1)
            runs.append((first, d))
        d += timedelta(1)
    return runs


REST_PAUSE = st.sampled_from(_rest_runs()).flatmap(
    lambda r: st.tuples(st.dates(r[0], r[1]), st.dates(r[0], r[1])).map(lambda t: (min(t), max(t)))
)


@FAST
@given(COVERED, N, PAUSES, PAUSE, st.lists(REST_PAUSE, max_size=3))
def test_calendar_prop_pauses_never_make_it_earlier(
    start: date, n: int, pauses: Pauses, extra: Pause, rest_only: Pauses
) -> None:
    base = CAL.add_working_days(start, n, pauses=pauses).due
    assert CAL.add_working_days(start, n, pauses=[*pauses, extra]).due >= base
    assert CAL.add_working_days(start, n, pauses=[*pauses, *rest_only]).due == base
    assert CAL.add_working_days(start, n, pauses=rest_only) == CAL.add_working_days(start, n)


@FAST
@given(ANY, N, N, PAUSES)
def test_calendar_prop_add_composes(start: date, a: int, b: int, pauses: Pauses) -> None:
    assert CAL.add_working_days(CAL.add_working_days(start, a).due, b).due == (
        CAL.add_working_days(start, a + b).due
    )
    mid = CAL.add_working_days(start, a, pauses=pauses).due
    assert CAL.add_working_days(mid, b, pauses=pauses).due == (
        CAL.add_working_days(start, a + b, pauses=pauses).due
    )


NAME = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
RANGE = st.builds(HolidayRange, name=NAME, first=st.dates(), last=st.dates())
YEAR = st.builds(
    CalendarYear,
    year=st.integers(-(2**40), 2**40),
    holidays=st.lists(RANGE, max_size=8).map(tuple),
    makeup_workdays=st.lists(st.dates(), max_size=8).map(tuple),
    source=NAME,
)


@FAST
@given(YEAR)
def test_calendar_prop_calendar_year_json_round_trip(year: CalendarYear) -> None:
    data = msgspec.json.encode(year)
    assert msgspec.json.decode(data, type=CalendarYear) == year
    assert msgspec.json.decode(msgspec.json.encode([year]), type=list[CalendarYear]) == [year]
