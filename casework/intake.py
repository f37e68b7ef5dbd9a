"""The window's intake (收件、受理、补正告知、不予受理、即办) as one signed record per case.

An application is checked against the item of the catalog in force at this node, then its
events are recorded in one :meth:`sync.replica.Replica.record` call, so the receipt and the
decision on it travel together. A client may send a ``request_id``: the same id always gets
the first answer, and the case id is derived from it, so even a crash between recording and
remembering the answer cannot make a second case.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import msgspec

from casework.ports import CatalogInForce, Identity, IntakeLedger, Serials
from shared.calendar import china_date
from shared.catalog import Item, Material, MaterialRequirement, MaterialSource
from shared.errors import NotFoundError, ValidationError
from shared.event_parts import blank, duplicates
from shared.events import (
    Accepted,
    Applicant,
    CaseEvent,
    CorrectionRequested,
    DecidedOnSpot,
    DeferredMaterial,
    Forwarded,
    ForwardMode,
    MissingMaterial,
    Outcome,
    ReceiptChannel,
    Received,
    Refused,
)
from shared.hlc import Hlc
from shared.intake_events import make_query_check
from shared.receipts import format_receipt_no, make_query_code
from shared.terms import ProjectType
from sync.casedoc import events_of
from sync.replica import Replica
from sync.store import CaseRow

_REQUEST_NAMESPACE = uuid.UUID("5b0f6f4e-3f8e-4d55-9d2f-6a1f0c1c7a10")
MAX_REQUEST_ID = 100


class Decision(StrEnum):
    """What the clerk decided at the window."""

    ACCEPT = "accept"
    CORRECTION = "correction"
    REFUSE = "refuse"
    IMMEDIATE = "immediate"


class DeferredIn(msgspec.Struct, frozen=True, kw_only=True):
    """A 容缺 material: its code and the day the applicant promised to supply it by."""

    code: str
    due: date


class Application(msgspec.Struct, frozen=True, kw_only=True):
    """An application as the clerk enters it."""

    item_code: str
    applicant: Applicant
    decision: Decision
    materials: tuple[str, ...] = ()
    deferred: tuple[DeferredIn, ...] = ()
    reason: str | None = None
    referral: str | None = None
    commitment: str | None = None
    request_id: str | None = None


class IntakeResult(msgspec.Struct, frozen=True, kw_only=True):
    """What the window prints: the case, its receipt number and query code, what is missing."""

    case_id: str
    receipt_no: str | None
    query_code: str | None
    status: str
    promised_due: date | None
    missing: tuple[MissingMaterial, ...] = ()


class IntakeRejectedError(ValidationError):
    """The application cannot be recorded as entered; every problem is listed."""

    code = "intake_invalid"
    title = "申请登记未通过校验"

    def __init__(self, problems: list[str], *, code: str | None = None) -> None:
        super().__init__(problems, message="申请登记未通过校验：" + "；".join(problems))
        if code is not None:
            self.code = code


async def acceptance_check(serials: Serials, case_id: str, receipt_no: str) -> str:
    """The query check an acceptance carries.

    It lets the county and every other tier check the printed query code without the secret.
    """
    secret = await serials.query_secret()
    return make_query_check(case_id, receipt_no, make_query_code(secret, receipt_no))


@dataclass(frozen=True)
class _Plan:
    item: Item
    catalog_version: int
    missing: tuple[MissingMaterial, ...]
    deferred: tuple[DeferredMaterial, ...]
    forward_to: tuple[str, str] | None  # (node id, tier) of the parent deciding in our stead


class IntakeService:
    """Checks applications and records them on the node's replica."""

    def __init__(
        self,
        replica: Replica,
        catalog: CatalogInForce,
        identity: Identity,
        store: IntakeLedger,
        clock: Callable[[], datetime],
    ) -> None:
        self._replica = replica
        self._catalog = catalog
        self._identity = identity
        self._store = store
        self._clock = clock
        # One intake at a time: a double submit waits and then finds the first answer.
        self._lock = asyncio.Lock()

    async def submit(self, application: Application, actor: str) -> IntakeResult:
        """Validate and record an application.

        Raises:
            IntakeRejectedError: the application breaks a rule (422, every problem listed).
            PermissionDeniedError: the replica refuses the action for this node.
        """
        request_id = (application.request_id or "").strip() or None
        if request_id is not None and len(request_id) > MAX_REQUEST_ID:
            raise IntakeRejectedError([f"请求编号过长（最多 {MAX_REQUEST_ID} 个字符）"])
        async with self._lock:
            case_id = str(uuid.uuid4())
            if request_id is not None:
                earlier = await self._earlier(request_id)
                if earlier is not None:
                    return earlier
                case_id = self._case_id_for(request_id)
            result = await self._record(application, case_id, actor)
            if request_id is not None:
                encoded = msgspec.json.encode(result)
                await self._store.remember_request(request_id, case_id, encoded, self._clock())
            return result

    def _case_id_for(self, request_id: str) -> str:
        return str(uuid.uuid5(_REQUEST_NAMESPACE, f"{self._identity.node_id}\n{request_id}"))

    async def _earlier(self, request_id: str) -> IntakeResult | None:
        stored = await self._store.request_result(request_id)
        if stored is not None:
            return msgspec.json.decode(stored, type=IntakeResult)
        # Recorded but not remembered (a crash in between): answer from the case itself.
        case_id = self._case_id_for(request_id)
        row = (await self._replica.store.case_rows([case_id])).get(case_id)
        if row is None:
            return None
        states = await self._replica.store.case_states([case_id])
        missing: tuple[MissingMaterial, ...] = ()
        for event in events_of(states.get(case_id)):
            if isinstance(event, CorrectionRequested):
                missing = event.missing
        return await self._result(row, missing)

    async def _record(self, application: Application, case_id: str, actor: str) -> IntakeResult:
        today = china_date(self._clock())
        plan = self._plan(application, today)
        receipt_no = query_check = None
        if application.decision in (Decision.ACCEPT, Decision.IMMEDIATE):
            serial = await self._store.next_serial(today)
            receipt_no = format_receipt_no(self._identity.short_code, today, serial)
            query_check = await acceptance_check(self._store, case_id, receipt_no)
        node_id = self._identity.node_id

        def build(tick: Callable[[], Hlc]) -> Sequence[CaseEvent]:
            def base() -> dict[str, Any]:
                return {
                    "id": str(uuid.uuid4()),
                    "case_id": case_id,
                    "node_id": node_id,
                    "actor": actor,
                    "hlc": tick(),
                }

            events: list[CaseEvent] = [
                Received(
                    **base(),
                    item_code=plan.item.code,
                    catalog_version=plan.catalog_version,
                    applicant=application.applicant,
                    materials=application.materials,
                    channel=ReceiptChannel.WINDOW,
                )
            ]
            decision = application.decision
            if decision is Decision.CORRECTION:
                events.append(CorrectionRequested(**base(), missing=plan.missing))
            elif decision is Decision.REFUSE:
                events.append(
                    Refused(
                        **base(),
                        reason=(application.reason or "").strip(),
                        referral=(application.referral or "").strip(),
                    )
                )
            else:
                assert receipt_no is not None
                events.append(
                    Accepted(
                        **base(),
                        receipt_no=receipt_no,
                        deferred=plan.deferred,
                        commitment=application.commitment if plan.deferred else None,
                        query_check=query_check,
                    )
                )
                if decision is Decision.IMMEDIATE:
                    events.append(DecidedOnSpot(**base(), outcome=Outcome.APPROVE))
                elif plan.forward_to is not None:
                    to_node, to_tier = plan.forward_to
                    events.append(
                        Forwarded(
                            **base(),
                            to_node=to_node,
                            to_tier=to_tier,
                            mode=ForwardMode.FORWARD,
                            reason="本节点仅负责收件，按事项下放方式转上级办理",
                        )
                    )
            return events

        row = await self._replica.record(case_id, build)
        return await self._result(row, plan.missing)

    async def _result(self, row: CaseRow, missing: tuple[MissingMaterial, ...]) -> IntakeResult:
        query_code = None
        if row.receipt_no:
            query_code = make_query_code(await self._store.query_secret(), row.receipt_no)
        return IntakeResult(
            case_id=row.case_id,
            receipt_no=row.receipt_no,
            query_code=query_code,
            status=row.status,
            promised_due=row.promised_due,
            missing=missing,
        )

    def _plan(self, application: Application, today: date) -> _Plan:
        held = self._catalog.current()
        if held is None:
            raise IntakeRejectedError(
                ["本节点尚未收到事项目录，暂不能登记申请"], code="catalog_missing"
            )
        code = application.item_code.strip()
        try:
            item = held.catalog.item(code)
        except NotFoundError:
            raise IntakeRejectedError(
                [f"事项目录（第 {held.version} 版）中没有编号为 {code} 的事项"],
                code="item_not_found",
            ) from None
        tier, node_id = self._identity.tier, self._identity.node_id
        handling = item.handling_tier_for(tier, node_id, today)
        if handling is None:
            raise IntakeRejectedError(
                [f"事项 {item.code}「{item.name}」在 {today} 未下放到本节点，本节点不能受理"],
                code="item_not_offered",
            )
        problems = _applicant_problems(application.applicant)
        problems.extend(_material_problems(item, application))
        missing = _missing(item, application)
        problems.extend(_decision_problems(item, application, missing, handling is tier, today))
        forward_to = None
        if handling is not tier and application.decision is Decision.ACCEPT:
            forward_to = self._parent(problems)
        if problems:
            raise IntakeRejectedError(problems)
        deferred = tuple(
            DeferredMaterial(code=d.code, name=_material(item, d.code).name, due=d.due)
            for d in application.deferred
        )
        return _Plan(
            item=item,
            catalog_version=held.version,
            missing=missing if application.decision is Decision.CORRECTION else (),
            deferred=deferred,
            forward_to=forward_to,
        )

    def _parent(self, problems: list[str]) -> tuple[str, str] | None:
        registry = self._replica.registry
        me = registry.get(self._identity.node_id)
        parent = registry.get(me.parent) if me is not None and me.parent else None
        if parent is None:
            problems.append("节点登记表中找不到本节点的上级节点，无法转办，请联系县级中心")
            return None
        return parent.node_id, parent.tier.value


