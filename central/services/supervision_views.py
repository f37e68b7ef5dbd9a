"""What the supervision API reads: cases with their lights, one case, a signal and its evidence.

Every list is one set-based query over ``case_row`` joined to the reconciliation's
``supervision_case`` (light, due day, working days remaining or overdue, card), filtered to the
caller's subtree with :func:`central.services.accounts.case_filter`; nothing loops over cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from central.db.reconcile_sql import Dialect, LightsClock, lights_clock, run
from central.services.accounts import CountyUser, case_filter, ensure_case_visible
from central.services.signals import SIGNAL_LABELS, Signal
from shared.errors import NotFoundError, PermissionDeniedError, ValidationError

LIGHTS = ("red", "yellow", "green")
MAX_PER_PAGE = 200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CaseFilters:
    """The filters of the supervision case list; ``node`` matches origin or handling node."""

    light: str | None = None
    node: str | None = None
    item: str | None = None
    overdue: bool = False
    include_finished: bool = False
    page: int = 1
    per_page: int = 50


def case_filters(
    *,
    light: str | None,
    node: str | None,
    item: str | None,
    overdue: str | None,
    include_finished: str | None,
    page: int | None,
    per_page: int | None,
) -> CaseFilters:
    """Check the query parameters of the case list; every problem at once, in Chinese.

    Raises:
        ValidationError: an unknown light, a non-boolean flag or a page out of range.
    """
    problems: list[str] = []
    light = (light or "").strip() or None
    if light is not None and light not in LIGHTS:
        problems.append("亮灯只能是 red（红灯）、yellow（黄灯）或 green（绿灯）。")

    def flag(value: str | None, name: str) -> bool:
        text = (value or "").strip().lower()
        if text in ("", "0", "false", "no"):
            return False
        if text in ("1", "true", "yes"):
            return True
        problems.append(f"参数 {name} 只能是 1 或 0。")
        return False

    wants_overdue = flag(overdue, "overdue")
    wants_finished = flag(include_finished, "all")
    page = 1 if page is None else page
    per_page = 50 if per_page is None else per_page
    if page < 1:
        problems.append("页码从 1 开始。")
    if not 1 <= per_page <= MAX_PER_PAGE:
        problems.append(f"每页条数应在 1 至 {MAX_PER_PAGE} 之间。")
    if problems:
        raise ValidationError(problems)
    return CaseFilters(
        light=light,
        node=(node or "").strip() or None,
        item=(item or "").strip() or None,
        overdue=wants_overdue,
        include_finished=wants_finished,
        page=page,
        per_page=per_page,
    )


@dataclass(frozen=True)
class SupervisedCase:
    """One case as supervisors list it."""

    case_id: str
    item_code: str | None
    receipt_no: str | None
    origin_node: str | None
    handling_node: str | None
    status: str
    light: str | None
    received_on: date | None
    accepted_on: date | None
    promised_due: date | None
    statutory_due: date | None
    due: date | None
    """Today's promised due day as the last reconciliation computed it (moves while paused)."""
    remaining_days: int | None
    overdue_days: int | None
    card: int
    """0 none, 1 yellow card (黄牌), 2 red card (红牌)."""
    paused: bool
    finished: bool
    flags: list[str]


@dataclass(frozen=True)
class CasePage:
    """One page of the case list."""

    total: int
    page: int
    per_page: int
    cases: list[SupervisedCase]


@dataclass(frozen=True)
class CaseDetail:
    """A case with its parties, the supervision actions taken on it and its signals."""

    case: SupervisedCase
    parties: list[str]
    actions: list[dict[str, Any]]
    signals: list[Signal]


@dataclass(frozen=True)
class SignalDetail:
    """A signal with the evidence it links to."""

    signal: Signal
    evidence: dict[str, Any] = field(default_factory=dict)


_CASE_COLUMNS = """
cr.case_id, cr.item_code, cr.receipt_no, cr.origin_node, cr.handling_node, cr.status,
COALESCE(sc.light, cr.light) AS light, cr.received_on, cr.accepted_on, cr.promised_due,
cr.statutory_due, sc.due, {days}, sc.card, cr.paused, cr.finished,
cr.flags
"""


