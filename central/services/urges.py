"""Urges (催办 / 督办) issued by county supervisors.

An urge is an :class:`shared.events.Urged` event the county records on the case with its own
key. Replication takes it to every node that takes part in the case at its next sync, so the
handling clerk sees it in the queue and reminders even if the node loses the county afterwards;
the clerk's :class:`~shared.events.UrgeAnswered` comes back up the same way and closes the urge
in the county's projected state.

A supervisor may urge one case, or every open case of a node or of a department: one event per
case. Each case's urge id is derived from the form's request id, so a form sent twice records
nothing new.

An urge left unanswered past its feedback day is escalated by the reconciliation
(:mod:`central.services.reconcile`), which records the escalation and then asks
:meth:`UrgeService.escalate` for the signed urge that carries it: a 督办 issued in the name of
the next level up (the parent of the node the urge was addressed to), which replicates to the
handling node like any other urge and lands in its clerks' queue and reminders. Its urge id is
derived from the escalated urge, so each escalation is issued once however often the
reconciliation runs, and one already in the case's document (recorded just before a crash) is
not recorded again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import msgspec

from central.db.performance_sql import (
    ESCALATIONS_DUE_SQL,
    URGE_INSERT_SQL,
    URGE_KNOWN_SQL,
    urge_targets_sql,
    urges_sql,
)
from central.db.reconcile_sql import ESCALATION, run
from central.services.accounts import CountyUser, case_filter, ensure_node_visible, node_filter
from central.services.releases import ReleaseService
from shared.calendar import china_date
from shared.errors import InvalidError, NotFoundError, PlatformError, ValidationError
from shared.event_parts import UrgeLevel
from shared.events import SYSTEM_ACTOR, CaseEvent, Urged
from shared.hlc import Hlc
from shared.registry import COUNTY_NODE_ID
from sync.casedoc import CaseDoc
from sync.projection import decode_view

CONTENT_MAX = 500
FEEDBACK_MAX_DAYS = 30
URGE_NAMESPACE = uuid.UUID("6f1d7a7e-5b0b-4c43-9d7c-8f3a3b1e2a10")
ESCALATION_FEEDBACK_DAYS = 3
"""Working days an escalated 督办 gives for feedback: a short stage, as in the staged 督查单."""


class CaseRecorder(Protocol):
    """Records county events on a case (``sync.replica.Replica``)."""

    async def record(
        self, case_id: str, build: Callable[[Callable[[], Hlc]], list[CaseEvent]]
    ) -> Any:
        """Append events as one signed envelope."""
        ...


@dataclass(frozen=True)
class UrgeForm:
    """What a supervisor fills in."""

    target_kind: str  # case | node | department
    target: str
    level: str
    content: str
    feedback_days: int
    request_id: str


@dataclass(frozen=True)
class UrgeResult:
    """What an urge did: the urges recorded now and those a repeated form had recorded."""

    recorded: list[str]
    already: list[str]
    feedback_due: date


@dataclass(frozen=True)
class UrgeView:
    """An issued urge and where it stands according to the case's projected state."""

    urge_id: str
    case_id: str
    node: str | None
    level: UrgeLevel
    content: str
    feedback_due: date
    target_kind: str
    target: str
    issued_by: str
    receipt_no: str | None
    item_code: str | None
    answered: bool
    overdue: bool

    @property
    def status_label(self) -> str:
        """Chinese status."""
        if self.answered:
            return "已反馈"
        return "逾期未反馈" if self.overdue else "待反馈"


TARGET_LABELS = {"case": "办件", "node": "站点", "department": "部门"}


def escalation_key(case_id: str, urge_id: str) -> str:
    """The request id the escalation of ``urge_id`` is issued under (once per case and urge);
    :func:`central.db.performance_sql.escalation_key_sql` spells it in SQL."""
    return f"{ESCALATION}|{case_id}|{urge_id}"


@dataclass(frozen=True)
class EscalationResult:
    """What one :meth:`UrgeService.escalate` call did."""

    recorded: list[str]
    """Urge ids of the escalations signed now."""
    repaired: list[str]
    """Urge ids found already in their case's document, whose issue row is written now."""
    failed: list[tuple[str, str]]
    """``(case id, reason)`` of escalations left for the next run."""