def _material(item: Item, code: str) -> Material:
    return next(m for m in item.materials if m.code == code)


def _needed(material: Material) -> bool:
    # 数据共享免提交 materials are fetched by the department, never asked of the applicant.
    return (
        material.requirement in (MaterialRequirement.REQUIRED, MaterialRequirement.DEFERRABLE)
        and material.source is not MaterialSource.SHARED
    )


def _missing(item: Item, application: Application) -> tuple[MissingMaterial, ...]:
    handed = set(application.materials)
    return tuple(
        MissingMaterial(code=m.code, name=m.name, requirement=_requirement_text(m))
        for m in item.materials
        if _needed(m) and m.code not in handed
    )


def _requirement_text(material: Material) -> str:
    parts = []
    if material.copies.original:
        parts.append(f"原件{material.copies.original}份")
    if material.copies.copy:
        parts.append(f"复印件{material.copies.copy}份")
    if not parts:
        parts.append(material.form.label)
    if material.notes:
        parts.append(material.notes)
    return "，".join(parts)


def _applicant_problems(applicant: Applicant) -> list[str]:
    found = []
    if blank(applicant.name):
        found.append("申请人姓名（名称）不能为空")
    if blank(applicant.id_number):
        found.append("申请人证件号码不能为空")
    return found