async def _case_columns(engine: Any) -> tuple[str, LightsClock, Dialect]:
    """The case columns, with days left and overdue derived for the stored lights' day."""
    d, clock = Dialect(engine), await lights_clock(engine)
    return _CASE_COLUMNS.replace("{days}", clock.columns(d, "sc")), clock, d


_CASE_FROM = "FROM case_row cr LEFT JOIN supervision_case sc ON sc.case_id = cr.case_id"


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _case(row: Any) -> SupervisedCase:
    try:
        flags = [str(f) for f in msgspec.json.decode(row["flags"] or "[]")]
    except msgspec.DecodeError:
        flags = []
    return SupervisedCase(
        case_id=row["case_id"],
        item_code=row["item_code"],
        receipt_no=row["receipt_no"],
        origin_node=row["origin_node"],
        handling_node=row["handling_node"],
        status=row["status"],
        light=row["light"],
        received_on=_day(row["received_on"]),
        accepted_on=_day(row["accepted_on"]),
        promised_due=_day(row["promised_due"]),
        statutory_due=_day(row["statutory_due"]),
        due=_day(row["due"]),
        remaining_days=_int(row["remaining_days"]),
        overdue_days=_int(row["overdue_days"]),
        card=int(row["card"] or 0),
        paused=bool(row["paused"]),
        finished=bool(row["finished"]),
        flags=flags,
    )


def _signal(row: Any) -> Signal:
    return Signal(
        id=int(row["id"]),
        kind=row["kind"],
        label=SIGNAL_LABELS.get(row["kind"], row["kind"]),
        severity=row["severity"],
        node=row["node"],
        case_id=row["case_id"],
        evidence_kind=row["evidence_kind"],
        evidence=row["evidence"],
        detail=row["detail"],
        first_seen=_when(row["first_seen"]) or EPOCH,
        last_seen=_when(row["last_seen"]) or EPOCH,
        resolved_at=_when(row["resolved_at"]),
    )


