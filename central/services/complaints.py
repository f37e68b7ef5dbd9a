"""Complaints (投诉) about a case: filed at the portal, answered by county staff, reopened.

Each complaint gets its own answer deadline when it is filed: the configured number of working
days after the filing day on the official calendar, recorded on the ``ComplaintFiled`` event so
the resident, every tier and the staff list all see the day that was promised. A resident who
finds an answer unsatisfying files again with ``reopens`` naming the answered complaint; that is
a new complaint with a fresh deadline, and each answer can be reopened once.

Staff (supervisor or clerk) answer complaints of the cases in their subtree; the county replica
records the ``ComplaintAnswered`` event, which reaches the handling node with the next sync.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Final

import msgspec

from central.db.portal_tables import PortalStore
from central.services.accounts import CountyUser, case_filter, ensure_case_visible, visible_nodes
from central.services.portal import (
    LoadedCase,
    PortalAnswer,
    PortalIndex,
    PortalService,
    event_id_for,
    request_id_of,
)
from central.services.releases import ReleaseService
from shared.calendar import china_date
from shared.errors import ConflictError, InvalidError, NotFoundError, ValidationError
from shared.events import ComplaintAnswered, ComplaintFiled

PORTAL_CHANNEL: Final = "县政务服务网上门户"
DEFAULT_ANSWER_DAYS: Final = 10
MAX_ANSWER_DAYS: Final = 60
MAX_COMPLAINT: Final = 1000
MAX_ANSWER: Final = 2000
ANSWER_DAYS_SETTING: Final = "complaint_answer_days"


class ComplaintIn(msgspec.Struct, frozen=True, kw_only=True):
    """A complaint about a case; ``reopens`` names an answered complaint found unsatisfying."""

    receipt_no: str
    query_code: str
    content: str
    reopens: str | None = None
    request_id: str | None = None


class AnswerIn(msgspec.Struct, frozen=True, kw_only=True):
    """Staff's answer to an open complaint."""

    answer: str
    request_id: str | None = None


class AnswerDays(msgspec.Struct, frozen=True, kw_only=True):
    """Working days staff have to answer a complaint."""

    days: int