def _material_problems(item: Item, application: Application) -> list[str]:
    known = {m.code: m for m in item.materials}
    found = [
        f"事项 {item.code} 没有编码为 {code} 的申请材料"
        for code in (*application.materials, *(d.code for d in application.deferred))
        if code not in known
    ]
    found.extend(f"材料 {c} 重复登记" for c in duplicates(application.materials))
    deferred_codes = [d.code for d in application.deferred]
    found.extend(f"容缺材料 {c} 重复列出" for c in duplicates(deferred_codes))
    found.extend(
        f"材料 {c} 已收取，不能同时列为容缺材料"
        for c in deferred_codes
        if c in application.materials
    )
    found.extend(
        f"材料 {c}「{known[c].name}」不是可容缺材料，不能容缺受理"
        for c in deferred_codes
        if c in known and known[c].requirement is not MaterialRequirement.DEFERRABLE
    )
    return found


def _decision_problems(
    item: Item,
    application: Application,
    missing: tuple[MissingMaterial, ...],
    decides_here: bool,
    today: date,
) -> list[str]:
    decision = application.decision
    found: list[str] = []
    deferred = {d.code for d in application.deferred}
    if decision in (Decision.ACCEPT, Decision.IMMEDIATE):
        found.extend(
            f"缺少材料 {m.code}「{m.name}」，不能受理；请一次性告知补正或列为容缺材料"
            for m in missing
            if m.code not in deferred
        )
        found.extend(
            f"容缺材料 {d.code} 的补齐期限 {d.due} 早于今天"
            for d in application.deferred
            if d.due < today
        )
        if application.deferred and blank(application.commitment):
            found.append("容缺受理必须记录申请人的书面承诺（commitment）")
    elif application.deferred:
        found.append("只有受理时才能登记容缺材料")
    if decision is Decision.CORRECTION and not missing:
        found.append("必要材料已经齐全，无需补正，请直接受理")
    if decision is Decision.REFUSE:
        if blank(application.reason):
            found.append("不予受理必须说明理由")
        if blank(application.referral):
            found.append("不予受理必须告知申请人应向哪个行政机关申请（referral）")
    if decision is Decision.IMMEDIATE:
        if item.project_type is not ProjectType.IMMEDIATE:
            found.append(f"事项 {item.code}「{item.name}」不是即办件，不能当场办结")
        elif not decides_here:
            found.append(f"事项 {item.code}「{item.name}」不由本节点作出决定，不能当场办结")
    return found
