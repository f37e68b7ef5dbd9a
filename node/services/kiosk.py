"""The resident kiosk (自助终端): guide search, self pre-application, tracking, 好差评, complaints.

Nobody logs in at the kiosk. A resident proves they may see a case with its receipt number and
six-digit query code; six digits are only safe behind the per-address limit of failed checks
kept here, which survives a restart. A wrong code and an unknown number get the same answer,
and the code is checked before the case is looked up, so neither the wording nor the timing
says whether a case exists.
"""

from __future__ import annotations

import asyncio
import math
import re
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import msgspec

from casework.display import mask_name
from node.identity import NodeIdentity
from node.services.catalog import NodeCatalogService
from node.storage.intake_store import IntakeStore
from node.storage.kiosk_store import PICKED_UP, WAITING, KioskStore, PreApplicationRow
from shared.calendar import CHINA_TZ, china_date
from shared.case_state import CaseState, CaseStatus
from shared.catalog import Item, MaterialRequirement, MaterialSource
from shared.errors import ConflictError, InvalidError, NotFoundError, PlatformError, ValidationError
from shared.event_parts import blank
from shared.events import (
    Accepted,
    Applicant,
    ApplicantKind,
    CaseEvent,
    CertificateIssued,
    ComplaintAnswered,
    ComplaintFiled,
    CorrectionRequested,
    Decided,
    DecidedOnSpot,
    DeemedAccepted,
    Delivered,
    ExtensionGranted,
    IdType,
    Rated,
    RatingChannel,
    ReceiptChannel,
    Refused,
    Satisfaction,
    Withdrawn,
)
from shared.guide import GuideEntry
from shared.hlc import Hlc
from shared.receipts import check_query_code, parse_receipt_no
from sync.casedoc import events_of
from sync.projection import decode_view
from sync.replica import Replica