class OpenComplaintView(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the staff list of open complaints."""

    case_id: str
    complaint_id: str
    receipt_no: str | None
    item_code: str | None
    item_name: str
    node: str | None
    node_name: str
    filed_on: date
    answer_due: date | None
    overdue: bool
    reopens: str | None
    content: str
    channel: str


class AnswerResult(msgspec.Struct, frozen=True, kw_only=True):
    """What an answer left on the case."""

    case_id: str
    complaint_id: str
    event_id: str


class ComplaintService:
    """Filing, answering and listing complaints."""

    def __init__(
        self,
        portal: PortalService,
        store: PortalStore,
        index: PortalIndex,
        releases: ReleaseService,
        clock: Callable[[], datetime],
    ) -> None:
        self._portal = portal
        self._store = store
        self._index = index
        self._releases = releases
        self._clock = clock

    def now(self) -> datetime:
        """The service clock."""
        return self._clock()

    async def answer_days(self) -> int:
        """Working days to answer a complaint (configured, else the default)."""
        stored = await self._store.setting(ANSWER_DAYS_SETTING)
        return DEFAULT_ANSWER_DAYS if stored is None else stored

    async def set_answer_days(self, days: int, *, by: str) -> AnswerDays:
        """Change the working days to answer complaints filed from now on.

        Raises:
            ValidationError: outside 1 to ``MAX_ANSWER_DAYS``.
        """
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_ANSWER_DAYS:
            problem = f"投诉答复期限应为 1 至 {MAX_ANSWER_DAYS} 个工作日"
            raise ValidationError([problem], message=problem)
        await self._store.set_setting(ANSWER_DAYS_SETTING, days, by=by, at=self._clock())
        return AnswerDays(days=days)

    async def file(self, data: ComplaintIn, client: str) -> PortalAnswer:
        """Record a complaint (or the reopening of an answered one) from the portal.

        Raises:
            ValidationError: empty or too long.
            ConflictError: ``reopens`` names no answered complaint of the case, or one already
                reopened.
            InvalidError / LookupLimitedError: a wrong receipt number or query code.
        """
        problems: list[str] = []
        content = data.content.strip()
        if not content:
            problems.append("请填写投诉内容")
        elif len(content) > MAX_COMPLAINT:
            problems.append(f"投诉内容最多 {MAX_COMPLAINT} 字，现有 {len(content)} 字")
        request_id = request_id_of(data.request_id, problems)
        reopens = (data.reopens or "").strip() or None
        case_id = await self._portal.authorise(data.receipt_no, data.query_code, client)
        if problems:
            raise ValidationError(problems, message="投诉未通过校验：" + "；".join(problems))
        event_id = event_id_for("complaint", case_id, request_id)
        now = self._clock()
        due = self._releases.calendar_now().add_working_days(
            china_date(now), await self.answer_days()
        )
        async with self._portal.lock:
            case = await self._portal.load(case_id)
            receipt_no = case.state.receipt_no or data.receipt_no
            message = f"投诉已登记，答复期限为 {due.due}。答复后可凭受理编号和查询码查看。"
            if any(e.id == event_id for e in case.events):
                return PortalAnswer(receipt_no=receipt_no, event_id=event_id, message=message)
            if reopens is not None:
                _ensure_reopenable(case, reopens)
            await self._portal.record(
                case_id,
                lambda base: ComplaintFiled(
                    **base,
                    complaint_id=event_id,
                    content=content,
                    channel=PORTAL_CHANNEL,
                    reopens=reopens,
                    answer_due=due.due,
                ),
                event_id=event_id,
            )
        return PortalAnswer(receipt_no=receipt_no, event_id=event_id, message=message)

    async def answer(
        self, case_id: str, complaint_id: str, data: AnswerIn, user: CountyUser
    ) -> AnswerResult:
        """Answer an open complaint of a case in the user's subtree.

        Raises:
            NotFoundError: no such case.
            PermissionDeniedError: the case is outside the user's subtree.
            ValidationError: an empty or too long answer.
            ConflictError: the complaint is not open (answered already, or unknown).
        """
        case = await self._portal.load(case_id)
        ensure_case_visible(user, case_id, case.nodes)
        problems: list[str] = []
        text = data.answer.strip()
        if not text:
            problems.append("请填写答复内容")
        elif len(text) > MAX_ANSWER:
            problems.append(f"答复内容最多 {MAX_ANSWER} 字，现有 {len(text)} 字")
        request_id = request_id_of(data.request_id, problems)
        if problems:
            raise ValidationError(problems, message="答复未通过校验：" + "；".join(problems))
        event_id = event_id_for(f"answer:{complaint_id}", case_id, request_id)
        async with self._portal.lock:
            case = await self._portal.load(case_id)
            if not any(e.id == event_id for e in case.events):
                if complaint_id not in {c.complaint_id for c in case.state.open_complaints}:
                    raise ConflictError(
                        "该投诉已经答复或不存在，不能再次答复。", code="complaint_not_open"
                    )
                await self._portal.record(
                    case_id,
                    lambda base: ComplaintAnswered(**base, complaint_id=complaint_id, answer=text),
                    event_id=event_id,
                    actor=user.username,
                )
        return AnswerResult(case_id=case_id, complaint_id=complaint_id, event_id=event_id)

    async def open_complaints(
        self, user: CountyUser, *, limit: int = 500
    ) -> list[OpenComplaintView]:
        """Open complaints of the user's subtree, soonest deadline first.

        Raises:
            InvalidError: a limit outside 1-5000.
        """
        if not 1 <= limit <= 5000:
            raise InvalidError("每页条数应为 1 至 5000。", code="limit_invalid")
        await self._index.refresh()
        scope = case_filter(visible_nodes(user))
        rows = await self._store.open_complaints(scope.sql, scope.params, limit=limit)
        today = china_date(self._clock())
        texts: dict[tuple[str, str], tuple[str, str]] = {}
        for case_id in dict.fromkeys(r.case_id for r in rows):
            try:
                case = await self._portal.load(case_id)
            except NotFoundError:
                continue
            for e in case.events:
                if isinstance(e, ComplaintFiled):
                    texts[(case_id, e.complaint_id)] = (e.content, e.channel)
        found = []
        for r in rows:
            content, channel = texts.get((r.case_id, r.complaint_id), ("", ""))
            found.append(
                OpenComplaintView(
                    case_id=r.case_id,
                    complaint_id=r.complaint_id,
                    receipt_no=r.receipt_no,
                    item_code=r.item_code,
                    item_name=self._portal.item_name(r.item_code, None),
                    node=r.node,
                    node_name=self._portal.node_name(r.node),
                    filed_on=r.filed_on,
                    answer_due=r.answer_due,
                    overdue=r.answer_due is not None and r.answer_due < today,
                    reopens=r.reopens,
                    content=content,
                    channel=channel,
                )
            )
        return found


def _ensure_reopenable(case: LoadedCase, reopens: str) -> None:
    filed = [e for e in case.events if isinstance(e, ComplaintFiled)]
    open_ids = {c.complaint_id for c in case.state.open_complaints}
    answered = {e.complaint_id for e in case.events if isinstance(e, ComplaintAnswered)} - open_ids
    if reopens not in answered:
        raise ConflictError(
            "只能对已经答复的投诉表示不满意并重新投诉。", code="complaint_not_answered"
        )
    if any(e.reopens == reopens for e in filed):
        raise ConflictError(
            "该答复已经重新投诉过，请等待新的答复。", code="complaint_already_reopened"
        )
