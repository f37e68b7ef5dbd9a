"""The county's resident portal: tracking any case of the county, 好差评, and the lookup limit.

Nobody logs in. A resident proves they may see a case with its receipt number and six-digit
query code. The code is made from the accepting node's own secret, which the county never
holds: the acceptance carries a slow salted hash of it instead (``Accepted.query_check``), and
the county checks the typed code against that. Acceptances recorded before the hash existed
carry none; those cases can only be tracked at the node that accepted them.

Six digits are only safe behind a limit: failed checks are counted per client address in a
county table and a client over the limit waits. A wrong code, an unknown number and an old
case without a hash get the same answer, so nothing tells whether a number exists.
"""

from __future__ import annotations

import asyncio
import math
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import msgspec

from central.db.portal_tables import PortalStore
from central.services.releases import ReleaseService
from shared.calendar import CHINA_TZ
from shared.case_state import CaseState
from shared.delegation import Tier
from shared.errors import ConflictError, InvalidError, NotFoundError, PlatformError, ValidationError
from shared.event_parts import blank
from shared.events import (
    Accepted,
    CaseEvent,
    CertificateIssued,
    ComplaintAnswered,
    ComplaintFiled,
    CorrectionRequested,
    Decided,
    DecidedOnSpot,
    DeemedAccepted,
    Delivered,
    DepartmentReviewed,
    ExtensionGranted,
    Forwarded,
    Rated,
    RatingChannel,
    Refused,
    Satisfaction,
    UrgeAnswered,
    Urged,
    Withdrawn,
)
from shared.hlc import Hlc
from shared.intake_events import make_query_check, query_check_matches
from shared.receipts import format_receipt_no, parse_receipt_no
from sync.casedoc import events_of
from sync.projection import decode_view
from sync.replica import Replica
from sync.store import CaseRow

RESIDENT_ACTOR: Final = "resident"
PORTAL_RATING_CHANNEL: Final = RatingChannel.PC
MAX_FAILURES: Final = 10
FAILURE_WINDOW: Final = timedelta(minutes=10)
MAX_COMMENT: Final = 500
MAX_REQUEST_ID: Final = 100
LOOKUP_FAILED: Final = (
    "受理编号或查询码不正确，请核对受理通知书后重新输入。较早受理的部分办件只能在原受理服务点查询。"
)
_NAMESPACE: Final = uuid.UUID("0b6a3c59-5f0e-4a8e-9a43-3f1e2b7c9d15")
# Checked when the number is unknown, so a miss costs as long as a wrong code.
_DUMMY_CASE: Final = "00000000-0000-0000-0000-000000000000"
# Internal steps the applicant is not shown.
_PRIVATE = (Rated, ComplaintFiled, ComplaintAnswered, Urged, UrgeAnswered, DepartmentReviewed)
_CLOSING = (Decided, DecidedOnSpot, Refused, Withdrawn)


class LookupLimitedError(PlatformError):
    """Too many failed lookups from one address; try again later."""

    code = "lookup_rate_limited"
    title = "查询过于频繁"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            f"查询失败次数过多。为保护办件信息，请在 {minutes} 分钟后再试；"
            "如忘记查询码，请持身份证件到受理窗口查询。"
        )
        self.retry_after = retry_after
        self.minutes = minutes