RESIDENT_ACTOR = "resident"
KIOSK_CHANNEL = ReceiptChannel.KIOSK.label  # 自助终端, as complaints name their channel
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=10)
MAX_NAME = 50
MAX_PHONE = 20
MAX_ID = 30
MAX_COMMENT = 500
MAX_COMPLAINT = 1000
MAX_REQUEST_ID = 100
PRE_PREFIX = "YS"
_NAMESPACE = uuid.UUID("a4f1d0a2-6a52-4c1e-8d0e-6f3b9f3c2b11")
_PRE_NUMBER = re.compile(r"YS-[0-9]{8}-[0-9]{4,}")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?")
_OTHER_ID = re.compile(r"[A-Z0-9()\-]{5,30}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Events that close the decision stage: a rating recorded after one of them rates the result.
_CLOSING = (Decided, DecidedOnSpot, Refused, Withdrawn)


class PreApplication(msgspec.Struct, frozen=True, kw_only=True):
    """A pre-application as the clerk picks it up (the ID number is here in full: mask it)."""

    number: str
    item_code: str
    applicant: Applicant
    materials: tuple[str, ...]
    created_at: datetime
    status: str  # "waiting" or "picked_up"
    case_id: str | None = None


class PreApplicationIn(msgspec.Struct, frozen=True, kw_only=True):
    """What a resident enters at the kiosk; ``materials`` are the codes of what they bring."""

    item_code: str
    applicant: Applicant
    materials: tuple[str, ...] = ()
    request_id: str | None = None


class PreApplicationSlip(msgspec.Struct, frozen=True, kw_only=True):
    """The slip the kiosk shows and prints: nothing on it identifies the applicant in full."""

    number: str
    item_code: str
    item_name: str
    applicant_name: str
    id_number: str  # masked
    brought: tuple[str, ...]
    still_needed: tuple[str, ...]
    created_at: datetime
    place: str
    status: str


class WaitingPreApplication(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the clerk's list of pre-applications (names and ID numbers masked)."""

    number: str
    item_code: str
    item_name: str
    applicant_name: str
    id_number: str
    materials_count: int
    created_at: datetime


class TrackQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A receipt number and its query code, as printed on the 受理通知书."""

    receipt_no: str
    query_code: str


class PublicEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One step of a case as the applicant may see it: no staff, no ID numbers."""

    label: str
    recorded_at: str
    detail: str


class ComplaintView(msgspec.Struct, frozen=True, kw_only=True):
    """A complaint about the case and its answer, if any."""

    complaint_id: str
    filed_at: str
    channel: str
    content: str
    answered: bool
    answer: str


class CaseTrack(msgspec.Struct, frozen=True, kw_only=True):
    """A case as the resident sees it after giving its receipt number and query code."""

    receipt_no: str
    item_code: str | None
    item_name: str | None
    applicant_name: str
    phase: str  # received / accepted / decided
    phase_label: str
    status_label: str
    received_on: date | None
    accepted_on: date | None
    promised_due: date | None
    finished: bool
    finished_on: date | None
    timeline: tuple[PublicEntry, ...]
    complaints: tuple[ComplaintView, ...]
    can_rate: bool
    rating: int | None  # the level of the rating of the result, once given
    rating_label: str | None


class RatingIn(msgspec.Struct, frozen=True, kw_only=True):
    """好差评 of a finished case: 5 非常满意 … 1 非常不满意, with an optional comment."""

    receipt_no: str
    query_code: str
    level: int
    comment: str = ""
    request_id: str | None = None


class ComplaintIn(msgspec.Struct, frozen=True, kw_only=True):
    """A complaint about a case."""

    receipt_no: str
    query_code: str
    content: str
    request_id: str | None = None


class KioskAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """What a rating or complaint left on the case."""

    receipt_no: str
    event_id: str
    message: str


class LookupLimitedError(PlatformError):
    """Too many failed receipt/query-code checks from one address; try again later."""

    code = "lookup_rate_limited"
    title = "查询过于频繁"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            f"查询码连续输错次数过多。为保护办件信息，请在 {minutes} 分钟后再试；"
            "如忘记查询码，请持身份证件到窗口查询。"
        )
        self.retry_after = retry_after
        self.minutes = minutes


class KioskService:
    """The kiosk's rules; pages and the JSON API both call this."""

    def __init__(
        self,
        store: KioskStore,
        *,
        intake_store: IntakeStore,
        replica: Replica,
        catalog: NodeCatalogService,
        identity: NodeIdentity,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._intake_store = intake_store
        self._replica = replica
        self._catalog = catalog
        self._identity = identity
        self._clock = clock
        # One rating or complaint at a time: the duplicate check and the record go together.
        self._lock = asyncio.Lock()

    # -- the guide ---------------------------------------------------------------------------

    def search(self, query: str = "", department: str = "") -> tuple[GuideEntry, ...]:
        """Items offered here whose name, code, summary, conditions or department match."""
        needle = unicodedata.normalize("NFKC", query).strip().lower()
        wanted = department.strip()
        found = []
        for entry in self._catalog.guide().entries:
            if wanted and entry.department != wanted:
                continue
            haystack = (entry.name, entry.code, entry.summary, entry.department, *entry.conditions)
            if needle and not any(needle in text.lower() for text in haystack):
                continue
            found.append(entry)
        return tuple(found)

    def departments(self) -> tuple[str, ...]:
        """Departments of the items offered here, in catalog order."""
        return tuple(dict.fromkeys(e.department for e in self._catalog.guide().entries))

    def item_for_form(self, code: str) -> tuple[GuideEntry, Item]:
        """An item offered here with its catalog record (the materials' codes).

        Raises:
            NotFoundError: no catalog yet, no such item, or not offered here.
        """
        entry = self._catalog.entry(code.strip())
        held = self._catalog.current()
        assert held is not None  # entry() found a catalog
        return entry, held.catalog.item(entry.code)

    # -- pre-application ---------------------------------------------------------------------

    def submit_preapplication(self, data: PreApplicationIn) -> PreApplicationSlip:
        """Check and keep a pre-application; the same ``request_id`` again gives the same slip.

        Raises:
            ValidationError: every problem with the input, in Chinese.
        """
        problems: list[str] = []
        item = self._offered_item(data.item_code, problems)
        now = self._clock()
        today = china_date(now)
        applicant = _clean_applicant(data.applicant, problems, today)
        materials = tuple(dict.fromkeys(m.strip() for m in data.materials if m.strip()))
        if item is not None:
            known = {m.code for m in item.materials}
            problems.extend(
                f"事项“{item.name}”没有编码为 {code} 的申请材料"
                for code in materials
                if code not in known
            )
        request_id = _request_id(data.request_id, problems)
        if problems:
            raise ValidationError(problems, message="预申请未通过校验：" + "；".join(problems))
        assert item is not None
        number = self._store.add_preapplication(
            day=today,
            number_for=lambda serial: f"{PRE_PREFIX}-{today:%Y%m%d}-{serial:04d}",
            request_id=request_id,
            item_code=item.code,
            applicant=msgspec.json.encode(applicant),
            materials=materials,
            at=now,
        )
        row = self._store.preapplication(number)
        assert row is not None
        return self._slip(row)

    def slip(self, number: str) -> PreApplicationSlip:
        """The resident's slip of a pre-application (to show it again or print it).

        Raises:
            NotFoundError: no such pre-application.
        """
        row = self._store.preapplication(_normalize_number(number))
        if row is None:
            raise NotFoundError(f"没有编号为 {number.strip()} 的预申请。", code="preapp_not_found")
        return self._slip(row)

    def preapplication(self, number: str) -> PreApplication | None:
        """The pre-application a clerk picks up by its number (None when there is none)."""
        row = self._store.preapplication(_normalize_number(number))
        return None if row is None else _pre(row)

    def mark_picked_up(self, number: str, case_id: str) -> None:
        """Record that a clerk turned the pre-application into ``case_id``.

        Picking up again for the same case is a no-op.

        Raises:
            NotFoundError: no such pre-application.
            ConflictError: it was already picked up for another case.
        """
        normalized = _normalize_number(number)
        row = self._store.mark_picked_up(normalized, case_id, self._clock())
        if row is None:
            raise NotFoundError(f"没有编号为 {number.strip()} 的预申请。", code="preapp_not_found")
        if row.case_id != case_id:
            raise ConflictError(
                f"预申请 {normalized} 已由窗口受理为其他办件，不能再次领取。",
                code="preapp_taken",
            )

    def waiting(self) -> list[WaitingPreApplication]:
        """Pre-applications waiting for a clerk, oldest first, with masked identities."""
        found = []
        for row in self._store.waiting():
            applicant = msgspec.json.decode(row.applicant, type=Applicant)
            found.append(
                WaitingPreApplication(
                    number=row.number,
                    item_code=row.item_code,
                    item_name=self._item_name(row.item_code),
                    applicant_name=mask_name(applicant.name),
                    id_number=mask_id_number(applicant.id_number),
                    materials_count=len(row.materials),
                    created_at=row.created_at.astimezone(CHINA_TZ),
                )
            )
        return found

    # -- tracking, rating, complaints -------------------------------------------------------

    async def track(self, query: TrackQuery, client: str) -> CaseTrack:
        """The resident's view of the case behind a receipt number and query code.

        Raises:
            InvalidError: a malformed receipt number, or a wrong number or code (one message).
            LookupLimitedError: too many failed checks from ``client`` lately.
        """
        case_id = self._authorised(query.receipt_no, query.query_code, client)
        return await self._track(case_id)

    async def rate(self, data: RatingIn, client: str) -> KioskAnswer:
        """Record a 好差评 of a finished case (once for its result).

        Raises:
            ValidationError: a level outside 1-5 or a comment too long.
            ConflictError: the case is not finished, or its result was already rated.
            InvalidError / LookupLimitedError: as for :meth:`track`.
        """
        problems: list[str] = []
        if isinstance(data.level, bool) or data.level not in {s.value for s in Satisfaction}:
            problems.append("请选择 1 至 5 星的评价等级")
        comment = data.comment.strip()
        if len(comment) > MAX_COMMENT:
            problems.append(f"评价意见最多 {MAX_COMMENT} 字，现有 {len(comment)} 字")
        request_id = _request_id(data.request_id, problems)
        case_id = self._authorised(data.receipt_no, data.query_code, client)
        if problems:
            raise ValidationError(problems, message="评价未通过校验：" + "；".join(problems))
        event_id = self._event_id("rating", case_id, request_id)
        async with self._lock:
            state, events = await self._case(case_id)
            receipt_no = state.receipt_no or data.receipt_no
            if any(e.id == event_id for e in events):
                return KioskAnswer(receipt_no=receipt_no, event_id=event_id, message="评价已提交")
            if not state.finished:
                raise ConflictError(
                    "办件尚未办结，办结后才能评价。可在办理过程中通过“投诉”反映问题。",
                    code="rating_not_finished",
                )
            if _result_rated(events) is not None:
                raise ConflictError(
                    "该办件的办理结果已经评价过，每个环节只能评价一次。", code="rating_duplicate"
                )
            level = Satisfaction(data.level)
            await self._record(
                case_id,
                lambda base: Rated(
                    **base(event_id),
                    level=level,
                    channel=RatingChannel.HALL_TERMINAL,
                    comment=comment,
                ),
            )
        return KioskAnswer(
            receipt_no=receipt_no,
            event_id=event_id,
            message=f"感谢您的评价（{level.label}）。",
        )

    async def complain(self, data: ComplaintIn, client: str) -> KioskAnswer:
        """Record a complaint about the case; the answer shows when tracking it.

        Raises:
            ValidationError: empty or too long.
            InvalidError / LookupLimitedError: as for :meth:`track`.
        """
        problems: list[str] = []
        content = data.content.strip()
        if not content:
            problems.append("请填写投诉内容")
        elif len(content) > MAX_COMPLAINT:
            problems.append(f"投诉内容最多 {MAX_COMPLAINT} 字，现有 {len(content)} 字")
        request_id = _request_id(data.request_id, problems)
        case_id = self._authorised(data.receipt_no, data.query_code, client)
        if problems:
            raise ValidationError(problems, message="投诉未通过校验：" + "；".join(problems))
        event_id = self._event_id("complaint", case_id, request_id)
        message = "投诉已登记，答复后可凭受理编号和查询码在本终端查看。"
        async with self._lock:
            state, events = await self._case(case_id)
            receipt_no = state.receipt_no or data.receipt_no
            if any(e.id == event_id for e in events):
                return KioskAnswer(receipt_no=receipt_no, event_id=event_id, message=message)
            await self._record(
                case_id,
                lambda base: ComplaintFiled(
                    **base(event_id), complaint_id=event_id, content=content, channel=KIOSK_CHANNEL
                ),
            )
        return KioskAnswer(receipt_no=receipt_no, event_id=event_id, message=message)

    def limit_left(self, client: str) -> int | None:
        """Seconds ``client`` must still wait before a lookup, or None when it may try now."""
        now = self._clock()
        failures = self._store.failures_since(client, now - FAILURE_WINDOW)
        if len(failures) < MAX_FAILURES:
            return None
        # The wait ends when enough of the window's failures have aged out.
        frees_at = failures[-MAX_FAILURES] + FAILURE_WINDOW
        return max(1, math.ceil((frees_at - now).total_seconds()))

    # -- inside ------------------------------------------------------------------------------

    def _authorised(self, receipt_no: str, query_code: str, client: str) -> str:
        wait = self.limit_left(client)
        if wait is not None:
            raise LookupLimitedError(wait)
        if blank(receipt_no) or blank(query_code):
            raise ValidationError(
                [
                    p
                    for p, v in (("请输入受理编号", receipt_no), ("请输入查询码", query_code))
                    if blank(v)
                ]
            )
        # Malformed numbers and typos in the check character are caught without the secret,
        # so they reveal nothing and are not counted against the address.
        parsed = parse_receipt_no(receipt_no)
        if parsed.node_code != self._identity.short_code:
            raise InvalidError(
                f"受理编号 {parsed.text} 不是本服务点发放的，请到原受理服务点查询。",
                code="receipt_elsewhere",
            )
        case_id = None
        if check_query_code(self._intake_store.query_secret(), parsed.text, query_code):
            case_id = self._store.case_id_for_receipt(parsed.text)
        if case_id is None:
            now = self._clock()
            self._store.record_failure(client, now, forget_before=now - FAILURE_WINDOW)
            raise InvalidError(
                "受理编号或查询码不正确，请核对受理通知书后重新输入。", code="lookup_failed"
            )
        return case_id

    async def _case(self, case_id: str) -> tuple[CaseState, list[CaseEvent]]:
        store = self._replica.store
        row = (await store.case_rows([case_id])).get(case_id)
        if row is None:
            raise NotFoundError("本服务点没有找到该办件。", code="case_not_found")
        state = decode_view(row.state_json).state
        events = events_of((await store.case_states([case_id])).get(case_id))
        events.sort(key=lambda e: (e.hlc.wall_ms, e.hlc.counter, e.node_id, e.id))
        return state, events

    async def _track(self, case_id: str) -> CaseTrack:
        state, events = await self._case(case_id)
        row = (await self._replica.store.case_rows([case_id]))[case_id]
        rated = _result_rated(events)
        return CaseTrack(
            receipt_no=state.receipt_no or "",
            item_code=state.item_code,
            item_name=self._item_name(state.item_code, state.catalog_version),
            applicant_name=mask_name(row.applicant_name),
            phase=_phase(state.status),
            phase_label=_PHASE_LABELS[_phase(state.status)],
            status_label=state.status.label,
            received_on=state.received_on,
            accepted_on=state.accepted_on,
            promised_due=state.promised_due.due if state.promised_due else None,
            finished=state.finished,
            finished_on=state.finished_on,
            timeline=tuple(
                _public(e) for e in events if not isinstance(e, Rated | ComplaintAnswered)
            ),
            complaints=_complaints(events),
            can_rate=state.finished and rated is None,
            rating=None if rated is None else int(rated.level),
            rating_label=None if rated is None else Satisfaction(rated.level).label,
        )

    async def _record(
        self, case_id: str, make: Callable[[Callable[[str], dict[str, Any]]], CaseEvent]
    ) -> None:
        node_id = self._identity.node_id

        def build(tick: Callable[[], Hlc]) -> Sequence[CaseEvent]:
            def base(event_id: str) -> dict[str, Any]:
                return {
                    "id": event_id,
                    "case_id": case_id,
                    "node_id": node_id,
                    "actor": RESIDENT_ACTOR,
                    "hlc": tick(),
                }

            return [make(base)]

        await self._replica.record(case_id, build)

    def _event_id(self, kind: str, case_id: str, request_id: str | None) -> str:
        if request_id is None:
            return str(uuid.uuid4())
        return str(uuid.uuid5(_NAMESPACE, f"{kind}\n{case_id}\n{request_id}"))

    def _offered_item(self, code: str, problems: list[str]) -> Item | None:
        code = code.strip()
        if not code:
            problems.append("请选择要办理的事项")
            return None
        try:
            return self.item_for_form(code)[1]
        except NotFoundError:
            problems.append(f"本服务点不受理编码为 {code} 的事项，请返回重新选择")
            return None

    def _item_name(self, code: str | None, version: int | None = None) -> str:
        if code is None:
            return ""
        held = self._catalog.current()
        catalog = self._catalog.catalog_for(version) if version is not None else None
        catalog = catalog or (held.catalog if held else None)
        if catalog is None:
            return code
        try:
            return catalog.item(code).name
        except NotFoundError:
            return code

    def _slip(self, row: PreApplicationRow) -> PreApplicationSlip:
        applicant = msgspec.json.decode(row.applicant, type=Applicant)
        names: dict[str, str] = {}
        needed: list[str] = []
        place = ""
        held = self._catalog.current()
        if held is not None:
            try:
                item = held.catalog.item(row.item_code)
            except NotFoundError:
                item = None
            if item is not None:
                place = item.contact.address
                names = {m.code: m.name for m in item.materials}
                needed = [
                    m.name
                    for m in item.materials
                    if m.requirement
                    in (MaterialRequirement.REQUIRED, MaterialRequirement.DEFERRABLE)
                    and m.source is not MaterialSource.SHARED
                    and m.code not in row.materials
                ]
        return PreApplicationSlip(
            number=row.number,
            item_code=row.item_code,
            item_name=self._item_name(row.item_code),
            applicant_name=mask_name(applicant.name),
            id_number=mask_id_number(applicant.id_number),
            brought=tuple(names.get(code, code) for code in row.materials),
            still_needed=tuple(needed),
            created_at=row.created_at.astimezone(CHINA_TZ),
            place=place,
            status=row.status,
        )


_PHASE_LABELS = {"received": "已收件", "accepted": "已受理", "decided": "已办结"}


def _phase(status: CaseStatus) -> str:
    if status.finished or status is CaseStatus.DELIVERED:
        return "decided"
    if status in (CaseStatus.ACCEPTED, CaseStatus.PAUSED):
        return "accepted"
    return "received"


def _result_rated(events: Sequence[CaseEvent]) -> Rated | None:
    """The rating of the case's result: the first one recorded after the case closed."""
    closed = False
    for event in events:
        if isinstance(event, _CLOSING):
            closed = True
        elif closed and isinstance(event, Rated):
            return event
    return None


def _public(event: CaseEvent) -> PublicEntry:
    return PublicEntry(
        label=event.LABEL,
        recorded_at=event.recorded_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M"),
        detail=_public_detail(event),
    )


def _public_detail(event: CaseEvent) -> str:
    # Only what the applicant was told on paper anyway; never who did it or their ID number.
    if isinstance(event, Accepted):
        return f"受理编号 {event.receipt_no}"
    if isinstance(event, CorrectionRequested):
        return "请补正：" + "、".join(m.name for m in event.missing)
    if isinstance(event, Refused):
        return event.reason + (f"；请向{event.referral}申请" if event.referral else "")
    if isinstance(event, Decided | DecidedOnSpot):
        return f"{event.outcome.label}许可"
    if isinstance(event, DeemedAccepted):
        return f"自 {event.as_of} 起视为受理"
    if isinstance(event, ExtensionGranted):
        return f"延长 {event.days} 个工作日：{event.reason}"
    if isinstance(event, CertificateIssued):
        return event.title
    if isinstance(event, Delivered):
        return event.method.label
    if isinstance(event, ComplaintFiled):
        return f"来源：{event.channel}"
    return ""


def _complaints(events: Sequence[CaseEvent]) -> tuple[ComplaintView, ...]:
    answers = {e.complaint_id: e.answer for e in events if isinstance(e, ComplaintAnswered)}
    return tuple(
        ComplaintView(
            complaint_id=e.complaint_id,
            filed_at=e.recorded_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M"),
            channel=e.channel,
            content=e.content,
            answered=e.complaint_id in answers,
            answer=answers.get(e.complaint_id, ""),
        )
        for e in events
        if isinstance(e, ComplaintFiled)
    )


def _pre(row: PreApplicationRow) -> PreApplication:
    return PreApplication(
        number=row.number,
        item_code=row.item_code,
        applicant=msgspec.json.decode(row.applicant, type=Applicant),
        materials=row.materials,
        created_at=row.created_at,
        status=PICKED_UP if row.status == PICKED_UP else WAITING,
        case_id=row.case_id,
    )


def _normalize_number(number: str) -> str:
    return unicodedata.normalize("NFKC", number).strip().upper()


def _request_id(raw: str | None, problems: list[str]) -> str | None:
    text = (raw or "").strip()
    if len(text) > MAX_REQUEST_ID:
        problems.append(f"请求编号过长（最多 {MAX_REQUEST_ID} 个字符）")
        return None
    return text or None


def _clean_applicant(applicant: Applicant, problems: list[str], today: date) -> Applicant:
    name = unicodedata.normalize("NFKC", applicant.name).strip()
    if not name:
        problems.append("请填写申请人姓名（单位名称）")
    elif len(name) > MAX_NAME:
        problems.append(f"申请人姓名（名称）最多 {MAX_NAME} 个字")
    id_number = unicodedata.normalize("NFKC", applicant.id_number).replace(" ", "").upper()
    if not id_number:
        problems.append("请填写证件号码")
    else:
        problem = id_number_problem(applicant.id_type, id_number, today)
        if problem:
            problems.append(problem)
    if applicant.kind is ApplicantKind.ORGANISATION and applicant.id_type is IdType.RESIDENT_ID:
        problems.append("单位申请请选择统一社会信用代码")
    phone = unicodedata.normalize("NFKC", applicant.phone or "").replace(" ", "")
    if phone and (
        len(phone) > MAX_PHONE or not (_MOBILE.fullmatch(phone) or _LANDLINE.fullmatch(phone))
    ):
        problems.append("联系电话格式不正确：请填写 11 位手机号码或带区号的固定电话")
    return Applicant(
        name=name,
        id_type=applicant.id_type,
        id_number=id_number,
        phone=phone or None,
        kind=applicant.kind,
    )


def id_number_problem(id_type: IdType, number: str, today: date) -> str | None:
    """Why ``number`` cannot be an ID of ``id_type`` (None when it can). Never echoes it."""
    if id_type is IdType.RESIDENT_ID:
        if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
            return "居民身份证号码应为 18 位，最后一位可以是数字或 X"
        try:
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        except ValueError:
            return "居民身份证号码中的出生日期不存在，请核对"
        if born.year < 1900 or born > today:
            return "居民身份证号码中的出生日期不正确，请核对"
        total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
        if _ID_CHECK[total % 11] != number[17]:
            return "居民身份证号码校验位不符，可能有数字输错，请核对"
        return None
    if id_type is IdType.USCC:
        if len(number) != 18 or any(ch not in _USCC_ALPHABET for ch in number):
            return "统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V）"
        total = sum(
            _USCC_ALPHABET.index(ch) * w for ch, w in zip(number[:17], _USCC_WEIGHTS, strict=True)
        )
        if _USCC_ALPHABET[(31 - total % 31) % 31] != number[17]:
            return "统一社会信用代码校验位不符，请核对"
        return None
    if not _OTHER_ID.fullmatch(number):
        return f"{id_type.label}号码应为 5 至 {MAX_ID} 位字母或数字"
    return None


def mask_id_number(number: str) -> str:
    """An ID number with only its first three and last four characters shown."""
    text = number.strip()
    if len(text) <= 8:
        return text[:1] + "*" * max(0, len(text) - 1)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]
