"""``tongban calendar``: the deadline questions clerks and administrators ask.

These commands call exactly the code the services use, so the answer at the command line is
the answer on a notice.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import msgspec

from shared.calendar import CalendarYear, WorkingCalendar, official_calendar
from shared.errors import InvalidError, NotFoundError
from shared.terms import LimitUnit

PROVISIONAL_NOTE = "（暂定：计算涉及尚未公布放假安排的年份，公布后须重新计算）"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``calendar due``, ``calendar between`` and ``calendar show``."""
    calendar = commands.add_parser("calendar", help="工作日日历与办理期限计算")
    sub = calendar.add_subparsers(dest="calendar_command", required=True)

    due = sub.add_parser(
        "due",
        help="期限到期日：自 START 次日起算 N 个工作日",
        description="按《行政许可法》计算期限：受理当日不计，自次日起算，扣除法定节假日，调休上班日计入。",
    )
    due.add_argument("start", type=_date, help="起算日（受理日），如 2026-02-06")
    due.add_argument("days", type=int, help="期限天数")
    due.add_argument(
        "--pause",
        nargs=2,
        action="append",
        type=_date,
        default=[],
        metavar=("FROM", "TO"),
        help="不计入期限的特别程序期间（含首尾两日），可重复",
    )
    due.add_argument("--calendar-days", action="store_true", help="期限以自然日计（默认工作日）")
    _add_year_option(due)
    due.set_defaults(handler=_due)

    between = sub.add_parser("between", help="两个日期之间的工作日数（A 之后至 B 当日）")
    between.add_argument("a", type=_date)
    between.add_argument("b", type=_date)
    _add_year_option(between)
    between.set_defaults(handler=_between)

    show = sub.add_parser("show", help="列出某年的放假与调休安排，用于核对新录入的通知")
    show.add_argument("year", type=int)
    _add_year_option(show)
    show.set_defaults(handler=_show)


def _add_year_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--add-year",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="追加一年放假安排（JSON，CalendarYear 格式），用于核对尚未发布的安排",
    )


def calendar_from(args: argparse.Namespace) -> WorkingCalendar:
    """The official calendar plus any years given with ``--add-year``."""
    calendar = official_calendar()
    for path in args.add_year:
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(f"找不到放假安排文件：{path}") from exc
        try:
            year = msgspec.json.decode(raw, type=CalendarYear)
        except msgspec.DecodeError as exc:
            raise InvalidError(f"放假安排文件格式错误（{path}）：{exc}") from exc
        calendar = calendar.with_year(year)
    return calendar


def _due(args: argparse.Namespace) -> int:
    calendar = calendar_from(args)
    unit = LimitUnit.CALENDAR_DAYS if args.calendar_days else LimitUnit.WORKING_DAYS
    pauses = [(first, last) for first, last in args.pause]
    deadline = calendar.add_days(args.start, args.days, unit, pauses=pauses)
    print(deadline.due.isoformat())
    if deadline.provisional:
        print(PROVISIONAL_NOTE)
    return 0


def _between(args: argparse.Namespace) -> int:
    count = calendar_from(args).working_days_between(args.a, args.b)
    print(count.days)
    if count.provisional:
        print(PROVISIONAL_NOTE)
    return 0


def _show(args: argparse.Namespace) -> int:
    calendar = calendar_from(args)
    year = next((y for y in calendar.to_years() if y.year == args.year), None)
    if year is None:
        covered = "、".join(str(y.year) for y in calendar.to_years())
        raise NotFoundError(f"尚未录入 {args.year} 年放假安排（已录入：{covered}）。")
    print(f"{year.year} 年放假安排  来源：{year.source or '未注明'}")
    for holiday in year.holidays:
        days = (holiday.last - holiday.first).days + 1
        print(f"  {holiday.name}：{holiday.first} 至 {holiday.last}，共 {days} 天")
    makeup = "、".join(d.isoformat() for d in year.makeup_workdays) or "无"
    print(f"  调休上班日：{makeup}")
    workdays = calendar.workdays_in(date(year.year, 1, 1), date(year.year, 12, 31))
    print(f"  全年工作日：{len(workdays)} 天")
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD，收到：{text}") from exc
