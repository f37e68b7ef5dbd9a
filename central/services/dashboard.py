"""The supervision dashboard (电子监察): the tree of tiers with counts by light, a node's open
cases, a case's timeline, and the tables and chart data of the performance pages.

Every figure is filtered by the supervisor's subtree (``CountyUser.visible``) in SQL. Each table
is an :class:`~central.services.exports.ExportTable`, so the page and its CSV/XLSX download show
the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from central.db.performance_sql import light_counts_sql, node_cases_sql
from central.db.reconcile_sql import Dialect, lights_clock, run
from central.services.accounts import (
    CountyUser,
    case_filter,
    ensure_case_visible,
    ensure_node_visible,
)
from central.services.exports import ExportTable
from central.services.performance import (
    METRICS,
    Grain,
    GroupBy,
    GroupRow,
    PerformanceService,
    Period,
    TrendPoint,
    percent,
    signed_points,
)
from central.services.releases import ReleaseService
from central.services.urges import UrgeView
from shared.calendar import china_date
from shared.case_state import CaseState, Light
from shared.errors import NotFoundError
from shared.events import CaseEvent
from shared.registry import COUNTY_NODE_ID, NodeRecord
from sync.casedoc import CaseDoc
from sync.projection import decode_view

LIGHTS = (Light.GREEN, Light.YELLOW, Light.RED)
REFRESH_EVERY = timedelta(minutes=10)
"""Performance tables older than this are rebuilt before a performance page is drawn."""


class CaseSource(Protocol):
    """What the timeline reads from the county's sync store."""

    async def case_states(self, case_ids: Any) -> dict[str, bytes]:
        """CRDT states of cases."""
        ...

    async def case_parties(self, case_ids: Any) -> dict[str, frozenset[str]]:
        """Nodes taking part in cases."""
        ...

    async def case_rows(self, case_ids: Any) -> dict[str, Any]:
        """Projected rows of cases."""
        ...


@dataclass
class TreeNode:
    """A node of the tier tree with its own and its subtree's open cases by light."""

    record: NodeRecord
    depth: int
    own: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)

    @property
    def open_total(self) -> int:
        """Open cases in the subtree."""
        return sum(self.total.values())


@dataclass(frozen=True)
class Timeline:
    """A case: its projected state and its events in fold order."""

    case_id: str
    state: CaseState
    events: list[CaseEvent]
    parties: frozenset[str]


