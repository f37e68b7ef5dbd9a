"""Performance indicators (绩效评估) of the county's cases, per period and group.

Definitions (domain standards §3.5; every ratio is None when its denominator is 0):

* 受理量: cases accepted in the period; 办结率 = those of them finished by the period's end ÷
  受理量.
* 办结量: cases finished in the period; 按时办结率 = (on time + early) ÷ finished cases that had
  a promised limit; 提前办结率 = finished at least one working day early ÷ the same.
* 超期: finished late in the period, plus cases still open whose promised due day falls in or
  before the period and has passed; 超期天数 sums their working days past the due day.
  超法定时限 (illegal) is counted separately.
* 平均办理时长 = working days from acceptance to completion ÷ cases measured; 提速率 = 1 − Σused
  ÷ Σstatutory; 承诺压缩率 = 1 − Σpromised ÷ Σstatutory. Every one of these working-day counts
  leaves out the days of 特别程序 (art. 45), as the limits themselves do.
* 好评率 = (5 + 4) ÷ ratings; 差评率 = (2 + 1) ÷ ratings; 满意率 = (5 + 4 + 3) ÷ ratings;
  差评整改率 = bad ratings rectified ÷ bad ratings; 按期整改率 = rectified by the due day
  (``rectify_days`` working days after the rating) ÷ bad ratings; 回访率 = called back ÷ bad.
* 投诉: filed in the period, answered, answered by the due day (投诉按时办结率).

Groups: node, tier, department (the item's implementing body), item, the clerk who accepted
(受理人), the one who decided (决定人), or the whole subtree. A clerk is an account of one node,
so the same username at two nodes makes two groups; ratings and complaints count for the
clerk who accepted or decided the case they concern.
Periods: a day, an ISO week (Monday first) or a calendar month; 环比 compares with the period just
before, 同比 with the same period a year earlier.
"""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from central.db.catalog_store import CatalogStore
from central.db.engine import close_database, make_engine, open_database
from central.db.performance_sql import (
    FOLLOWUP_UPSERT_SQL,
    Window,
    bad_ratings_sql,
    case_counts_sql,
    complaint_counts_sql,
    daily_sql,
    rating_counts_sql,
    rating_lookup_sql,
    refresh,
)
from central.db.reconcile_sql import Dialect, run, working_ordinal
from central.db.registry_store import RegistryStore
from central.services.accounts import node_filter
from central.services.performance_actors import refresh_actors
from central.services.reconcile import Reconciler
from central.services.releases import ReleaseService
from central.services.supervision_rules import RuleService
from central.settings import CentralSettings
from shared.calendar import china_date
from shared.catalog import Catalog
from shared.errors import InvalidError, NotFoundError, ValidationError
from shared.events import SYSTEM_ACTOR
from shared.registry import Registry

RECTIFY_DAYS = 15
"""Working days to rectify a bad rating (四川 practice; configurable per service)."""


