"""Tamper and health signals (篡改与运行异常信号) for the county's supervisors.

Each refresh turns the evidence the county already keeps into ``supervision_signal`` rows, every
one with a kind, a severity, the node, the case (if any), when it was first seen and a link to
its evidence (an envelope hash, a case id, a rejection row id or a node id):

* ``backdated``: an envelope whose HLC is older than its arrival at the county by more than the
  offline window (the ``backdate_hours`` rule); envelopes are read once, after a cursor;
* ``late_registration`` (补录), ``conflict`` (concurrent decisions) and ``unauthorized_action``
  (kept as evidence by projection) from the projected case flags;
* ``fork`` and ``rejected_record`` from ``sync_rejection`` with their reason codes;
* ``chain_gap`` (held envelopes), ``quarantined_origin``, ``silent_node`` (no record received,
  or enrolled, within ``silent_hours``) and ``backlog`` (open cases of a node grew by
  ``backlog_growth_percent`` within ``backlog_window_days``): conditions, marked resolved when a
  refresh no longer sees them.

A silent node is judged by its latest sign of life: its own sync call, its records relayed by
its township (both recorded in ``node_contact`` by the sync endpoint), its newest logged record
or its enrollment; a township that syncs but records nothing is therefore not silent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from central.db.reconcile_sql import Dialect, SignalSql, get_mark, run, set_mark, transaction
from central.services.supervision_rules import RuleService
from shared.calendar import china_date
from shared.errors import InvalidError

SIGNAL_LABELS = {
    "backdated": "倒签记录（记录时间远早于县中心收到时间）",
    "late_registration": "补录办件",
    "conflict": "并发冲突的决定",
    "unauthorized_action": "越权操作（已留存为证据）",
    "fork": "记录分叉（疑似节点被复制或篡改）",
    "rejected_record": "被拒收的记录",
    "chain_gap": "记录链缺口（有记录被暂扣）",
    "quarantined_origin": "节点已被隔离",
    "silent_node": "节点长时间失联",
    "backlog": "积压增长",
}
SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Signal:
    """One signal as the API shows it."""

    id: int
    kind: str
    label: str
    severity: str
    node: str | None
    case_id: str | None
    evidence_kind: str
    evidence: str
    detail: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None


class SignalService:
    """Refreshes and lists the signals."""

    def __init__(self, engine: Any, rules: RuleService, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._rules = rules
        self._clock = clock
        self._sql = SignalSql(Dialect(engine))

    async def refresh(self, now: datetime | None = None) -> int:
        """Bring every signal up to date; returns how many are open after the refresh."""
        now = now if now is not None else self._clock()
        rules = await self._rules.rules()
        today = china_date(now)
        q = self._sql
        both = [now, now]
        async with transaction(self._engine):
            log_pos = int(await get_mark(self._engine, "signals_log_pos") or 0)
            rejection_id = int(await get_mark(self._engine, "signals_rejection_id") or 0)
            window_ms = rules["backdate_hours"] * 3_600_000
            await run(self._engine, q.backdated(log_pos, window_ms), both)
            await run(
                self._engine,
                q.flagged("late_registration", "late_registration", "origin_node", "medium"),
                both,
            )
            await run(
                self._engine, q.flagged("conflict", "conflict", "handling_node", "high"), both
            )
            await run(self._engine, q.unauthorized(), both)
            await run(self._engine, q.rejections(rejection_id), both)
            await run(self._engine, q.chain_gaps(), both)
            await run(self._engine, q.quarantined(), both)
            cutoff = now - timedelta(hours=rules["silent_hours"])
            await run(self._engine, q.silent(), [now, now, cutoff])
            await run(self._engine, q.backlog_snapshot(today))
            since = today - timedelta(days=rules["backlog_window_days"])
            backlog = q.backlog(
                today, since, rules["backlog_min_open"], rules["backlog_growth_percent"]
            )
            await run(self._engine, backlog, both)
            await run(self._engine, q.resolve(), both)
            top = await run(
                self._engine,
                "SELECT (SELECT COALESCE(MAX(pos), 0) FROM sync_log) AS pos, "
                "(SELECT COALESCE(MAX(id), 0) FROM sync_rejection) AS rid",
            )
            await set_mark(self._engine, "signals_log_pos", str(int(top[0]["pos"])))
            await set_mark(self._engine, "signals_rejection_id", str(int(top[0]["rid"])))
            rows = await run(
                self._engine,
                "SELECT COUNT(*) AS n FROM supervision_signal WHERE resolved_at IS NULL",
            )
        return int(rows[0]["n"])

    async def signals(
        self,
        *,
        kind: str | None = None,
        node: str | None = None,
        nodes: frozenset[str] | None = None,
        include_resolved: bool = False,
        limit: int = 500,
    ) -> list[Signal]:
        """Signals, newest first; ``nodes`` limits them to a supervisor's subtree.

        Raises:
            InvalidError: an unknown kind.
        """
        if kind is not None and kind not in SIGNAL_LABELS:
            raise InvalidError(f"没有这种监察信号：{kind}", code="signal_kind_unknown")
        where: list[str] = []
        params: list[Any] = []
        if kind is not None:
            where.append("kind = {}")
            params.append(kind)
        if node is not None:
            where.append("node = {}")
            params.append(node)
        if nodes is not None:
            if not nodes:
                return []
            where.append(f"node IN ({', '.join(['{}'] * len(nodes))})")
            params.extend(sorted(nodes))
        if not include_resolved:
            where.append("resolved_at IS NULL")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await run(
            self._engine,
            f"SELECT * FROM supervision_signal {clause} ORDER BY id DESC "  # noqa: S608
            f"LIMIT {max(1, min(int(limit), 5000))}",
            params,
        )
        return [
            Signal(
                id=int(r["id"]),
                kind=r["kind"],
                label=SIGNAL_LABELS.get(r["kind"], r["kind"]),
                severity=r["severity"],
                node=r["node"],
                case_id=r["case_id"],
                evidence_kind=r["evidence_kind"],
                evidence=r["evidence"],
                detail=r["detail"],
                first_seen=r["first_seen"],
                last_seen=r["last_seen"],
                resolved_at=r["resolved_at"],
            )
            for r in rows
        ]
