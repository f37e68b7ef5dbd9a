"""Working-day calendar and the deadline arithmetic of the 行政许可法.

Agency periods under 行政许可法 art. 82 are counted in working days and skip the official
holidays, so deadlines come from the State Council's yearly arrangement (放假安排), 调休
included. Each year is data (:class:`CalendarYear`): its rest ranges and its make-up working
days. An administrator adds next year's notice with :meth:`WorkingCalendar.with_year`.

Rules:

* **Working day.** A Monday to Friday outside every holiday range, or a listed make-up day
  (调休上班日, usually a Saturday or Sunday). A day inside a holiday range is a rest day
  (``HOLIDAY``) even when it is a weekend.
* **Counting starts the next day** (次日起算). ``add_working_days(start, n)`` is the n-th counted
  working day after ``start``; ``n == 0`` means on the spot and returns ``start`` itself.
* **Pauses** (art. 45 听证、检验、鉴定、专家评审 …, local 特别程序) are inclusive date intervals.
  Working days inside them are not counted; they may overlap or come in any order.
* **Calendar-day limits** (自然日): ``start + n`` days, plus the days inside pauses; a result on
  a rest day moves to the next working day outside every pause (the period ends on the first
  working day after the rest, as in 民法典 art. 203).
* **Counting between dates.** ``working_days_between(a, b)`` counts working days d with
  a < d <= b, so it inverts ``add_working_days``. It is negative when b < a.
* **Coverage guard.** Outside the published years there is no official arrangement. Such days are
  decided provisionally: Monday to Friday is a working day except the fixed-date statutory
  holidays (1 Jan; 1–2 May; 1–3 Oct under the 2024 全国年节及纪念日放假办法, 2 May only from
  2025). The lunar holidays and all 调休 cannot be placed without the notice. Every result that
  had to classify such a day carries ``provisional=True``; nothing raises for it.

Covered years are precomputed into a sorted array of working-day ordinals, so adding and
counting cost O(log n) plus O(number of pauses).
"""

from __future__ import annotations

import functools
import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

import msgspec

from shared.calendar_data import OFFICIAL_YEARS, CalendarYear, HolidayRange, fixed_holidays
from shared.errors import InvalidError, ValidationError
from shared.terms import LimitUnit

__all__ = [
    "CHINA_TZ",
    "CalendarYear",
    "DayCount",
    "DayKind",
    "Deadline",
    "HolidayRange",
    "WorkingCalendar",
    "china_date",
    "official_calendar",
]

CHINA_TZ = timezone(timedelta(hours=8))
"""China Standard Time. China has no daylight saving time."""


class DayKind(StrEnum):
    """What kind of day a date is in the working calendar."""

    WORKDAY = "workday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"  # inside an official rest range, weekends included
    MAKEUP = "makeup"  # 调休上班日: a Saturday or Sunday that is a working day

    @property
    def is_working(self) -> bool:
        """Whether an office is open on such a day."""
        return self in (DayKind.WORKDAY, DayKind.MAKEUP)

    @property
    def label(self) -> str:
        """Chinese name shown to clerks."""
        return {
            "workday": "工作日",
            "weekend": "周末",
            "holiday": "节假日",
            "makeup": "调休上班日",
        }[self.value]


class Deadline(msgspec.Struct, frozen=True):
    """A computed due date; ``provisional`` when it relied on days outside the published years."""

    due: date
    provisional: bool


class DayCount(msgspec.Struct, frozen=True):
    """A number of working days; ``provisional`` as for :class:`Deadline`."""

    days: int
    provisional: bool


def china_date(instant: datetime) -> date:
    """The date in China of a timezone-aware instant.

    Raises:
        InvalidError: ``instant`` has no timezone.
    """
    if instant.utcoffset() is None:
        raise InvalidError("时间缺少时区信息，无法确定对应的北京日期", code="naive_datetime")
    return instant.astimezone(CHINA_TZ).date()


def _ordinal(day: date, what: str) -> int:
    if isinstance(day, datetime):
        raise InvalidError(f"{what}应为日期，不应带时刻：{day.isoformat()}", code="date_expected")
    return day.toordinal()