class DashboardService:
    """Builds what the supervision pages show."""

    def __init__(
        self,
        engine: Any,
        store: CaseSource,
        releases: ReleaseService,
        performance: PerformanceService,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._store = store
        self._releases = releases
        self.performance = performance
        self._clock = clock
        self._refreshed_at: datetime | None = None

    def today(self) -> date:
        """Today in China."""
        return china_date(self._clock())

    async def ensure_fresh(self, *, force: bool = False) -> None:
        """Rebuild the performance tables when they are older than :data:`REFRESH_EVERY`."""
        now = self._clock()
        if force or self._refreshed_at is None or now - self._refreshed_at > REFRESH_EVERY:
            await self.performance.refresh(china_date(now))
            self._refreshed_at = now

    # ---------------------------------------------------------------- the tree

    async def tree(self, user: CountyUser) -> list[TreeNode]:
        """Visible nodes depth-first from the top of the user's subtree, with light counts."""
        registry = self._releases.registry_now()
        where = case_filter(user.visible)
        counts: dict[str, dict[str, int]] = {}
        for row in await run(self._engine, light_counts_sql(where.sql), where.params):
            node = row["node"] or COUNTY_NODE_ID
            counts.setdefault(node, {})[row["light"]] = int(row["n"])
        root = COUNTY_NODE_ID if user.visible is None else user.home_node
        out: list[TreeNode] = []
        # One pass to index children: asking the registry per node is quadratic in nodes.
        children: dict[str | None, list[NodeRecord]] = {}
        for record in registry.nodes:
            if user.visible is None or record.node_id in user.visible:
                children.setdefault(record.parent, []).append(record)

        def visit(record: NodeRecord, depth: int) -> dict[str, int]:
            entry = TreeNode(record, depth, own=dict(counts.get(record.node_id, {})))
            out.append(entry)
            total = dict(entry.own)
            for child in children.get(record.node_id, ()):
                for light, n in visit(child, depth + 1).items():
                    total[light] = total.get(light, 0) + n
            entry.total = total
            return total

        top = registry.get(root)
        if top is not None:
            visit(top, 0)
        return out

    def tree_table(self, nodes: list[TreeNode]) -> ExportTable:
        """The tree as a table."""
        return ExportTable(
            name="tree",
            title="各级站点办件亮灯情况",
            columns=["站点", "编号", "层级", "绿灯", "黄灯", "红灯", "在办合计（含下级）"],
            rows=[
                [
                    "　" * n.depth + n.record.name,
                    n.record.node_id,
                    n.record.tier.value,
                    n.total.get("green", 0),
                    n.total.get("yellow", 0),
                    n.total.get("red", 0),
                    n.open_total,
                ]
                for n in nodes
            ],
        )

    async def node_cases(
        self, user: CountyUser, node_id: str, light: str | None = None
    ) -> ExportTable:
        """Open cases handled at a node (at most 1000), most urgent first.

        Raises:
            PermissionDeniedError: the node is outside the user's subtree.
            NotFoundError: unknown light.
        """
        ensure_node_visible(user, node_id)
        if light is not None and light not in {x.value for x in Light}:
            raise NotFoundError(f"没有名为 {light} 的灯色。", code="unknown_light")
        where = case_filter(user.visible)
        params: list[Any] = [node_id, *([light] if light else []), *where.params]
        days = (await lights_clock(self._engine)).columns(Dialect(self._engine), "s")
        rows = await run(self._engine, node_cases_sql(where.sql, light is not None, days), params)
        return ExportTable(
            name="cases",
            title=f"{node_id} 在办件",
            columns=[
                "办件编号",
                "受理编号",
                "事项",
                "状态",
                "受理日期",
                "承诺办结日",
                "灯色",
                "剩余工作日",
                "超期工作日",
            ],
            rows=[
                [
                    r["case_id"],
                    r["receipt_no"],
                    r["item_code"],
                    r["status"],
                    _day(r["accepted_on"]),
                    _day(r["due"]),
                    _light_label(r["light"]),
                    r["remaining_days"],
                    r["overdue_days"],
                ]
                for r in rows
            ],
        )

    async def timeline(self, user: CountyUser, case_id: str) -> Timeline:
        """A case's events and state, if the user may see it.

        Raises:
            NotFoundError: the county has no such case.
            PermissionDeniedError: the case is outside the user's subtree.
        """
        rows = await self._store.case_rows([case_id])
        if case_id not in rows:
            raise NotFoundError(f"县中心没有编号为 {case_id} 的办件。", code="case_not_found")
        row = rows[case_id]
        parties = (await self._store.case_parties([case_id])).get(case_id, frozenset())
        ensure_case_visible(user, case_id, [row.origin_node, row.handling_node, *parties])
        states = await self._store.case_states([case_id])
        events, _ = CaseDoc.load(states.get(case_id)).events()
        ordered = sorted(events, key=lambda e: (e.hlc, e.node_id, e.id))
        return Timeline(case_id, decode_view(row.state_json).state, ordered, parties)

    # ---------------------------------------------------------------- performance tables

    async def performance_table(
        self, user: CountyUser, period: Period, group: GroupBy
    ) -> tuple[list[GroupRow], ExportTable]:
        """Indicators of each group with 环比 and 同比."""
        rows = await self.performance.table(period, group, user.visible, self.today())
        table = ExportTable(
            name="performance",
            title=f"绩效指标 {period.label}",
            columns=[
                "分组",
                "受理量",
                "办结量",
                "办结率",
                "按时办结率",
                "按时办结率环比",
                "按时办结率同比",
                "提前办结率",
                "超期件",
                "超期工作日",
                "超法定时限",
                "平均办理工作日",
                "提速率",
                "评价数",
                "好评率",
                "差评率",
                "差评整改率",
                "按期整改率",
                "差评回访率",
                "投诉件",
                "投诉按时办结率",
            ],
            rows=[
                [
                    r.name,
                    r.current.accepted,
                    r.current.finished,
                    percent(r.current.finish_rate),
                    percent(r.current.on_time_rate),
                    signed_points(r.change("on_time_rate", "previous")),
                    signed_points(r.change("on_time_rate", "year_before")),
                    percent(r.current.early_rate),
                    r.current.overdue,
                    r.current.overdue_days,
                    r.current.illegal,
                    None if r.current.average_days is None else round(r.current.average_days, 2),
                    percent(r.current.speedup),
                    r.current.rating_count,
                    percent(r.current.good_rate),
                    percent(r.current.bad_rate),
                    percent(r.current.rectify_rate),
                    percent(r.current.rectify_in_time_rate),
                    percent(r.current.callback_rate),
                    r.current.complaints,
                    percent(r.current.complaint_in_time_rate),
                ]
                for r in rows
            ],
        )
        return rows, table

    async def ranking_table(
        self, user: CountyUser, period: Period, group: GroupBy, metric: str
    ) -> tuple[list[GroupRow], ExportTable]:
        """Groups ranked by one indicator."""
        rows = await self.performance.ranking(period, group, metric, user.visible, self.today())
        name = METRICS[metric]
        return rows, ExportTable(
            name="ranking",
            title=f"{name}排名 {period.label}",
            columns=["名次", "分组", name, "环比变化", "同比变化"],
            rows=[
                [
                    i,
                    r.name,
                    _shown(metric, getattr(r.current, metric)),
                    _change(metric, r.change(metric, "previous")),
                    _change(metric, r.change(metric, "year_before")),
                ]
                for i, r in enumerate(rows, 1)
            ],
        )

    async def trend_table(
        self, user: CountyUser, period: Period, grain: Grain
    ) -> tuple[list[TrendPoint], ExportTable]:
        """The trend over the twelve periods of ``grain`` ending with ``period``."""
        first = period.first
        for _ in range(11):
            first = Period.containing(grain, first - timedelta(days=1)).first
        points = await self.performance.trend(first, period.last, grain, user.visible)
        return points, ExportTable(
            name="trend",
            title=f"受理与办结趋势（按{grain.label}）",
            columns=["期间", "受理量", "办结量", "按时办结率", "提前办结率"],
            rows=[
                [p.label, p.accepted, p.finished, percent(p.on_time_rate), percent(p.early_rate)]
                for p in points
            ],
        )

    def urges_table(self, urges: list[UrgeView]) -> ExportTable:
        """Issued urges."""
        return ExportTable(
            name="urges",
            title="催办督办记录",
            columns=[
                "督办编号",
                "类别",
                "办件编号",
                "受理编号",
                "站点",
                "督办内容",
                "反馈期限",
                "状态",
                "发出人",
            ],
            rows=[
                [
                    u.urge_id,
                    u.level.label,
                    u.case_id,
                    u.receipt_no,
                    u.node,
                    u.content,
                    u.feedback_due,
                    u.status_label,
                    u.issued_by,
                ]
                for u in urges
            ],
        )

    async def ratings_table(self, user: CountyUser) -> ExportTable:
        """Bad ratings and their rectification and call-back."""
        rows = await self.performance.bad_ratings(user.visible)
        return ExportTable(
            name="ratings",
            title="差评整改与回访",
            columns=[
                "评价编号",
                "办件编号",
                "站点",
                "事项",
                "评价等级",
                "评价日期",
                "整改期限",
                "整改日期",
                "回访日期",
            ],
            rows=[
                [
                    r["event_id"],
                    r["case_id"],
                    r["node"],
                    r["item_code"],
                    int(r["level"]),
                    _day(r["rated_on"]),
                    _day(r["rectify_due"]),
                    _day(r["rectified_on"]),
                    _day(r["called_back_on"]),
                ]
                for r in rows
            ],
        )


_LIGHT_LABELS = {light.value: light.label for light in Light}


def _light_label(value: str | None) -> str:
    return _LIGHT_LABELS.get(value or "none", value or "")


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _shown(metric: str, value: float | int | None) -> str | int | float | None:
    if value is None:
        return "—"
    if metric.endswith("_rate") or metric == "speedup":
        return percent(float(value))
    if isinstance(value, float):
        return round(value, 2)
    return value


def _change(metric: str, value: float | None) -> str | float | None:
    if value is None:
        return "—"
    if metric.endswith("_rate") or metric == "speedup":
        return signed_points(value)
    return round(value, 2)