class SupervisionViews:
    """Read-only queries behind the supervision API."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    async def cases(self, user: CountyUser, filters: CaseFilters) -> CasePage:
        """A page of the cases the user may see, most overdue first."""
        visible = case_filter(user.visible, "cr")
        where = [visible.sql]
        params: list[Any] = list(visible.params)
        if not filters.include_finished:
            where.append("NOT cr.finished")
        if filters.light is not None:
            where.append("COALESCE(sc.light, cr.light) = {}")
            params.append(filters.light)
        if filters.node is not None:
            where.append("(cr.handling_node = {} OR cr.origin_node = {})")
            params.extend((filters.node, filters.node))
        if filters.item is not None:
            where.append("cr.item_code = {}")
            params.append(filters.item)
        columns, clock, d = await _case_columns(self._engine)
        overdue = clock.overdue(d, "sc")
        if filters.overdue:
            where.append(f"(COALESCE({overdue}, 0) > 0 OR COALESCE(sc.light, cr.light) = 'red')")
        clause = " AND ".join(where)
        counted = await run(
            self._engine, f"SELECT COUNT(*) AS n {_CASE_FROM} WHERE {clause}", params
        )
        offset = (filters.page - 1) * filters.per_page
        rows = await run(
            self._engine,
            f"SELECT {columns} {_CASE_FROM} WHERE {clause} "
            f"ORDER BY COALESCE({overdue}, -1) DESC, "
            "CASE WHEN cr.promised_due IS NULL THEN 1 ELSE 0 END, cr.promised_due, cr.case_id "
            f"LIMIT {int(filters.per_page)} OFFSET {int(offset)}",
            params,
        )
        return CasePage(
            total=int(counted[0]["n"]),
            page=filters.page,
            per_page=filters.per_page,
            cases=[_case(r) for r in rows],
        )

    async def case(self, user: CountyUser, case_id: str) -> CaseDetail:
        """One case, if the user may see it.

        Raises:
            NotFoundError: no such case. PermissionDeniedError: outside the user's subtree.
        """
        columns, _, _ = await _case_columns(self._engine)
        rows = await run(
            self._engine, f"SELECT {columns} {_CASE_FROM} WHERE cr.case_id = {{}}", [case_id]
        )
        if not rows:
            raise NotFoundError(f"县中心没有办件 {case_id}。", code="case_not_found")
        found = _case(rows[0])
        parties = sorted(
            r["node"]
            for r in await run(
                self._engine, "SELECT node FROM case_party WHERE case_id = {}", [case_id]
            )
        )
        ensure_case_visible(user, case_id, [found.origin_node, found.handling_node, *parties])
        actions = [
            {
                "run": int(r["run"]),
                "kind": r["kind"],
                "subject": r["subject"],
                "node": r["node"],
                "target_node": r["target_node"],
                "on_day": _day(r["on_day"]),
                "detail": r["detail"],
            }
            for r in await run(
                self._engine,
                "SELECT run, kind, subject, node, target_node, on_day, detail "
                "FROM supervision_action WHERE case_id = {} ORDER BY run, id",
                [case_id],
            )
        ]
        signals = [
            _signal(r)
            for r in await run(
                self._engine,
                "SELECT * FROM supervision_signal WHERE case_id = {} ORDER BY id DESC",
                [case_id],
            )
        ]
        return CaseDetail(case=found, parties=parties, actions=actions, signals=signals)

    async def signal(self, user: CountyUser, signal_id: int) -> SignalDetail:
        """A signal and its evidence, if its node lies in the user's subtree.

        Raises:
            NotFoundError: no such signal. PermissionDeniedError: outside the user's subtree.
        """
        rows = await run(
            self._engine, "SELECT * FROM supervision_signal WHERE id = {}", [signal_id]
        )
        if not rows:
            raise NotFoundError(f"没有编号为 {signal_id} 的监察信号。", code="signal_not_found")
        found = _signal(rows[0])
        if user.visible is not None and (found.node is None or found.node not in user.visible):
            raise PermissionDeniedError(
                f"监察信号 {signal_id} 不在您的管辖范围内"
                f"（您的账号只能查看 {user.home_node} 及其下级）。",
                code="outside_subtree",
            )
        return SignalDetail(signal=found, evidence=await self._evidence(found))

    async def _evidence(self, found: Signal) -> dict[str, Any]:
        kind, key = found.evidence_kind, found.evidence
        if kind == "envelope":
            return await self._envelope(key)
        if kind == "rejection":
            rows = await run(
                self._engine,
                "SELECT id, origin, seq, hash, case_id, reason, detail, received_at "
                "FROM sync_rejection WHERE id = {}",
                [int(key)] if key.isdigit() else [-1],
            )
            if not rows:
                return {"kind": kind, "found": False}
            r = rows[0]
            return {
                "kind": kind,
                "found": True,
                "rejection_id": int(r["id"]),
                "origin": r["origin"],
                "seq": int(r["seq"]),
                "hash": bytes(r["hash"]).hex(),
                "case_id": r["case_id"],
                "reason": r["reason"],
                "detail": r["detail"],
                "received_at": _when(r["received_at"]),
            }
        if kind in ("case", "event"):
            case_id, _, event_id = key.partition("/")
            return {
                "kind": kind,
                "case_id": case_id,
                "event_id": event_id or None,
                "case_url": f"/api/v1/supervision/cases/{case_id}",
            }
        if kind == "node":
            return {"kind": kind, "node_id": key, "node_url": f"/api/v1/admin/nodes/{key}"}
        return {"kind": kind, "key": key}

    async def _envelope(self, hex_hash: str) -> dict[str, Any]:
        try:
            digest = bytes.fromhex(hex_hash)
        except ValueError:
            return {"kind": "envelope", "found": False, "hash": hex_hash}
        rows = await run(
            self._engine,
            "SELECT pos, origin, seq, case_id, hlc_wall, hlc_counter, received_at "
            "FROM sync_log WHERE hash = {}",
            [digest],
        )
        if not rows:
            return {"kind": "envelope", "found": False, "hash": hex_hash}
        r = rows[0]
        written = EPOCH + timedelta(milliseconds=int(r["hlc_wall"]))
        received = _when(r["received_at"])
        return {
            "kind": "envelope",
            "found": True,
            "hash": hex_hash,
            "log_pos": int(r["pos"]),
            "origin": r["origin"],
            "seq": int(r["seq"]),
            "case_id": r["case_id"],
            "recorded_at": written,
            "received_at": received,
            "lag_hours": None
            if received is None
            else round((received - written).total_seconds() / 3600, 1),
            "case_url": f"/api/v1/supervision/cases/{r['case_id']}",
        }