def _weekdays_upto(o: int) -> int:
    # Ordinal 1 (0001-01-01) is a Monday, so every block of 7 ordinals holds 5 weekdays.
    return (o // 7) * 5 + min(o % 7, 5)


def _provisional_count(a: int, b: int) -> int:
    """Working days in (a, b] under the provisional rule; 0 when b <= a."""
    if b <= a:
        return 0
    n = _weekdays_upto(b) - _weekdays_upto(a)
    for year in range(date.fromordinal(a + 1).year, date.fromordinal(b).year + 1):
        for m, d in fixed_holidays(year):
            o = date(year, m, d).toordinal()
            if a < o <= b and (o - 1) % 7 < 5:
                n -= 1
    return n


def _provisional_nth(c: int, k: int) -> int:
    """The k-th (k >= 1) provisional working day after ordinal c."""
    limit = date.max.toordinal()
    hi = c + 2 * k + 14
    while hi <= limit and _provisional_count(c, hi) < k:
        hi = c + 2 * (hi - c)
    if hi > limit:
        raise InvalidError("期限超出可计算的日期范围", code="date_out_of_range")
    lo = c + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _provisional_count(c, mid) >= k:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _merge_pauses(pauses: Sequence[tuple[date, date]], after: int, upto: int) -> list[list[int]]:
    """Pauses as sorted, disjoint ``[first, last]`` ordinals clipped to (after, upto]."""
    spans: list[tuple[int, int]] = []
    for first, last in pauses:
        lo, hi = _ordinal(first, "暂停开始日"), _ordinal(last, "暂停结束日")
        if lo > hi:
            raise InvalidError(
                f"暂停区间 {first} 至 {last} 的开始日期晚于结束日期", code="pause_reversed"
            )
        lo, hi = max(lo, after + 1), min(hi, upto)
        if lo <= hi:
            spans.append((lo, hi))
    merged: list[list[int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged


def _check_n(n: int) -> None:
    if n < 0:
        raise InvalidError(f"期限天数不能为负数：{n}", code="negative_limit")


class WorkingCalendar:
    """The official working calendar over one or more contiguous published years.

    Instances are immutable; :meth:`with_year` returns a new calendar.
    """

    __slots__ = ("_first", "_kinds", "_last", "_workdays", "_years")

    def __init__(self, years: Iterable[CalendarYear]) -> None:
        """Build the calendar.

        Raises:
            ValidationError: a year's data is wrong, a year is repeated or missing in between,
                or no year was given.
        """
        ordered = tuple(sorted(years, key=lambda y: y.year))
        problems = [p for y in ordered for p in y.validate()]
        if not ordered:
            problems.append("至少需要录入一个年度的放假安排")
        for prev, cur in itertools.pairwise(ordered):
            if cur.year == prev.year:
                problems.append(f"{cur.year}年的放假安排录入了不止一次")
            elif cur.year != prev.year + 1:
                gap = " 至 ".join(dict.fromkeys((f"{prev.year + 1}年", f"{cur.year - 1}年")))
                problems.append(f"缺少{gap}的放假安排：录入的年份必须连续")
        if problems:
            raise ValidationError(problems)
        self._years = ordered
        self._first = date(ordered[0].year, 1, 1).toordinal()
        self._last = date(ordered[-1].year, 12, 31).toordinal()
        kinds: dict[int, DayKind] = {}
        for y in ordered:
            for d in y.rest_days():
                kinds[d.toordinal()] = DayKind.HOLIDAY
            for d in y.makeup_workdays:
                kinds[d.toordinal()] = DayKind.MAKEUP
        self._kinds = kinds
        self._workdays = [
            o
            for o in range(self._first, self._last + 1)
            if kinds.get(o, DayKind.WORKDAY if (o - 1) % 7 < 5 else DayKind.WEEKEND).is_working
        ]

    @property
    def years(self) -> tuple[CalendarYear, ...]:
        """The published years, oldest first."""
        return self._years

    @property
    def first_covered(self) -> date:
        """First day decided by an official notice."""
        return date.fromordinal(self._first)

    @property
    def last_covered(self) -> date:
        """Last day decided by an official notice."""
        return date.fromordinal(self._last)

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.first_covered}..{self.last_covered})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WorkingCalendar) and other._years == self._years

    def __hash__(self) -> int:
        return hash(self._years)

    def covers(self, day: date) -> bool:
        """Whether ``day`` lies inside the published years."""
        return self._first <= _ordinal(day, "日期") <= self._last

    def _kind(self, o: int) -> tuple[DayKind, bool]:
        if self._first <= o <= self._last:
            found = self._kinds.get(o)
            if found is not None:
                return found, False
            return (DayKind.WORKDAY if (o - 1) % 7 < 5 else DayKind.WEEKEND), False
        d = date.fromordinal(o)
        if (d.month, d.day) in fixed_holidays(d.year):
            return DayKind.HOLIDAY, True
        return (DayKind.WORKDAY if d.weekday() < 5 else DayKind.WEEKEND), True

    def day_kind(self, day: date) -> DayKind:
        """Kind of ``day``; outside coverage this is the provisional guess (see module doc)."""
        return self._kind(_ordinal(day, "日期"))[0]

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day (provisionally so outside coverage)."""
        return self.day_kind(day).is_working

    def _count(self, a: int, b: int) -> tuple[int, bool]:
        """Working days in (a, b] and whether any uncovered day was looked at."""
        if b <= a:
            return 0, False
        n, provisional = 0, False
        if a < self._first - 1:
            n += _provisional_count(a, min(b, self._first - 1))
            provisional = True
        lo, hi = max(a, self._first - 1), min(b, self._last)
        if lo < hi:
            n += bisect_right(self._workdays, hi) - bisect_right(self._workdays, lo)
        if b > self._last:
            n += _provisional_count(max(a, self._last), b)
            provisional = True
        return n, provisional

    def _nth(self, c: int, k: int) -> tuple[int, bool]:
        """The k-th (k >= 1) working day after ordinal c."""
        provisional = False
        if c < self._first - 1:
            provisional = True
            before = _provisional_count(c, self._first - 1)
            if before >= k:
                return _provisional_nth(c, k), True
            k, c = k - before, self._first - 1
        if c < self._last:
            i = bisect_right(self._workdays, c)
            if i + k - 1 < len(self._workdays):
                return self._workdays[i + k - 1], provisional
            k, c = k - (len(self._workdays) - i), self._last
        return _provisional_nth(c, k), True

    def add_working_days(
        self, start: date, n: int, *, pauses: Sequence[tuple[date, date]] = ()
    ) -> Deadline:
        """Due date of an n-working-day limit that starts the day after ``start``.

        Args:
            start: the day the clock starts (e.g. acceptance); it is never counted itself.
            n: the limit in working days; 0 means on the spot.
            pauses: inclusive intervals whose working days do not count (art. 45).

        Returns:
            The n-th counted working day after ``start``.

        Raises:
            InvalidError: ``n`` is negative, or a pause ends before it starts.
        """
        s = _ordinal(start, "起算日")
        _check_n(n)
        if n == 0:
            return Deadline(start, False)
        cursor, remaining, provisional = s, n, False
        for lo, hi in _merge_pauses(pauses, s, date.max.toordinal()):
            available, looked = self._count(cursor, lo - 1)
            if available >= remaining:
                break
            remaining -= available
            provisional |= looked
            cursor = hi
        due, looked = self._nth(cursor, remaining)
        return Deadline(date.fromordinal(due), provisional or looked)

    def add_calendar_days(
        self, start: date, n: int, *, pauses: Sequence[tuple[date, date]] = ()
    ) -> Deadline:
        """Due date of an n-calendar-day (自然日) limit that starts the day after ``start``.

        Days inside pauses are not counted. A result on a rest day moves to the next working day
        outside every pause. ``n == 0`` returns ``start`` (on the spot).

        Raises:
            InvalidError: ``n`` is negative, or a pause ends before it starts.
        """
        s = _ordinal(start, "起算日")
        _check_n(n)
        if n == 0:
            return Deadline(start, False)
        merged = _merge_pauses(pauses, s, date.max.toordinal())
        cursor, remaining = s, n
        for lo, hi in merged:
            if lo - 1 - cursor >= remaining:
                break
            remaining -= lo - 1 - cursor
            cursor = hi
        due, provisional = cursor + remaining, False
        starts = [lo for lo, _ in merged]
        while True:
            i = bisect_right(starts, due) - 1
            if i >= 0 and due <= merged[i][1]:
                due = merged[i][1] + 1
                continue
            kind, looked = self._kind(due)
            provisional |= looked
            if kind.is_working:
                return Deadline(date.fromordinal(due), provisional)
            due += 1

    def add_days(
        self,
        start: date,
        n: int,
        unit: LimitUnit,
        *,
        pauses: Sequence[tuple[date, date]] = (),
    ) -> Deadline:
        """Due date of a limit in ``unit``: dispatches to the working- or calendar-day rule."""
        if unit is LimitUnit.WORKING_DAYS:
            return self.add_working_days(start, n, pauses=pauses)
        return self.add_calendar_days(start, n, pauses=pauses)

    def working_days_between(
        self, a: date, b: date, *, pauses: Sequence[tuple[date, date]] = ()
    ) -> DayCount:
        """Working days d with a < d <= b outside every pause; negative when b < a."""
        lo, hi = _ordinal(a, "开始日期"), _ordinal(b, "结束日期")
        sign = 1
        if hi < lo:
            lo, hi, sign = hi, lo, -1
        n, provisional, cursor = 0, False, lo
        for p_lo, p_hi in _merge_pauses(pauses, lo, hi):
            counted, looked = self._count(cursor, p_lo - 1)
            n, provisional, cursor = n + counted, provisional or looked, p_hi
        counted, looked = self._count(cursor, hi)
        return DayCount(sign * (n + counted), provisional or looked)

    def workdays_in(self, first: date, last: date) -> tuple[date, ...]:
        """Covered working days in [first, last], for display (uncovered days are left out)."""
        i = bisect_left(self._workdays, _ordinal(first, "开始日期"))
        j = bisect_right(self._workdays, _ordinal(last, "结束日期"))
        return tuple(date.fromordinal(o) for o in self._workdays[i:j])

    def with_year(self, year: CalendarYear) -> WorkingCalendar:
        """A new calendar with ``year`` added, or replacing the year of the same number.

        Raises:
            ValidationError: the year's data is wrong or would leave a gap.
        """
        return WorkingCalendar([*(y for y in self._years if y.year != year.year), year])

    def to_years(self) -> tuple[CalendarYear, ...]:
        """The years to persist; ``WorkingCalendar(cal.to_years())`` rebuilds the calendar."""
        return self._years

    def to_json(self) -> bytes:
        """JSON array of the years (msgspec encoding, lossless)."""
        return msgspec.json.encode(self._years)

    @classmethod
    def from_json(cls, data: bytes | str) -> WorkingCalendar:
        """Rebuild a calendar from :meth:`to_json` output.

        Raises:
            InvalidError: the JSON is malformed. ValidationError: the years are inconsistent.
        """
        try:
            years = msgspec.json.decode(data, type=tuple[CalendarYear, ...])
        except msgspec.ValidationError as exc:
            raise InvalidError(f"放假安排数据格式错误：{exc}", code="calendar_malformed") from exc
        except msgspec.DecodeError as exc:
            raise InvalidError(
                f"放假安排数据不是有效的JSON：{exc}", code="calendar_malformed"
            ) from exc
        return cls(years)


@functools.lru_cache(maxsize=16)
def calendar_for(years: tuple[CalendarYear, ...]) -> WorkingCalendar:
    """The calendar of these years, built once: every release repeats the same years, and
    building the calendar costs far more than the deadlines computed with it."""
    return WorkingCalendar(years)


@functools.cache
def official_calendar() -> WorkingCalendar:
    """The calendar of the official notices shipped with tongban (2025 and 2026)."""
    return WorkingCalendar(OFFICIAL_YEARS)