class LookupGuard:
    """Counts failed lookups per client address and refuses a client over the limit."""

    def __init__(self, store: PortalStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def wait_left(self, client: str) -> int | None:
        """Seconds ``client`` must still wait, or None when it may look up now."""
        now = self._clock().astimezone(UTC)
        failures = await self._store.failures_since(client, now - FAILURE_WINDOW)
        if len(failures) < MAX_FAILURES:
            return None
        # The wait ends when enough of the window's failures have aged out.
        frees_at = failures[-MAX_FAILURES] + FAILURE_WINDOW
        return max(1, math.ceil((frees_at - now).total_seconds()))

    async def ensure_allowed(self, client: str) -> None:
        """Raise when ``client`` is over the limit.

        Raises:
            LookupLimitedError: with the seconds to wait.
        """
        wait = await self.wait_left(client)
        if wait is not None:
            raise LookupLimitedError(wait)

    async def failed(self, client: str) -> None:
        """Count one failed lookup."""
        now = self._clock().astimezone(UTC)
        await self._store.record_failure(client, now, forget_before=now - FAILURE_WINDOW)


class TrackQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A receipt number and its query code, as printed on the 受理通知书."""

    receipt_no: str
    query_code: str


class PublicStep(msgspec.Struct, frozen=True, kw_only=True):
    """One step of a case as the applicant may see it: no staff, no ID numbers."""

    label: str
    recorded_at: str
    detail: str


class ComplaintView(msgspec.Struct, frozen=True, kw_only=True):
    """A complaint about the case, its deadline and answer."""

    complaint_id: str
    filed_at: str
    channel: str
    content: str
    answer_due: date | None
    answered: bool
    answer: str
    answered_at: str | None
    reopens: str | None
    can_reopen: bool


class CaseTrack(msgspec.Struct, frozen=True, kw_only=True):
    """A case as the resident sees it after giving its receipt number and query code."""

    receipt_no: str
    item_code: str | None
    item_name: str
    applicant_name: str
    status: str
    status_label: str
    handling_tier: str | None
    handling_tier_label: str
    handling_node_name: str
    received_on: date | None
    accepted_on: date | None
    promised_due: date | None
    finished: bool
    finished_on: date | None
    timeline: tuple[PublicStep, ...]
    complaints: tuple[ComplaintView, ...]
    can_rate: bool
    rating: int | None
    rating_label: str | None


class RatingIn(msgspec.Struct, frozen=True, kw_only=True):
    """好差评 of a finished case: 5 非常满意 … 1 非常不满意, with an optional comment."""

    receipt_no: str
    query_code: str
    level: int
    comment: str = ""
    request_id: str | None = None


class PortalAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """What a rating or complaint left on the case."""

    receipt_no: str
    event_id: str
    message: str


@dataclass(frozen=True)
class LoadedCase:
    """A case as the county holds it: row, folded state and events in fold order."""

    row: CaseRow
    state: CaseState
    events: list[CaseEvent]
    parties: frozenset[str]

    @property
    def nodes(self) -> tuple[str | None, ...]:
        """Every node the case touches, for subtree checks."""
        return (self.row.origin_node, self.row.handling_node, *sorted(self.parties))


class PortalIndex:
    """Keeps the certificate and open-complaint index up to date with the projected cases."""

    def __init__(self, store: PortalStore, replica: Replica, *, chunk: int = 2_000) -> None:
        self._store = store
        self._replica = replica
        self._chunk = chunk
        self._lock = asyncio.Lock()

    async def refresh(self) -> int:
        """Re-read the cases logged since the last refresh; returns how many were read."""
        async with self._lock:
            cursor = await self._store.get_mark("index_pos")
            upto = await self._store.projected_up_to()
            if upto <= cursor:
                return 0
            case_ids = await self._store.cases_logged(cursor, upto)
            for start in range(0, len(case_ids), self._chunk):
                await self._reindex(case_ids[start : start + self._chunk])
            await self._store.set_mark("index_pos", upto)
            return len(case_ids)

    async def _reindex(self, case_ids: Sequence[str]) -> None:
        rows = await self._replica.store.case_rows(case_ids)
        certificates: list[tuple[str, str]] = []
        complaints: list[tuple[str, str, str | None, date, date | None, str | None]] = []
        for case_id, row in rows.items():
            state = decode_view(row.state_json).state
            certificates.extend((number, case_id) for number in dict.fromkeys(state.certificates))
            complaints.extend(
                (case_id, c.complaint_id, row.handling_node, c.filed_on, c.answer_due, c.reopens)
                for c in state.open_complaints
            )
        async with self._store.transaction():
            await self._store.replace_index(list(case_ids), certificates, complaints)


class PortalService:
    """Tracking and rating at the county portal; complaints build on it."""

    def __init__(
        self,
        store: PortalStore,
        replica: Replica,
        releases: ReleaseService,
        guard: LookupGuard,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._replica = replica
        self._releases = releases
        self.guard = guard
        self._clock = clock
        # One resident write at a time: the duplicate check and the record go together.
        self.lock = asyncio.Lock()

    def now(self) -> datetime:
        """The service clock."""
        return self._clock()

    # -- access ------------------------------------------------------------------------------

    async def authorise(self, receipt_no: str, query_code: str, client: str) -> str:
        """The case behind a receipt number and its query code.

        Raises:
            LookupLimitedError: too many failed checks from ``client`` lately.
            ValidationError: a field left empty.
            InvalidError: a malformed number (not counted), or a wrong number or code.
        """
        await self.guard.ensure_allowed(client)
        if blank(receipt_no) or blank(query_code):
            raise ValidationError(
                [
                    p
                    for p, v in (("请输入受理编号", receipt_no), ("请输入查询码", query_code))
                    if blank(v)
                ]
            )
        # A typo caught by the check character reveals nothing and is not counted.
        parsed = parse_receipt_no(receipt_no)
        case_id = await self._store.case_for_receipt(parsed.text)
        check = None
        if case_id is not None:
            case = await self.load(case_id)
            check = _query_check(case.events, parsed.text)
        if check is None:
            query_check_matches(_DUMMY_CHECK, _DUMMY_CASE, parsed.text, query_code)
        elif case_id is not None and query_check_matches(check, case_id, parsed.text, query_code):
            return case_id
        await self.guard.failed(client)
        raise InvalidError(LOOKUP_FAILED, code="lookup_failed")

    async def load(self, case_id: str) -> LoadedCase:
        """The county's record of a case.

        Raises:
            NotFoundError: the county does not hold the case.
        """
        store = self._replica.store
        row = (await store.case_rows([case_id])).get(case_id)
        if row is None:
            raise NotFoundError(f"县中心没有编号为 {case_id} 的办件。", code="case_not_found")
        state = decode_view(row.state_json).state
        events = events_of((await store.case_states([case_id])).get(case_id))
        events.sort(key=lambda e: (e.hlc.wall_ms, e.hlc.counter, e.node_id, e.id))
        parties = (await store.case_parties([case_id])).get(case_id, frozenset())
        return LoadedCase(row=row, state=state, events=events, parties=parties)

    async def record(
        self,
        case_id: str,
        make: Callable[[dict[str, Any]], CaseEvent],
        *,
        event_id: str,
        actor: str = RESIDENT_ACTOR,
    ) -> None:
        """Record one event by the county replica on a case."""

        def build(tick: Callable[[], Hlc]) -> Sequence[CaseEvent]:
            base = {
                "id": event_id,
                "case_id": case_id,
                "node_id": self._replica.node_id,
                "actor": actor,
                "hlc": tick(),
            }
            return [make(base)]

        await self._replica.record(case_id, build)

    # -- tracking and rating -----------------------------------------------------------------

    async def track(self, query: TrackQuery, client: str) -> CaseTrack:
        """Status, due day, public timeline, complaints and rating of a case.

        Raises:
            InvalidError / ValidationError / LookupLimitedError: as for :meth:`authorise`.
        """
        case_id = await self.authorise(query.receipt_no, query.query_code, client)
        return self.view(await self.load(case_id))

    async def rate(self, data: RatingIn, client: str) -> PortalAnswer:
        """Record a 好差评 of a finished case (once for its result).

        Raises:
            ValidationError: a level outside 1-5 or a comment too long.
            ConflictError: the case is not finished, or its result was already rated.
            InvalidError / LookupLimitedError: as for :meth:`authorise`.
        """
        problems: list[str] = []
        if isinstance(data.level, bool) or data.level not in {s.value for s in Satisfaction}:
            problems.append("请选择 1 至 5 星的评价等级")
        comment = data.comment.strip()
        if len(comment) > MAX_COMMENT:
            problems.append(f"评价意见最多 {MAX_COMMENT} 字，现有 {len(comment)} 字")
        request_id = request_id_of(data.request_id, problems)
        case_id = await self.authorise(data.receipt_no, data.query_code, client)
        if problems:
            raise ValidationError(problems, message="评价未通过校验：" + "；".join(problems))
        event_id = event_id_for("rating", case_id, request_id)
        async with self.lock:
            case = await self.load(case_id)
            receipt_no = case.state.receipt_no or data.receipt_no
            if any(e.id == event_id for e in case.events):
                return PortalAnswer(receipt_no=receipt_no, event_id=event_id, message="评价已提交")
            if not case.state.finished:
                raise ConflictError(
                    "办件尚未办结，办结后才能评价。办理中如有问题可以投诉。",
                    code="rating_not_finished",
                )
            if result_rating(case.events) is not None:
                raise ConflictError(
                    "该办件的办理结果已经评价过，不能重复评价。", code="rating_duplicate"
                )
            level = Satisfaction(data.level)
            await self.record(
                case_id,
                lambda base: Rated(
                    **base, level=level, channel=PORTAL_RATING_CHANNEL, comment=comment
                ),
                event_id=event_id,
            )
        return PortalAnswer(
            receipt_no=receipt_no, event_id=event_id, message=f"感谢您的评价（{level.label}）。"
        )

    def view(self, case: LoadedCase) -> CaseTrack:
        """What the resident sees of a case."""
        state = case.state
        rated = result_rating(case.events)
        tier, tier_label, node_name = self._handler(state)
        return CaseTrack(
            receipt_no=state.receipt_no or "",
            item_code=state.item_code,
            item_name=self.item_name(state.item_code, state.catalog_version),
            applicant_name=mask_name(case.row.applicant_name),
            status=state.status.value,
            status_label=state.status.label,
            handling_tier=tier,
            handling_tier_label=tier_label,
            handling_node_name=node_name,
            received_on=state.received_on,
            accepted_on=state.accepted_on,
            promised_due=state.promised_due.due if state.promised_due else None,
            finished=state.finished,
            finished_on=state.finished_on,
            timeline=tuple(public_step(e) for e in case.events if not isinstance(e, _PRIVATE)),
            complaints=complaint_views(case.events, state),
            can_rate=state.finished and rated is None,
            rating=None if rated is None else int(rated.level),
            rating_label=None if rated is None else Satisfaction(rated.level).label,
        )

    def item_name(self, code: str | None, version: int | None) -> str:
        """The item's name in the catalog the case names (its code when unknown)."""
        if code is None:
            return ""
        catalog = self._releases.catalog_for(version) if version is not None else None
        if catalog is None:
            current = self._releases.cached()
            catalog = current.catalog if current else None
        if catalog is None:
            return code
        try:
            return catalog.item(code).name
        except NotFoundError:
            return code

    def node_name(self, node_id: str | None) -> str:
        """A node's registered name (its id when unknown)."""
        if node_id is None:
            return ""
        record = self._releases.registry_now().get(node_id)
        return record.name if record else node_id

    def _handler(self, state: CaseState) -> tuple[str | None, str, str]:
        # The fold names a tier only after a forward; otherwise it is the handling node's own.
        record = self._releases.registry_now().get(state.handling_node or "")
        tier = state.handling_tier or (record.tier.value if record else None)
        try:
            label = Tier(tier).label if tier else ""
        except ValueError:
            label = tier or ""
        return tier, label, record.name if record else (state.handling_node or "")


_DUMMY_CHECK: Final = make_query_check(
    _DUMMY_CASE, format_receipt_no("XX", date(2026, 1, 1), 1), "000000"
)


def _query_check(events: Sequence[CaseEvent], receipt_no: str) -> str | None:
    accepted = [e for e in events if isinstance(e, Accepted) and e.receipt_no == receipt_no]
    return next((e.query_check for e in reversed(accepted) if e.query_check), None)


def result_rating(events: Sequence[CaseEvent]) -> Rated | None:
    """The rating of the case's result: the first one recorded after the case closed."""
    closed = False
    for event in events:
        if isinstance(event, _CLOSING):
            closed = True
        elif closed and isinstance(event, Rated):
            return event
    return None


def public_step(event: CaseEvent) -> PublicStep:
    """One timeline step: what the applicant was told on paper anyway, never who did it."""
    return PublicStep(
        label=event.LABEL,
        recorded_at=china_time(event.recorded_at),
        detail=_public_detail(event),
    )


def _public_detail(event: CaseEvent) -> str:
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
        return f"延长 {event.days} 个工作日"
    if isinstance(event, Forwarded):
        return "转上级办理" if event.to_tier != Tier.COMMUNITY.value else "转办"
    if isinstance(event, CertificateIssued):
        return f"{event.title}（{event.certificate_no}）"
    if isinstance(event, Delivered):
        return event.method.label
    return ""


def complaint_views(events: Sequence[CaseEvent], state: CaseState) -> tuple[ComplaintView, ...]:
    """The case's complaints, each with its answer and whether it may be reopened."""
    answers = {e.complaint_id: e for e in events if isinstance(e, ComplaintAnswered)}
    open_ids = {c.complaint_id for c in state.open_complaints}
    filed = [e for e in events if isinstance(e, ComplaintFiled)]
    reopened = {e.reopens for e in filed if e.reopens}
    views = []
    for e in filed:
        answer = answers.get(e.complaint_id)
        answered = answer is not None and e.complaint_id not in open_ids
        views.append(
            ComplaintView(
                complaint_id=e.complaint_id,
                filed_at=china_time(e.recorded_at),
                channel=e.channel,
                content=e.content,
                answer_due=e.answer_due,
                answered=answered,
                answer=answer.answer if answer is not None and answered else "",
                answered_at=china_time(answer.recorded_at) if answer and answered else None,
                reopens=e.reopens,
                can_reopen=answered and e.complaint_id not in reopened,
            )
        )
    return tuple(views)


def china_time(moment: datetime) -> str:
    """An instant as China time, to the minute."""
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def mask_name(name: str | None) -> str:
    """A name with all but its first character hidden (王** for 王秀英)."""
    text = (name or "").strip()
    if len(text) <= 1:
        return text
    return text[0] + "*" * min(len(text) - 1, 3)


def request_id_of(raw: str | None, problems: list[str]) -> str | None:
    """The form's anti-duplicate id, or None; too long is a problem."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if len(text) > MAX_REQUEST_ID:
        problems.append(f"请求编号过长（最多 {MAX_REQUEST_ID} 个字符）")
        return None
    return text or None


def event_id_for(kind: str, case_id: str, request_id: str | None) -> str:
    """The event id: derived from the request id, so a double submit records once."""
    if request_id is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_NAMESPACE, f"{kind}\n{case_id}\n{request_id}"))
