"""Handling a case after intake: correction, review, special procedures, extension, decision,
certificate, delivery, withdrawal, 容缺 materials, forwarding and answers to urges.

Every action reads the case's folded state, refuses anything the fold would flag as out of
order (409) or that breaks a rule (422, every problem listed), and then records its events in one
:meth:`sync.replica.Replica.record` call. A client may send a ``request_id``: the event ids are
derived from it, so a repeat, even after a crash between recording and answering, finds the
events already in the case and returns the first answer without recording anything.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from casework.actions import (
    RECEIPT_SIDE_ACTIONS,
    Action,
    ActionPanel,
    ActionResult,
    AfterCorrection,
    CertificateIn,
    CorrectionIn,
    DecisionIn,
    DeferredSuppliedIn,
    DeliveryIn,
    DepartmentReview,
    ExtensionIn,
    ForwardIn,
    HandlingRejectedError,
    MaterialChoice,
    PauseIn,
    ResumeIn,
    ReviewIn,
    UrgeAnswerIn,
    WithdrawalIn,
    available_actions,
)
from casework.intake import MAX_REQUEST_ID
from casework.ports import CatalogSource, CertificateSerials, Identity, Serials
from shared.calendar import china_date
from shared.case_state import CaseState, CaseStatus
from shared.catalog import Item, MaterialRequirement
from shared.errors import ConflictError, NotFoundError, PermissionDeniedError
from shared.event_parts import blank, duplicates
from shared.events import (
    Accepted,
    CaseEvent,
    CertificateIssued,
    ClockPaused,
    ClockResumed,
    CorrectionReceived,
    CorrectionRequested,
    Decided,
    DeferredMaterial,
    DeferredSupplied,
    Delivered,
    DeliveryMethod,
    DepartmentReviewed,
    ExtensionGranted,
    Forwarded,
    ForwardMode,
    Opinion,
    Outcome,
    ProcedureKind,
    Refused,
    UrgeAnswered,
    Urged,
    Withdrawn,
)
from shared.hlc import Hlc
from shared.intake_events import make_query_check
from shared.receipts import format_certificate_no, format_receipt_no, make_query_code
from shared.terms import ProjectType
from sync.casedoc import events_of
from sync.projection import decode_view
from sync.replica import Replica
from sync.store import CaseRow

_EVENT_NAMESPACE = uuid.UUID("0d7f3c52-8a41-4e57-b7a5-3f1c9e2d6b84")
MAX_TEXT = 2_000
"""Longest free text (reason, comment, answer) a form may carry."""

_S = CaseStatus
_RUNNING = frozenset({_S.ACCEPTED, _S.PAUSED})
_OPEN = frozenset({_S.RECEIVED, _S.AWAITING_CORRECTION}) | _RUNNING
_DECIDED = frozenset({_S.APPROVED, _S.DENIED, _S.REFUSED})

# -- the service --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    row: CaseRow
    state: CaseState
    events: list[CaseEvent]
    item: Item | None


_Draft = Callable[[dict[str, Any]], CaseEvent]


class HandlingService:
    """Checks handling actions against the case's state and records them on the replica."""

    def __init__(
        self,
        replica: Replica,
        catalog: CatalogSource,
        identity: Identity,
        store: CertificateSerials,
        clock: Callable[[], datetime],
        *,
        intake_store: Serials,
    ) -> None:
        self._replica = replica
        self._catalog = catalog
        self._identity = identity
        self._store = store
        self._intake_store = intake_store
        self._clock = clock
        # One action at a time: a double submit waits, then finds the first one's events.
        self._lock = asyncio.Lock()

    available_actions = staticmethod(available_actions)

    # -- actions ---------------------------------------------------------------------------

    async def correction_received(
        self, case_id: str, data: CorrectionIn, actor: str
    ) -> ActionResult:
        """收到补正材料, then accept (receipt number as at intake) or refuse."""

        async def plan(case: _Case) -> list[_Draft]:
            self._expect(case, Action.CORRECTION_RECEIVED, {_S.AWAITING_CORRECTION})
            today = self._today()
            problems = _correction_problems(case, data, today)
            _raise(problems)
            materials = tuple(data.materials)
            drafts: list[_Draft] = [lambda b: CorrectionReceived(**b, materials=materials)]
            if data.decision is AfterCorrection.REFUSE:
                reason, referral = _text(data.reason), _text(data.referral) or None
                drafts.append(lambda b: Refused(**b, reason=reason, referral=referral))
                return drafts
            forward_to = self._forward_target(case, today)
            receipt_no = format_receipt_no(
                self._identity.short_code, today, await self._intake_store.next_serial(today)
            )
            deferred = tuple(
                DeferredMaterial(code=d.code, name=_material_name(case.item, d.code), due=d.due)
                for d in data.deferred
            )
            commitment = _text(data.commitment) if deferred else None
            query_code = make_query_code(await self._intake_store.query_secret(), receipt_no)
            drafts.append(
                lambda b: Accepted(
                    **b,
                    receipt_no=receipt_no,
                    deferred=deferred,
                    commitment=commitment,
                    query_check=make_query_check(b["case_id"], receipt_no, query_code),
                )
            )
            if forward_to is not None:
                to_node, to_tier = forward_to
                drafts.append(
                    lambda b: Forwarded(
                        **b,
                        to_node=to_node,
                        to_tier=to_tier,
                        mode=ForwardMode.FORWARD,
                        reason="事项由上级作出决定，本节点受理后转上级办理",
                    )
                )
            return drafts

        return await self._act(case_id, Action.CORRECTION_RECEIVED, data.request_id, actor, plan)

    async def review(
        self, case_id: str, data: ReviewIn, actor: str, *, acting_for: str | None = None
    ) -> ActionResult:
        """A review opinion (for a joint item, one department's).

        ``acting_for`` is the department the caller's account belongs to: such a reviewer gives
        only that department's opinion, and it is the default.

        Raises:
            PermissionDeniedError: the opinion names another department than ``acting_for``.
        """

        async def plan(case: _Case) -> list[_Draft]:
            self._expect(case, Action.REVIEW, _RUNNING)
            item = case.item
            own = _text(acting_for)
            named = _text(data.department)
            if own and named and named != own:
                raise PermissionDeniedError(
                    f"您的账号属于部门 {own}，只能出具本部门的审查意见，不能代部门 {named} 出具。",
                    code="department_mismatch",
                )
            department = named or own or (item.lead_department if item else "")
            problems = _long("意见说明", data.comment)
            if not department:
                problems.append("请填写审查部门")
            elif item is not None and department not in _departments(item):
                problems.append(
                    f"部门 {department} 不是事项 {item.code} 的"
                    + ("牵头或并联部门" if item.project_type is ProjectType.JOINT else "实施部门")
                )
            if data.opinion is not Opinion.AGREE and blank(data.comment):
                problems.append("不同意或有条件同意时必须填写意见说明")
            _raise(problems)
            opinion, comment = data.opinion, data.comment.strip()
            return [
                lambda b: DepartmentReviewed(
                    **b, department=department, opinion=opinion, comment=comment
                )
            ]

        return await self._act(case_id, Action.REVIEW, data.request_id, actor, plan)

    async def pause(self, case_id: str, data: PauseIn, actor: str) -> ActionResult:
        """Start a 特别程序; its days do not count toward the limits."""

        async def plan(case: _Case) -> list[_Draft]:
            if case.state.status is _S.PAUSED:
                raise ConflictError(
                    "该办件已有进行中的特别程序，请先结束它再启动新的特别程序。",
                    code="illegal_in_status",
                )
            self._expect(case, Action.PAUSE, {_S.ACCEPTED})
            problems = _required(("理由", data.reason)) + _long("理由", data.reason)
            if data.expected_days is not None and data.expected_days <= 0:
                problems.append("预计所需天数必须为正整数")
            if data.notified_on is not None and data.notified_on > self._today():
                problems.append("书面告知日期不能晚于今天")
            listed = _procedures(case.item)
            expected = data.expected_days
            if (
                listed
                and data.procedure not in listed
                and data.procedure is not ProcedureKind.OTHER
            ):
                names = "、".join(k.label for k in listed)
                problems.append(
                    f"事项目录未列明“{data.procedure.label}”为该事项的特别程序（列明的有：{names}）"
                )
            elif expected is None:
                expected = listed.get(data.procedure)
            _raise(problems)
            pause_id = str(uuid.uuid4())
            procedure, reason, notified = data.procedure, data.reason.strip(), data.notified_on
            return [
                lambda b: ClockPaused(
                    **b,
                    pause_id=pause_id,
                    procedure=procedure,
                    reason=reason,
                    expected_days=expected,
                    notified_on=notified,
                )
            ]

        return await self._act(case_id, Action.PAUSE, data.request_id, actor, plan)

    async def resume(self, case_id: str, data: ResumeIn, actor: str) -> ActionResult:
        """End the running 特别程序; the clock runs again."""

        async def plan(case: _Case) -> list[_Draft]:
            self._expect(case, Action.RESUME, {_S.PAUSED})
            _raise(_required(("程序结果", data.result)) + _long("程序结果", data.result))
            running = case.state.open_pause
            assert running is not None  # the fold keeps it while the status is paused
            pause_id, result = running.pause_id, data.result.strip()
            return [lambda b: ClockResumed(**b, pause_id=pause_id, result=result)]

        return await self._act(case_id, Action.RESUME, data.request_id, actor, plan)

    async def extend(self, case_id: str, data: ExtensionIn, actor: str) -> ActionResult:
        """The one extension the law allows, within the item's allowance."""

        async def plan(case: _Case) -> list[_Draft]:
            self._expect(case, Action.EXTENSION, _RUNNING)
            if any(isinstance(e, ExtensionGranted) for e in case.events):
                raise ConflictError(
                    "该办件已延长过办理期限，法定期限只能延长一次。", code="extension_used"
                )
            problems = _required(("批准人", data.approver), ("延期理由", data.reason))
            problems += _long("延期理由", data.reason)
            cap = case.item.case_terms().extension_days if case.item else None
            if data.days <= 0:
                problems.append("延长天数必须为正整数")
            elif cap == 0:
                problems.append("该事项不允许延长办理期限")
            elif cap is not None and data.days > cap:
                problems.append(f"延长天数不能超过该事项允许的 {cap} 日")
            if data.notified_on is not None and data.notified_on > self._today():
                problems.append("告知申请人的日期不能晚于今天")
            _raise(problems)
            days, approver, reason = data.days, data.approver.strip(), data.reason.strip()
            notified = data.notified_on
            return [
                lambda b: ExtensionGranted(
                    **b, days=days, approver=approver, reason=reason, notified_on=notified
                )
            ]

        return await self._act(case_id, Action.EXTENSION, data.request_id, actor, plan)

    async def decide(self, case_id: str, data: DecisionIn, actor: str) -> ActionResult:
        """准予 or 不予许可."""

        async def plan(case: _Case) -> list[_Draft]:
            self._expect(case, Action.DECISION, _RUNNING)
            problems = _long("理由", data.reason)
            if data.outcome is Outcome.DENY and blank(data.reason):
                problems.append("不予许可必须说明理由")
            _raise(problems)
            if case.item is not None:
                _joint_reviews_complete(case, data.outcome)
            outcome, reason = data.outcome, data.reason.strip()
            return [lambda b: Decided(**b, outcome=outcome, reason=reason)]

        return await self._act(case_id, Action.DECISION, data.request_id, actor, plan)

    async def issue_certificate(
        self, case_id: str, data: CertificateIn, actor: str
    ) -> ActionResult:
        """制证 with a number from this node's yearly serial; only after approval."""

        async def plan(case: _Case) -> list[_Draft]:
            state = case.state
            if state.outcome is not Outcome.APPROVE:
                raise ConflictError(
                    f"办件当前状态为“{state.status.label}”，只有准予许可后才能制发证照。",
                    code="illegal_in_status",
                )
            self._expect(case, Action.CERTIFICATE, {_S.APPROVED, _S.DELIVERED})
            if state.certificates:
                raise ConflictError(
                    f"该办件已制发证照 {state.certificates[0]}，不能重复制发。",
                    code="certificate_issued",
                )
            today = self._today()
            item = case.item
            title = _text(data.title) or (item.result_name or item.name if item else "")
            problems = [] if title else ["请填写证照名称"]
            problems += _long("证照名称", title)
            if data.valid_until is not None and data.valid_until < today:
                problems.append("证照有效期不能早于发证日期")
            _raise(problems)
            serial = await self._store.next_certificate_serial(today.year)
            number = format_certificate_no(self._identity.short_code, today.year, serial)
            valid_until = data.valid_until
            return [
                lambda b: CertificateIssued(
                    **b, certificate_no=number, title=title, valid_until=valid_until
                )
            ]

        return await self._act(case_id, Action.CERTIFICATE, data.request_id, actor, plan)

    async def deliver(self, case_id: str, data: DeliveryIn, actor: str) -> ActionResult:
        """送达 the result; the case is closed."""

        async def plan(case: _Case) -> list[_Draft]:
            self._expect(case, Action.DELIVERY, _DECIDED)
            method = data.method
            return [lambda b: Delivered(**b, method=method)]

        return await self._act(case_id, Action.DELIVERY, data.request_id, actor, plan)

    async def withdraw(self, case_id: str, data: WithdrawalIn, actor: str) -> ActionResult:
        """The applicant withdraws before a result."""

        async def plan(case: _Case) -> list[_Draft]:
            self._expect(case, Action.WITHDRAWAL, _OPEN)
            _raise(_long("撤回理由", data.reason))
            reason = data.reason.strip() or "申请人申请撤回"
            return [lambda b: Withdrawn(**b, reason=reason)]

        return await self._act(case_id, Action.WITHDRAWAL, data.request_id, actor, plan)

    async def supply_deferred(
        self, case_id: str, data: DeferredSuppliedIn, actor: str
    ) -> ActionResult:
        """容缺 materials handed in after acceptance."""

        async def plan(case: _Case) -> list[_Draft]:
            state = case.state
            if state.status in (_S.WITHDRAWN, _S.REFUSED):
                self._expect(case, Action.DEFERRED_SUPPLIED, set())
            self._bind(case, Action.DEFERRED_SUPPLIED)
            owed = {d.code for d in state.deferred_outstanding}
            if not owed:
                raise ConflictError("该办件没有待补齐的容缺材料。", code="nothing_deferred")
            codes = tuple(c.strip() for c in data.codes if c.strip())
            problems = [] if codes else ["请选择补齐的容缺材料"]
            problems += [f"材料 {c} 重复登记" for c in duplicates(codes)]
            problems += [f"材料 {c} 不是待补齐的容缺材料" for c in codes if c not in owed]
            _raise(problems)
            return [lambda b: DeferredSupplied(**b, codes=codes)]

        return await self._act(case_id, Action.DEFERRED_SUPPLIED, data.request_id, actor, plan)

    async def forward(self, case_id: str, data: ForwardIn, actor: str) -> ActionResult:
        """转办 or 上报 to this node's parent, which handles the case from then on."""

        async def plan(case: _Case) -> list[_Draft]:
            self._expect(case, Action.FORWARD, _OPEN)
            if case.state.handling_node != self._identity.node_id:
                raise ConflictError(
                    "只有正在办理该办件的节点才能转办或上报。", code="case_handled_elsewhere"
                )
            _raise(_required(("理由", data.reason)) + _long("理由", data.reason))
            target = self._parent()
            if target is None:
                raise ConflictError(
                    "节点登记表中找不到本节点的上级节点，无法转办或上报，请联系县级中心。",
                    code="parent_unknown",
                )
            (to_node, to_tier), mode, reason = target, data.mode, data.reason.strip()
            return [
                lambda b: Forwarded(**b, to_node=to_node, to_tier=to_tier, mode=mode, reason=reason)
            ]

        return await self._act(case_id, Action.FORWARD, data.request_id, actor, plan)

    async def answer_urge(
        self, case_id: str, urge_id: str, data: UrgeAnswerIn, actor: str
    ) -> ActionResult:
        """The feedback to an open 催办/督办."""

        async def plan(case: _Case) -> list[_Draft]:
            self._bind(case, Action.URGE_ANSWER)
            if not any(u.urge_id == urge_id for u in case.state.open_urges):
                if any(isinstance(e, Urged) and e.urge_id == urge_id for e in case.events):
                    raise ConflictError(f"催督办 {urge_id} 已经反馈过了。", code="urge_answered")
                raise NotFoundError(f"该办件没有编号为 {urge_id} 的催督办。", code="urge_not_found")
            _raise(_required(("反馈内容", data.answer)) + _long("反馈内容", data.answer))
            answer = data.answer.strip()
            return [lambda b: UrgeAnswered(**b, urge_id=urge_id, answer=answer)]

        return await self._act(
            case_id, Action.URGE_ANSWER, data.request_id, actor, plan, key=urge_id
        )

    # -- what a page may offer -------------------------------------------------------------

    async def state_of(self, case_id: str) -> CaseState:
        """The folded state of a case held here.

        Raises:
            NotFoundError: no such case at this node.
        """
        return (await self._load(case_id)).state

    def panel(
        self, state: CaseState, roles: Collection[str], *, acting_for: str | None = None
    ) -> ActionPanel:
        """The actions ``roles`` may take on the case here and now, with their form options.

        ``acting_for`` is the caller's own department, when the account names one.
        """
        item = self._item(state)
        actions = [a for a in available_actions(state, roles) if self._may_act(state, a)]
        if state.extension_days == 0 and item is not None:
            cap = item.case_terms().extension_days
            if cap == 0 and Action.EXTENSION in actions:
                actions.remove(Action.EXTENSION)
        parent = self._parent()
        if parent is None and Action.FORWARD in actions:
            actions.remove(Action.FORWARD)
        parent_record = self._replica.registry.get(parent[0]) if parent else None
        listed = _procedures(item)
        procedures = [(k.value, k.label) for k in listed] or [
            (k.value, k.label) for k in ProcedureKind
        ]
        if ProcedureKind.OTHER not in listed and listed:
            procedures.append((ProcedureKind.OTHER.value, ProcedureKind.OTHER.label))
        return ActionPanel(
            actions=tuple(actions),
            departments=_departments(item) if item else (),
            procedures=tuple(procedures),
            materials=tuple(
                MaterialChoice(
                    code=m.code,
                    name=m.name,
                    deferrable=m.requirement is MaterialRequirement.DEFERRABLE,
                )
                for m in (item.materials if item else ())
            ),
            extension_cap=item.case_terms().extension_days if item else None,
            extension_approver=item.extension_approver if item else "",
            certificate_title=(item.result_name or item.name) if item else "",
            parent_name=parent_record.name if parent_record else None,
            delivery_methods=tuple((m.value, m.label) for m in DeliveryMethod),
            forward_modes=tuple((m.value, m.label) for m in ForwardMode),
            opinions=tuple((o.value, o.label) for o in Opinion),
            joint=item is not None and item.project_type is ProjectType.JOINT,
            reviews=department_reviews(item, state),
            acting_for=_text(acting_for) or None,
        )

    # -- machinery -------------------------------------------------------------------------

    async def _act(
        self,
        case_id: str,
        action: Action,
        request_id: str | None,
        actor: str,
        plan: Callable[[_Case], Awaitable[list[_Draft]]],
        *,
        key: str = "",
    ) -> ActionResult:
        request_id = (request_id or "").strip() or None
        if request_id is not None and len(request_id) > MAX_REQUEST_ID:
            raise HandlingRejectedError([f"请求编号过长（最多 {MAX_REQUEST_ID} 个字符）"])
        async with self._lock:
            case = await self._load(case_id)
            ids = self._event_ids(case_id, action, request_id, key)
            if request_id is not None:
                known = {e.id: e for e in case.events}
                earlier = []
                for event_id in ids:
                    if event_id not in known:
                        break
                    earlier.append(known[event_id])
                if earlier:
                    return await self._result(case.row, action, earlier)
            drafts = await plan(case)
            node_id = self._identity.node_id
            id_iter = iter(ids)

            events: list[CaseEvent] = []

            def build(tick: Callable[[], Hlc]) -> Sequence[CaseEvent]:
                events.clear()
                for draft in drafts:
                    base = {
                        "id": next(id_iter),
                        "case_id": case_id,
                        "node_id": node_id,
                        "actor": actor,
                        "hlc": tick(),
                    }
                    event = draft(base)
                    event.validate()
                    events.append(event)
                return events

            row = await self._replica.record(case_id, build)
            return await self._result(row, action, events)

    def _event_ids(
        self, case_id: str, action: Action, request_id: str | None, key: str
    ) -> list[str]:
        if request_id is None:
            return [str(uuid.uuid4()) for _ in range(4)]
        node_id = self._identity.node_id
        return [
            str(
                uuid.uuid5(
                    _EVENT_NAMESPACE, f"{node_id}\n{case_id}\n{action}\n{key}\n{request_id}\n{i}"
                )
            )
            for i in range(4)
        ]

    async def _load(self, case_id: str) -> _Case:
        store = self._replica.store
        row = (await store.case_rows([case_id])).get(case_id)
        if row is None:
            raise NotFoundError(f"本节点没有编号为 {case_id} 的办件。", code="case_not_found")
        state = decode_view(row.state_json).state
        return _Case(
            row=row, state=state, events=await self._events(case_id), item=self._item(state)
        )

    async def _events(self, case_id: str) -> list[CaseEvent]:
        return events_of((await self._replica.store.case_states([case_id])).get(case_id))

    def _item(self, state: CaseState) -> Item | None:
        if state.item_code is None or state.catalog_version is None:
            return None
        catalog = self._catalog.catalog_for(state.catalog_version)
        if catalog is None:
            return None
        try:
            return catalog.item(state.item_code)
        except NotFoundError:
            return None

    def _today(self) -> date:
        return china_date(self._clock())

    def _may_act(self, state: CaseState, action: Action) -> bool:
        handling = state.handling_node
        me = self._identity.node_id
        if handling is None:
            return False
        if action is Action.FORWARD:
            return handling == me
        if me == handling or me in self._replica.registry.ancestors(handling):
            return True
        return action in RECEIPT_SIDE_ACTIONS and state.origin_node == me

    def _bind(self, case: _Case, action: Action) -> None:
        state = case.state
        if state.handling_node is None:
            raise ConflictError(
                "该办件的收件记录尚未到达本节点，暂不能办理。", code="case_incomplete"
            )
        if not self._may_act(state, action):
            where = self._replica.registry.get(state.handling_node)
            name = where.name if where else state.handling_node
            raise ConflictError(
                f"该办件现由{name}办理，本节点不能记录“{action.label}”。",
                code="case_handled_elsewhere",
            )

    def _expect(self, case: _Case, action: Action, statuses: Collection[CaseStatus]) -> None:
        self._bind(case, action)
        status = case.state.status
        if status not in statuses:
            raise ConflictError(
                f"办件当前状态为“{status.label}”，不能{action.label}。", code="illegal_in_status"
            )

    def _parent(self) -> tuple[str, str] | None:
        registry = self._replica.registry
        me = registry.get(self._identity.node_id)
        parent = registry.get(me.parent) if me is not None and me.parent else None
        return None if parent is None else (parent.node_id, parent.tier.value)

    def _forward_target(self, case: _Case, today: date) -> tuple[str, str] | None:
        item = case.item
        if item is None:
            return None
        tier = self._identity.tier
        if item.handling_tier_for(tier, self._identity.node_id, today) is tier:
            return None
        target = self._parent()
        if target is None:
            raise ConflictError(
                "该事项由上级作出决定，但节点登记表中找不到本节点的上级节点，无法转办。",
                code="parent_unknown",
            )
        return target

    async def _result(
        self, row: CaseRow, action: Action, events: Sequence[CaseEvent]
    ) -> ActionResult:
        receipt_no = next((e.receipt_no for e in events if isinstance(e, Accepted)), None)
        certificate_no = next(
            (e.certificate_no for e in events if isinstance(e, CertificateIssued)), None
        )
        query_code = None
        if receipt_no is not None:
            query_code = make_query_code(await self._intake_store.query_secret(), receipt_no)
        return ActionResult(
            case_id=row.case_id,
            action=action.value,
            status=row.status,
            status_label=_status_label(row.status),
            handling_node=row.handling_node,
            event_ids=[e.id for e in events],
            receipt_no=receipt_no,
            query_code=query_code,
            certificate_no=certificate_no,
        )


