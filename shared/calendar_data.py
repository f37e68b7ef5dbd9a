"""The calendar's data: one year's arrangement, its checks, and the official 2025 and 2026 years.

A State Council notice (放假安排) fixes, for one year, the rest ranges and the 调休 make-up working
days. :class:`CalendarYear` holds exactly that and checks it for data-entry mistakes before the
working calendar (``shared.calendar``) accepts it. The two shipped years are typed from:

* 2025: https://www.gov.cn/zhengce/content/202411/content_6986382.htm (published 2024-11-12)
* 2026: https://www.gov.cn/zhengce/content/202511/content_7047090.htm (published 2025-11-04)

Later years are added by an administrator from the next notice (``WorkingCalendar.with_year``),
not by editing this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import msgspec

__all__ = [
    "FIXED_HOLIDAYS",
    "OFFICIAL_YEARS",
    "YEAR_2025",
    "YEAR_2026",
    "CalendarYear",
    "HolidayRange",
    "fixed_holidays",
]

FIXED_HOLIDAYS = ((1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3))
"""(month, day) of the fixed-date holidays of the 2024 全国年节及纪念日放假办法, from 2025."""
_FIXED_HOLIDAYS_OLD = ((1, 1), (5, 1), (10, 1), (10, 2), (10, 3))  # 2013 办法, before 2025
_MIN_YEAR = 1950
_MAX_YEAR = 9000
_MAX_RANGE_DAYS = 15  # the longest break ever announced is 10 days; longer is a typo
_WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def fixed_holidays(year: int) -> tuple[tuple[int, int], ...]:
    """(month, day) of the statutory holidays whose date does not depend on the lunar calendar."""
    return FIXED_HOLIDAYS if year >= 2025 else _FIXED_HOLIDAYS_OLD


class HolidayRange(msgspec.Struct, frozen=True, kw_only=True):
    """One rest range of a notice, e.g. 春节 2026-02-15 to 2026-02-23 (both inclusive)."""

    name: str
    first: date
    last: date


class CalendarYear(msgspec.Struct, frozen=True, kw_only=True):
    """One year's official arrangement, as published in the State Council notice.

    Attributes:
        year: the calendar year the arrangement covers.
        holidays: rest ranges (放假); each must lie inside ``year``.
        makeup_workdays: Saturdays and Sundays declared working days (调休上班).
        source: title and number of the notice the data was taken from.
    """

    year: int
    holidays: tuple[HolidayRange, ...]
    makeup_workdays: tuple[date, ...]
    source: str = ""

    def rest_days(self) -> tuple[date, ...]:
        """Every day inside a rest range, sorted and without repeats."""
        days = {
            date.fromordinal(o)
            for r in self.holidays
            for o in range(r.first.toordinal(), r.last.toordinal() + 1)
        }
        return tuple(sorted(days))

    def validate(self) -> list[str]:
        """Check the arrangement for data-entry mistakes.

        Returns:
            Problems in Chinese, one per mistake; empty when the year is usable.
        """
        y = self.year
        if not _MIN_YEAR <= y <= _MAX_YEAR:
            return [f"年份 {y} 不在 {_MIN_YEAR}–{_MAX_YEAR} 之间"]
        problems: list[str] = []
        label = f"{y}年"
        for r in self.holidays:
            what = f"{label}「{r.name.strip() or '未命名'}」放假区间 {r.first} 至 {r.last}"
            if not r.name.strip():
                problems.append(f"{what}：没有填写节日名称")
            if r.first > r.last:
                problems.append(f"{what}：开始日期晚于结束日期")
            elif r.first.year != y or r.last.year != y:
                problems.append(f"{what}：不在{y}年内（跨年的日期请录入到所属年份）")
            elif (r.last - r.first).days + 1 > _MAX_RANGE_DAYS:
                problems.append(f"{what}：超过{_MAX_RANGE_DAYS}天，请核对通知原文")
        problems += _overlap_problems(label, self.holidays)
        rest = set(self.rest_days())
        seen: set[date] = set()
        for d in self.makeup_workdays:
            what = f"{label}调休上班日 {d}（{_WEEKDAY_NAMES[d.weekday()]}）"
            if d in seen:
                problems.append(f"{what}：重复录入")
                continue
            seen.add(d)
            if d.year != y:
                problems.append(f"{what}：不在{y}年内")
            if d.weekday() < 5:
                problems.append(f"{what}：不是周六或周日，平日本来就上班，无需列出")
            if d in rest:
                problems.append(f"{what}：落在放假区间内，不能既放假又上班")
        if y >= 2025:
            for m, dd in FIXED_HOLIDAYS:
                if date(y, m, dd) not in rest:
                    problems.append(f"{label}法定节假日 {date(y, m, dd)} 不在任何放假区间内")
        return problems


def _overlap_problems(label: str, ranges: Sequence[HolidayRange]) -> list[str]:
    problems: list[str] = []
    ordered = sorted((r for r in ranges if r.first <= r.last), key=lambda r: (r.first, r.last))
    reach: HolidayRange | None = None  # the range reaching furthest so far
    for r in ordered:
        if reach is not None and r.first <= reach.last:
            problems.append(
                f"{label}放假区间重叠：「{reach.name}」{reach.first} 至 {reach.last} 与"
                f"「{r.name}」{r.first} 至 {r.last}"
            )
        if reach is None or r.last > reach.last:
            reach = r
    return problems


YEAR_2025 = CalendarYear(
    year=2025,
    holidays=(
        HolidayRange(name="元旦", first=date(2025, 1, 1), last=date(2025, 1, 1)),
        HolidayRange(name="春节", first=date(2025, 1, 28), last=date(2025, 2, 4)),
        HolidayRange(name="清明节", first=date(2025, 4, 4), last=date(2025, 4, 6)),
        HolidayRange(name="劳动节", first=date(2025, 5, 1), last=date(2025, 5, 5)),
        HolidayRange(name="端午节", first=date(2025, 5, 31), last=date(2025, 6, 2)),
        HolidayRange(name="国庆节、中秋节", first=date(2025, 10, 1), last=date(2025, 10, 8)),
    ),
    makeup_workdays=(
        date(2025, 1, 26),  # Sun, 春节
        date(2025, 2, 8),  # Sat, 春节
        date(2025, 4, 27),  # Sun, 劳动节
        date(2025, 9, 28),  # Sun, 国庆节、中秋节
        date(2025, 10, 11),  # Sat, 国庆节、中秋节
    ),
    source="国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号）",
)

YEAR_2026 = CalendarYear(
    year=2026,
    holidays=(
        HolidayRange(name="元旦", first=date(2026, 1, 1), last=date(2026, 1, 3)),
        HolidayRange(name="春节", first=date(2026, 2, 15), last=date(2026, 2, 23)),
        HolidayRange(name="清明节", first=date(2026, 4, 4), last=date(2026, 4, 6)),
        HolidayRange(name="劳动节", first=date(2026, 5, 1), last=date(2026, 5, 5)),
        HolidayRange(name="端午节", first=date(2026, 6, 19), last=date(2026, 6, 21)),
        HolidayRange(name="中秋节", first=date(2026, 9, 25), last=date(2026, 9, 27)),
        HolidayRange(name="国庆节", first=date(2026, 10, 1), last=date(2026, 10, 7)),
    ),
    makeup_workdays=(
        date(2026, 1, 4),  # Sun, 元旦
        date(2026, 2, 14),  # Sat, 春节
        date(2026, 2, 28),  # Sat, 春节
        date(2026, 5, 9),  # Sat, 劳动节
        date(2026, 9, 20),  # Sun, 国庆节
        date(2026, 10, 10),  # Sat, 国庆节
    ),
    source="国务院办公厅关于2026年部分节假日安排的通知（国办发明电〔2025〕7号）",
)

OFFICIAL_YEARS: tuple[CalendarYear, ...] = (YEAR_2025, YEAR_2026)