class Grain(StrEnum):
    """The length of a period."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def label(self) -> str:
        """Chinese name."""
        return {"day": "日", "week": "周", "month": "月"}[self.value]


class GroupBy(StrEnum):
    """How indicators are broken down."""

    NODE = "node"
    TIER = "tier"
    DEPARTMENT = "department"
    ITEM = "item"
    ACCEPTOR = "acceptor"
    DECIDER = "decider"
    TOTAL = "total"

    @property
    def label(self) -> str:
        """Chinese name."""
        return {
            "node": "按站点",
            "tier": "按层级",
            "department": "按部门",
            "item": "按事项",
            "acceptor": "按受理人",
            "decider": "按决定人",
            "total": "合计",
        }[self.value]


@dataclass(frozen=True)
class Period:
    """A day, ISO week or month."""

    grain: Grain
    first: date
    last: date

    @classmethod
    def containing(cls, grain: Grain, day: date) -> Period:
        """The period of ``grain`` that contains ``day``."""
        if grain is Grain.DAY:
            return cls(grain, day, day)
        if grain is Grain.WEEK:
            first = day - timedelta(days=day.weekday())
            return cls(grain, first, first + timedelta(days=6))
        last_day = month_calendar.monthrange(day.year, day.month)[1]
        return cls(grain, day.replace(day=1), day.replace(day=last_day))

    def previous(self) -> Period:
        """The period just before (环比)."""
        return Period.containing(self.grain, self.first - timedelta(days=1))

    def year_before(self) -> Period:
        """The same period a year earlier (同比)."""
        if self.grain is Grain.WEEK:
            iso = self.first.isocalendar()
            try:
                first = date.fromisocalendar(iso.year - 1, iso.week, 1)
            except ValueError:  # week 53 has no counterpart: take the year's last week
                first = date.fromisocalendar(iso.year - 1, 52, 1)
            return Period.containing(self.grain, first)
        try:
            anchor = self.first.replace(year=self.first.year - 1)
        except ValueError:  # 29 February
            anchor = self.first.replace(year=self.first.year - 1, day=28)
        return Period.containing(self.grain, anchor)

    @property
    def label(self) -> str:
        """How the period is written on pages and in exports."""
        if self.grain is Grain.DAY:
            return self.first.isoformat()
        if self.grain is Grain.WEEK:
            iso = self.first.isocalendar()
            return f"{iso.year}年第{iso.week}周（{self.first}至{self.last}）"
        return f"{self.first.year}年{self.first.month}月"


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


@dataclass
class Indicators:
    """Additive counts of one group and period; ratios are computed from them."""

    accepted: int = 0
    accepted_finished: int = 0
    finished: int = 0
    timed: int = 0
    on_time: int = 0
    early: int = 0
    late: int = 0
    late_days: int = 0
    open_overdue: int = 0
    open_overdue_days: int = 0
    illegal: int = 0
    measured: int = 0
    used_wd: int = 0
    promised_wd: int = 0
    statutory_wd: int = 0
    ratings: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    rectified: int = 0
    rectified_in_time: int = 0
    called_back: int = 0
    complaints: int = 0
    complaints_answered: int = 0
    complaints_in_time: int = 0
    complaints_overdue: int = 0

    def add(self, other: Indicators) -> None:
        """Add another group's counts to these."""
        for f in fields(self):
            if f.name == "ratings":
                for level, n in other.ratings.items():
                    self.ratings[level] = self.ratings.get(level, 0) + n
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def finish_rate(self) -> float | None:
        """办结率."""
        return _ratio(self.accepted_finished, self.accepted)

    @property
    def on_time_rate(self) -> float | None:
        """按时办结率."""
        return _ratio(self.on_time, self.timed)

    @property
    def early_rate(self) -> float | None:
        """提前办结率."""
        return _ratio(self.early, self.timed)

    @property
    def overdue(self) -> int:
        """超期件: finished late plus still open past the due day."""
        return self.late + self.open_overdue

    @property
    def overdue_days(self) -> int:
        """超期工作日合计."""
        return self.late_days + self.open_overdue_days

    @property
    def average_days(self) -> float | None:
        """平均办理时长 (working days)."""
        return _ratio(self.used_wd, self.measured)

    @property
    def speedup(self) -> float | None:
        """提速率: 1 − used ÷ statutory."""
        ratio = _ratio(self.used_wd, self.statutory_wd)
        return None if ratio is None else 1 - ratio

    @property
    def used_vs_promised(self) -> float | None:
        """Working days used ÷ promised."""
        return _ratio(self.used_wd, self.promised_wd)

    @property
    def promise_compression(self) -> float | None:
        """承诺压缩率: 1 − promised ÷ statutory over the finished cases."""
        ratio = _ratio(self.promised_wd, self.statutory_wd)
        return None if ratio is None else 1 - ratio

    @property
    def rating_count(self) -> int:
        """Evaluations."""
        return sum(self.ratings.values())

    @property
    def bad_ratings(self) -> int:
        """差评 (levels 1-2)."""
        return self.ratings.get(1, 0) + self.ratings.get(2, 0)

    @property
    def good_rate(self) -> float | None:
        """好评率."""
        return _ratio(self.ratings.get(5, 0) + self.ratings.get(4, 0), self.rating_count)

    @property
    def bad_rate(self) -> float | None:
        """差评率."""
        return _ratio(self.bad_ratings, self.rating_count)

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率 (5 + 4 + 3)."""
        good = self.ratings.get(5, 0) + self.ratings.get(4, 0) + self.ratings.get(3, 0)
        return _ratio(good, self.rating_count)

    @property
    def rectify_rate(self) -> float | None:
        """差评整改率."""
        return _ratio(self.rectified, self.bad_ratings)

    @property
    def rectify_in_time_rate(self) -> float | None:
        """按期整改率."""
        return _ratio(self.rectified_in_time, self.bad_ratings)

    @property
    def callback_rate(self) -> float | None:
        """差评回访率."""
        return _ratio(self.called_back, self.bad_ratings)

    @property
    def complaint_in_time_rate(self) -> float | None:
        """投诉按时办结率."""
        return _ratio(self.complaints_in_time, self.complaints)


METRICS: dict[str, str] = {
    "finish_rate": "办结率",
    "on_time_rate": "按时办结率",
    "early_rate": "提前办结率",
    "overdue": "超期件",
    "average_days": "平均办理时长",
    "speedup": "提速率",
    "good_rate": "好评率",
    "bad_rate": "差评率",
    "complaints": "投诉件",
}
"""Indicators a ranking may sort by, with their Chinese names."""

LOWER_IS_BETTER = frozenset({"overdue", "average_days", "bad_rate", "complaints"})


@dataclass(frozen=True)
class GroupRow:
    """One group's indicators now, in the previous period (环比) and a year before (同比)."""

    key: str
    name: str
    current: Indicators
    previous: Indicators
    year_before: Indicators

    def change(self, metric: str, against: str) -> float | None:
        """Difference of ``metric`` from ``against`` (``previous`` or ``year_before``)."""
        now = _metric(self.current, metric)
        then = _metric(getattr(self, against), metric)
        if now is None or then is None:
            return None
        return float(now) - float(then)