# -- rules --------------------------------------------------------------------------------------


def _raise(problems: list[str]) -> None:
    if problems:
        raise HandlingRejectedError(problems)


def _text(value: str | None) -> str:
    return (value or "").strip()


def _required(*fields: tuple[str, str | None]) -> list[str]:
    return [f"{name}不能为空" for name, value in fields if blank(value)]


def _long(name: str, value: str | None) -> list[str]:
    if value is not None and len(value) > MAX_TEXT:
        return [f"{name}过长（最多 {MAX_TEXT} 个字）"]
    return []


def _status_label(status: str) -> str:
    try:
        return CaseStatus(status).label
    except ValueError:
        return status


def _departments(item: Item) -> tuple[str, ...]:
    if item.project_type is ProjectType.JOINT:
        return (item.lead_department, *item.parallel_departments)
    return (item.lead_department,)


def _procedures(item: Item | None) -> dict[ProcedureKind, int | None]:
    if item is None:
        return {}
    return {p.kind: p.typical_days for p in item.special_procedures}


def _material_name(item: Item | None, code: str) -> str:
    if item is not None:
        for material in item.materials:
            if material.code == code:
                return material.name
    return code


def _correction_problems(case: _Case, data: CorrectionIn, today: date) -> list[str]:
    item = case.item
    materials = [c.strip() for c in data.materials]
    found: list[str] = []
    if not any(materials):
        found.append("请登记收到的补正材料")
    known = {m.code: m for m in item.materials} if item else None
    deferred = [d.code for d in data.deferred]
    if known is not None:
        found += [
            f"事项 {item.code if item else ''} 没有编码为 {c} 的申请材料"
            for c in (*materials, *deferred)
            if c not in known
        ]
    found += [f"材料 {c} 重复登记" for c in duplicates(materials)]
    if data.decision is AfterCorrection.REFUSE:
        if data.deferred:
            found.append("只有受理时才能登记容缺材料")
        found += _required(("不予受理理由", data.reason)) + _long("不予受理理由", data.reason)
        return found
    notice = next((e for e in reversed(case.events) if isinstance(e, CorrectionRequested)), None)
    owed = [m for m in (notice.missing if notice else ()) if m.code not in materials]
    found += [
        f"一次性告知的材料 {m.code}「{m.name}」仍未补正，不能受理；可列为容缺材料或不予受理"
        for m in owed
        if m.code not in deferred
    ]
    found += [f"容缺材料 {c} 重复列出" for c in duplicates(deferred)]
    found += [f"材料 {c} 已收取，不能同时列为容缺材料" for c in deferred if c in materials]
    if known is not None:
        found += [
            f"材料 {c}「{known[c].name}」不是可容缺材料，不能容缺受理"
            for c in deferred
            if c in known and known[c].requirement is not MaterialRequirement.DEFERRABLE
        ]
    found += [
        f"容缺材料 {d.code} 的补齐期限 {d.due} 早于今天" for d in data.deferred if d.due < today
    ]
    if data.deferred and blank(data.commitment):
        found.append("容缺受理必须记录申请人的书面承诺")
    return found