def check_form(form: UrgeForm) -> list[str]:
    """Chinese problems with a form (empty when it may be recorded)."""
    problems: list[str] = []
    if form.target_kind not in TARGET_LABELS:
        problems.append("督办对象类型只能是办件、站点或部门")
    if not form.target.strip():
        problems.append("请填写督办对象")
    if form.level not in {level.value for level in UrgeLevel}:
        problems.append("请选择催办或督办")
    if not form.content.strip():
        problems.append("请填写督办内容")
    elif len(form.content) > CONTENT_MAX:
        problems.append(f"督办内容不能超过{CONTENT_MAX}字")
    if not 1 <= form.feedback_days <= FEEDBACK_MAX_DAYS:
        problems.append(f"反馈期限应为1到{FEEDBACK_MAX_DAYS}个工作日")
    if not form.request_id.strip():
        problems.append("表单已失效，请刷新页面后重新提交")
    return problems


class UrgeService:
    """Issues urges and lists them, inside each supervisor's subtree."""

    def __init__(
        self,
        engine: Any,
        replica: CaseRecorder,
        releases: ReleaseService,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._replica = replica
        self._releases = releases
        self._clock = clock

    def feedback_due(self, days: int, today: date | None = None) -> date:
        """The day ``days`` working days after today."""
        today = today or china_date(self._clock())
        return self._releases.calendar_now().add_working_days(today, days).due

    def _unit_name(self, node_id: str) -> str:
        record = self._releases.registry_now().get(node_id)
        if record is not None:
            return record.name
        return "县政务服务中心" if node_id == COUNTY_NODE_ID else node_id

    async def _targets(self, user: CountyUser, form: UrgeForm) -> list[tuple[str, str | None]]:
        visible = user.visible
        where = case_filter(visible)
        if form.target_kind == "case":
            rows = await run(
                self._engine, urge_targets_sql("case", where.sql), [form.target, *where.params]
            )
            if not rows:
                raise NotFoundError(
                    f"没有编号为 {form.target} 的办件，或该办件不在您的管辖范围内。",
                    code="case_not_found",
                )
            if rows[0]["finished"]:
                raise InvalidError("该办件已办结，无需督办。", code="case_finished")
            return [(rows[0]["case_id"], rows[0]["node"])]
        if form.target_kind == "node":
            ensure_node_visible(user, form.target)
            sql = urge_targets_sql("node", where.sql)
            params: list[Any] = [form.target, *where.params]
        else:
            items = self._department_items(form.target)
            sql = urge_targets_sql("department", where.sql, len(items))
            params = [*items, *where.params]
        rows = await run(self._engine, sql, params)
        return [(r["case_id"], r["node"]) for r in rows if not r["finished"]]

    def _department_items(self, department: str) -> list[str]:
        current = self._releases.cached()
        if current is None:
            raise NotFoundError("尚未发布事项目录，无法按部门督办。", code="no_catalog")
        catalog = current.catalog
        codes = [item.code for item in catalog.items if item.lead_department == department]
        if not codes:
            raise NotFoundError(f"目录中没有部门 {department} 实施的事项。", code="no_items")
        return codes

    async def urge(self, user: CountyUser, form: UrgeForm) -> UrgeResult:
        """Record one urge per open target case.

        Raises:
            ValidationError: the form has problems.
            NotFoundError: no such case or department in the user's subtree.
            PermissionDeniedError: the node lies outside the user's subtree.
            InvalidError: the case is finished, or the target has no open case.
        """
        problems = check_form(form)
        if problems:
            raise ValidationError(problems)
        targets = await self._targets(user, form)
        if not targets:
            raise InvalidError(
                f"{TARGET_LABELS[form.target_kind]} {form.target} 目前没有未办结的办件。",
                code="nothing_to_urge",
            )
        known = {r["urge_id"] for r in await run(self._engine, URGE_KNOWN_SQL, [form.request_id])}
        now = self._clock()
        due = self.feedback_due(form.feedback_days, china_date(now))
        level = UrgeLevel(form.level)
        unit = self._unit_name(user.home_node)
        recorded: list[str] = []
        already: list[str] = []
        for case_id, node in targets:
            urge_id = str(uuid.uuid5(URGE_NAMESPACE, f"{form.request_id}|{case_id}"))
            if urge_id in known:
                already.append(urge_id)
                continue
            event = await self._record_urge(
                case_id,
                urge_id=urge_id,
                level=level,
                content=form.content.strip(),
                feedback_due=due,
                feedback_days=form.feedback_days,
                by_unit=unit,
                actor=user.username,
                today=china_date(now),
            )
            await run(
                self._engine,
                URGE_INSERT_SQL,
                [
                    urge_id,
                    case_id,
                    node,
                    level.value,
                    event.content,
                    event.feedback_due,
                    form.target_kind,
                    form.target,
                    form.request_id,
                    user.username,
                    now,
                ],
            )
            recorded.append(urge_id)
            due = max(due, event.feedback_due)
        return UrgeResult(recorded=recorded, already=already, feedback_due=due)

    async def _record_urge(
        self,
        case_id: str,
        *,
        urge_id: str,
        level: UrgeLevel,
        content: str,
        feedback_due: date,
        feedback_days: int,
        by_unit: str,
        actor: str,
        today: date,
    ) -> Urged:
        """Sign and record one urge on a case; the event as recorded."""
        recorded: list[Urged] = []

        def build(tick: Callable[[], Hlc]) -> list[CaseEvent]:
            event = Urged(
                id=str(uuid.uuid4()),
                case_id=case_id,
                node_id=COUNTY_NODE_ID,
                actor=actor,
                hlc=tick(),
                urge_id=urge_id,
                level=level,
                content=content,
                feedback_due=feedback_due,
                by_unit=by_unit,
            )
            if event.recorded_on > today:
                # The county's HLC ran ahead of its wall clock: count from the event's day.
                later = self.feedback_due(feedback_days, event.recorded_on)
                event = msgspec.structs.replace(event, feedback_due=later)
            recorded.append(event)
            return [event]

        await self._replica.record(case_id, build)
        return recorded[-1]

    async def escalate(self, today: date) -> EscalationResult:
        """Issue the signed 督办 every recorded escalation still owes, oldest first.

        A case that cannot be recorded now (a concurrent write, a key problem) is reported in
        ``failed`` and owed again at the next call; the others go ahead.
        """
        rows = await run(self._engine, ESCALATIONS_DUE_SQL)
        result = EscalationResult(recorded=[], repaired=[], failed=[])
        now = self._clock()
        for row in rows:
            case_id, node = str(row["case_id"]), row["node"]
            key = escalation_key(case_id, str(row["urge_id"]))
            urge_id = str(uuid.uuid5(URGE_NAMESPACE, key))
            target = str(row["target"] or COUNTY_NODE_ID)
            event = _urge_in(row["state"], urge_id)
            if event is None:
                unit = self._unit_name(target)
                late = UrgeLevel(row["level"])
                content = (
                    f"{row['by_unit']}的{late.label}（反馈期限 {_day(row['feedback_due'])}）"
                    f"逾期未反馈，已升级由{unit}督办，请立即办理并反馈。"
                )
                try:
                    event = await self._record_urge(
                        case_id,
                        urge_id=urge_id,
                        level=UrgeLevel.FORMAL,
                        content=content,
                        feedback_due=self.feedback_due(ESCALATION_FEEDBACK_DAYS, today),
                        feedback_days=ESCALATION_FEEDBACK_DAYS,
                        by_unit=unit,
                        actor=SYSTEM_ACTOR,
                        today=today,
                    )
                except (PlatformError, ValueError) as exc:
                    result.failed.append((case_id, str(exc)))
                    continue
                result.recorded.append(urge_id)
            else:
                result.repaired.append(urge_id)
            await run(
                self._engine,
                URGE_INSERT_SQL,
                [
                    urge_id,
                    case_id,
                    node,
                    event.level.value,
                    event.content,
                    event.feedback_due,
                    ESCALATION,
                    target,
                    key,
                    SYSTEM_ACTOR,
                    now,
                ],
            )
        return result

    async def urges(self, user: CountyUser) -> list[UrgeView]:
        """Issued urges the user may see, newest first (at most 500)."""
        where = node_filter(user.visible, "u.node")
        rows = await run(self._engine, urges_sql(where.sql), where.params)
        today = china_date(self._clock())
        found: list[UrgeView] = []
        for row in rows:
            due = _day(row["feedback_due"])
            open_ids: set[str] = set()
            if row["state_json"] is not None:
                state = decode_view(bytes(row["state_json"])).state
                open_ids = {u.urge_id for u in state.open_urges}
            answered = row["urge_id"] not in open_ids
            found.append(
                UrgeView(
                    urge_id=row["urge_id"],
                    case_id=row["case_id"],
                    node=row["node"],
                    level=UrgeLevel(row["level"]),
                    content=row["content"],
                    feedback_due=due,
                    target_kind=row["target_kind"],
                    target=row["target"],
                    issued_by=row["issued_by"],
                    receipt_no=row["receipt_no"],
                    item_code=row["item_code"],
                    answered=answered,
                    overdue=not answered and due < today,
                )
            )
        return found


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _urge_in(state: bytes | None, urge_id: str) -> Urged | None:
    """The urge ``urge_id`` if the case's document already holds it."""
    if state is None:
        return None
    events, _ = CaseDoc.load(bytes(state)).events()
    return next((e for e in events if isinstance(e, Urged) and e.urge_id == urge_id), None)