def _metric(ind: Indicators, metric: str) -> float | int | None:
    value = getattr(ind, metric)
    return value if value is None else float(value) if isinstance(value, float) else int(value)


@dataclass(frozen=True)
class TrendPoint:
    """One bucket of a trend."""

    label: str
    accepted: int
    finished: int
    on_time_rate: float | None
    early_rate: float | None


class GroupKey(NamedTuple):
    """The finest grouping the indicator queries return; every page grouping adds these up."""

    node: str | None
    item: str | None
    accepted_node: str | None = None
    accepted_by: str | None = None
    decided_node: str | None = None
    decided_by: str | None = None


class PerformanceService:
    """Refreshes the performance tables and answers indicator queries."""

    def __init__(
        self,
        engine: Any,
        releases: ReleaseService,
        clock: Callable[[], datetime],
        *,
        rectify_days: int = RECTIFY_DAYS,
    ) -> None:
        self._engine = engine
        self._releases = releases
        self._clock = clock
        self._rectify_days = rectify_days
        self._dialect = Dialect(engine)

    def today(self) -> date:
        """Today in China."""
        return china_date(self._clock())

    async def refresh(self, today: date | None = None) -> None:
        """Rebuild the derived performance tables from the projected cases (and read who acted
        on the cases whose record changed).

        Raises:
            InvalidError: today lies outside the working-calendar table.
        """
        today = today or self.today()
        rules = RuleService(self._engine, self._clock)
        await Reconciler(self._engine, self._releases, rules, self._clock).sync_calendar(today)
        w_today = await working_ordinal(self._engine, today)
        if w_today is None:
            raise InvalidError(f"工作日历表不包含 {today}", code="calendar_table_short")
        await refresh_actors(self._engine)
        await refresh(self._engine, today=today, w_today=w_today, rectify_days=self._rectify_days)

    async def counts(
        self, period: Period, visible: frozenset[str] | None, today: date | None = None
    ) -> dict[GroupKey, Indicators]:
        """Indicators of ``period`` per :class:`GroupKey` inside the subtree ``visible``."""
        window = Window(period.first, period.last, today or self.today())
        where = node_filter(visible, "p.node")
        d = self._dialect
        found: dict[GroupKey, Indicators] = {}

        def slot(row: Any) -> Indicators:
            key = GroupKey(
                row["node"],
                row["item_code"],
                row["accepted_node"],
                row["accepted_by"],
                row["decided_node"],
                row["decided_by"],
            )
            return found.setdefault(key, Indicators())

        for row in await run(self._engine, case_counts_sql(d, window, where.sql), where.params):
            ind = slot(row)
            for name in (
                "accepted",
                "accepted_finished",
                "finished",
                "timed",
                "on_time",
                "early",
                "late",
                "late_days",
                "open_overdue",
                "open_overdue_days",
                "illegal",
                "measured",
                "used_wd",
                "promised_wd",
                "statutory_wd",
            ):
                setattr(ind, name, int(row[name] or 0))
        for row in await run(self._engine, rating_counts_sql(d, window, where.sql), where.params):
            ind = slot(row)
            level = int(row["level"])
            ind.ratings[level] = ind.ratings.get(level, 0) + int(row["n"])
            ind.rectified += int(row["rectified"] or 0)
            ind.rectified_in_time += int(row["rectified_in_time"] or 0)
            ind.called_back += int(row["called_back"] or 0)
        complaints = complaint_counts_sql(d, window, where.sql)
        for row in await run(self._engine, complaints, where.params):
            ind = slot(row)
            ind.complaints += int(row["filed"] or 0)
            ind.complaints_answered += int(row["answered"] or 0)
            ind.complaints_in_time += int(row["answered_in_time"] or 0)
            ind.complaints_overdue += int(row["answer_overdue"] or 0)
        return found

    def _grouper(self, group: GroupBy) -> Callable[[GroupKey], tuple[str, str]]:
        registry: Registry = self._releases.registry_now()
        catalog = self._catalog()

        def node_name(node: str | None) -> str:
            record = registry.get(node) if node else None
            return record.name if record else (node or "未知站点")

        def item_department(code: str | None) -> tuple[str, str]:
            if catalog is None or code is None:
                return ("", "未知部门")
            try:
                dept_code = catalog.item(code).lead_department
                return (dept_code, catalog.department(dept_code).name)
            except NotFoundError:
                return ("", "未知部门")

        def item_name(code: str | None) -> str:
            if catalog is None or code is None:
                return code or "未知事项"
            try:
                return f"{code} {catalog.item(code).name}"
            except NotFoundError:
                return code

        def clerk(node: str | None, actor: str | None, missing: str) -> tuple[str, str]:
            if actor is None:
                return ("", missing)
            who = "系统自动" if actor == SYSTEM_ACTOR else actor
            return (f"{node or ''}/{actor}", f"{who}（{node_name(node)}）")

        def by(key: GroupKey) -> tuple[str, str]:
            node, item = key.node, key.item
            if group is GroupBy.NODE:
                return (node or "", node_name(node))
            if group is GroupBy.TIER:
                record = registry.get(node) if node else None
                tier = record.tier.value if record else ""
                return (tier, _TIER_NAMES.get(tier, "未知层级"))
            if group is GroupBy.DEPARTMENT:
                return item_department(item)
            if group is GroupBy.ITEM:
                return (item or "", item_name(item))
            if group is GroupBy.ACCEPTOR:
                return clerk(key.accepted_node, key.accepted_by, "受理人未知")
            if group is GroupBy.DECIDER:
                return clerk(key.decided_node, key.decided_by, "尚未作出决定")
            return ("total", "合计")

        return by

    def _catalog(self) -> Catalog | None:
        current = self._releases.cached()
        return current.catalog if current is not None else None

    async def table(
        self,
        period: Period,
        group: GroupBy,
        visible: frozenset[str] | None,
        today: date | None = None,
    ) -> list[GroupRow]:
        """Indicators of each group for ``period``, with 环比 and 同比 figures."""
        by = self._grouper(group)
        sets = [
            await self.counts(p, visible, today)
            for p in (period, period.previous(), period.year_before())
        ]
        rolled: list[dict[str, Indicators]] = []
        names: dict[str, str] = {}
        for found in sets:
            acc: dict[str, Indicators] = {}
            for key, ind in found.items():
                code, name = by(key)
                names[code] = name
                acc.setdefault(code, Indicators()).add(ind)
            rolled.append(acc)
        keys = sorted(rolled[0].keys() | rolled[1].keys() | rolled[2].keys())
        return [
            GroupRow(
                key=k,
                name=names.get(k, k),
                current=rolled[0].get(k, Indicators()),
                previous=rolled[1].get(k, Indicators()),
                year_before=rolled[2].get(k, Indicators()),
            )
            for k in keys
        ]

    async def ranking(
        self,
        period: Period,
        group: GroupBy,
        metric: str,
        visible: frozenset[str] | None,
        today: date | None = None,
    ) -> list[GroupRow]:
        """Groups best first by ``metric``; groups without a value come last.

        Raises:
            InvalidError: unknown metric.
        """
        if metric not in METRICS:
            raise InvalidError(f"未知指标：{metric}", code="unknown_metric")
        rows = await self.table(period, group, visible, today)
        sign = 1 if metric in LOWER_IS_BETTER else -1

        def order(row: GroupRow) -> tuple[int, float, str]:
            value = _metric(row.current, metric)
            return (1, 0.0, row.key) if value is None else (0, sign * float(value), row.key)

        return sorted(rows, key=order)

    async def trend(
        self,
        first: date,
        last: date,
        grain: Grain,
        visible: frozenset[str] | None,
    ) -> list[TrendPoint]:
        """Accepted and finished cases and timeliness per day, week or month."""
        where = node_filter(visible, "p.node")
        window = Window(first, last, self.today())
        rows = await run(
            self._engine, daily_sql(self._dialect, window, where.sql), where.params * 2
        )
        buckets: dict[Period, list[int]] = {}
        day = first
        while day <= last:
            buckets.setdefault(Period.containing(grain, day), [0, 0, 0, 0, 0])
            day += timedelta(days=1)
        for row in rows:
            on = row["day"] if isinstance(row["day"], date) else date.fromisoformat(row["day"])
            bucket = buckets.setdefault(Period.containing(grain, on), [0, 0, 0, 0, 0])
            for i, name in enumerate(("accepted", "finished", "on_time", "early", "timed")):
                bucket[i] += int(row[name] or 0)
        return [
            TrendPoint(
                label=p.label if grain is not Grain.WEEK else f"{p.first:%m-%d}周",
                accepted=v[0],
                finished=v[1],
                on_time_rate=_ratio(v[2], v[4]),
                early_rate=_ratio(v[3], v[4]),
            )
            for p, v in sorted(buckets.items(), key=lambda pv: pv[0].first)
        ]

    async def record_followup(
        self,
        event_id: str,
        *,
        visible: frozenset[str] | None,
        rectified_on: date | None,
        rectify_note: str,
        called_back_on: date | None,
        callback_note: str,
        by: str,
    ) -> None:
        """Record the rectification and call-back of a bad rating.

        Raises:
            NotFoundError: no such bad rating in the user's subtree.
            ValidationError: a date lies in the future or before the rating.
        """
        where = node_filter(visible, "p.node")
        rows = await run(
            self._engine,
            rating_lookup_sql(where.sql),
            [event_id, *where.params],
        )
        if not rows:
            raise NotFoundError(f"没有编号为 {event_id} 的差评。", code="bad_rating_not_found")
        rated = rows[0]["rated_on"]
        rated_on = rated if isinstance(rated, date) else date.fromisoformat(str(rated))
        today = self.today()
        problems = [
            f"{label}应在 {rated_on} 至 {today} 之间"
            for label, value in (("整改日期", rectified_on), ("回访日期", called_back_on))
            if value is not None and (value > today or value < rated_on)
        ]
        if problems:
            raise ValidationError(problems)
        await run(
            self._engine,
            FOLLOWUP_UPSERT_SQL,
            [
                event_id,
                rows[0]["case_id"],
                rectified_on,
                rectify_note,
                called_back_on,
                callback_note,
                by,
                self._clock(),
            ],
        )

    async def bad_ratings(self, visible: frozenset[str] | None) -> list[dict[str, Any]]:
        """Bad ratings with their due day and handling, newest first (at most 500)."""
        where = node_filter(visible, "p.node")
        rows = await run(
            self._engine,
            bad_ratings_sql(where.sql),
            where.params,
        )
        return [dict(r) for r in rows]


_TIER_NAMES = {"county": "县级", "township": "乡镇（街道）", "community": "村（社区）"}


def _no_key() -> Any:
    raise InvalidError("绩效统计不发布版本，不需要县中心签名密钥。", code="no_signing_here")


async def refresh_stored(settings: CentralSettings, clock: Callable[[], datetime]) -> date:
    """One periodic pass (used by the worker): rebuild the performance tables; the day used."""
    engine = make_engine(settings.database_url, settings.sqlite_path)
    await open_database(engine)
    try:
        releases = ReleaseService(CatalogStore(), RegistryStore(), _no_key, clock)
        await releases.load()
        performance = PerformanceService(engine, releases, clock)
        today = performance.today()
        await performance.refresh(today)
    finally:
        await close_database(engine)
    return today


def percent(value: float | None) -> str:
    """A ratio as a percentage with one decimal, or a dash."""
    return "—" if value is None else f"{value * 100:.1f}%"


def signed_points(value: float | None) -> str:
    """A change of a ratio in percentage points."""
    return "—" if value is None else f"{value * 100:+.1f}个百分点"


def all_groups() -> Iterable[GroupBy]:
    """Groupings offered on pages."""
    return tuple(GroupBy)