def department_reviews(item: Item | None, state: CaseState) -> tuple[DepartmentReview, ...]:
    """Each department's place in the case's review: lead first, then the parallel ones."""
    given = {r.department: r for r in state.reviews}
    listed = _departments(item) if item is not None else ()
    lead = item.lead_department if item is not None else ""
    rows = [
        DepartmentReview(
            department=d,
            lead=d == lead,
            opinion=given[d].opinion if d in given else None,
        )
        for d in listed
    ]
    # An opinion of a department the catalog no longer lists is still shown, not hidden.
    rows += [
        DepartmentReview(department=d, lead=False, opinion=r.opinion)
        for d, r in given.items()
        if d not in listed
    ]
    return tuple(rows)


def _joint_reviews_complete(case: _Case, outcome: Outcome) -> None:
    """The combined decision of a joint item waits for every department's opinion.

    It may approve only when no department disagrees; a denial (with its reasons) needs the
    opinions too, so no department is passed over.
    """
    item = case.item
    if item is None or item.project_type is not ProjectType.JOINT:
        return
    opinions = {r.department: r.opinion for r in case.state.reviews}
    missing = [d for d in _departments(item) if d not in opinions]
    against = [d for d, o in opinions.items() if o is Opinion.DISAGREE]
    problems = [f"部门 {d} 尚未出具审查意见" for d in missing]
    if outcome is Outcome.APPROVE:
        problems += [f"部门 {d} 的审查意见为不同意，只能作出不予许可决定" for d in against]
    if problems:
        verb = "准予许可" if outcome is Outcome.APPROVE else "不予许可"
        raise ConflictError(
            f"并联审批事项不能作出{verb}决定：" + "；".join(problems) + "。",
            code="reviews_incomplete",
        )
