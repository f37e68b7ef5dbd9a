"""One step of the fold: the transition rules for each event kind.

:class:`Accumulator` is the fold's private working state. It applies events one at a time in
fold order, decides whether each is legal in the state reached so far, and records a flag
for every event it refuses to apply. Deadline arithmetic beyond the art. 32 notice date
happens afterwards, in :mod:`shared.fold`.
"""

from __future__ import annotations

from datetime import date, datetime

from shared.calendar import Deadline, WorkingCalendar
from shared.case_state import (
    CaseStatus,
    Flag,
    FlagCode,
    OpenComplaint,
    OpenUrge,
    Pause,
    RatingEntry,
    Review,
)
from shared.event_parts import DeferredMaterial, ForwardMode, Outcome
from shared.events import (
    EVENT_LABELS,
    Accepted,
    CaseEvent,
    CertificateIssued,
    ClockPaused,
    ClockResumed,
    ComplaintAnswered,
    ComplaintFiled,
    CorrectionReceived,
    CorrectionRequested,
    Decided,
    DecidedOnSpot,
    DeemedAccepted,
    DeferredSupplied,
    Delivered,
    DepartmentReviewed,
    ExtensionGranted,
    Forwarded,
    Rated,
    Received,
    Refused,
    UrgeAnswered,
    Urged,
    Withdrawn,
)
from shared.terms import CaseTerms

ART32_NOTICE_DAYS = 5  # 行政许可法第32条：五日内一次告知
ART44_ISSUANCE_DAYS = 10  # 行政许可法第44条：十日内颁发、送达

_S = CaseStatus
_BEFORE_ACCEPTANCE = frozenset({_S.RECEIVED, _S.AWAITING_CORRECTION})
_RUNNING = frozenset({_S.ACCEPTED, _S.PAUSED})
_OPEN = _BEFORE_ACCEPTANCE | _RUNNING
_DECIDED = frozenset({_S.APPROVED, _S.DENIED, _S.REFUSED})
_TERMINAL_KINDS = (Refused, DecidedOnSpot, Decided, Withdrawn)


class Accumulator:
    """Mutable working state of one fold; discarded once the :class:`CaseState` is built."""

    def __init__(self, case_id: str, terms: CaseTerms | None, calendar: WorkingCalendar) -> None:
        """Start an empty fold for ``case_id``."""
        self.case_id = case_id
        self.calendar = calendar
        self.notice_days = terms.correction_notice_days if terms else ART32_NOTICE_DAYS
        self.extension_cap = terms.extension_days if terms else None
        self.default_issuance_days = ART44_ISSUANCE_DAYS
        self.status = CaseStatus.INCOMPLETE
        self.outcome: Outcome | None = None
        self.item_code: str | None = None
        self.catalog_version: int | None = None
        self.receipt_no: str | None = None
        self.origin_node: str | None = None
        self.handling_node: str | None = None
        self.handling_tier: str | None = None
        self.forward_mode: ForwardMode | None = None
        self.received_event: Received | None = None
        self.received_on: date | None = None
        self.service_date: date | None = None
        self.correction_notice_due: Deadline | None = None
        self.correction_notices = 0
        self.notice_late = False
        self.accepted_on: date | None = None
        self.deemed = False
        self.extension_days = 0
        self.extension_event: str | None = None
        self.pauses: list[Pause] = []
        self.open_pause: Pause | None = None
        self.pause_ids: set[str] = set()
        self.decided_at: datetime | None = None
        self.finished_on: date | None = None
        self.approved_on: date | None = None
        self.timed_finish = False
        self.result_event: CaseEvent | None = None
        self.certificates: list[str] = []
        self.deferred: list[DeferredMaterial] = []
        self.supplied: set[str] = set()
        self.urges: dict[str, Urged] = {}
        self.answered_urges: set[str] = set()
        self.ratings: list[RatingEntry] = []
        self.complaints: dict[str, OpenComplaint] = {}
        self.complaint_ids: set[str] = set()
        self.reopened_complaints: set[str] = set()
        self.reviews: dict[str, Review] = {}
        self.flags: list[Flag] = []

    # -- helpers -------------------------------------------------------------------------

    def flag(self, code: FlagCode, event_ids: tuple[str, ...], message: str) -> None:
        """Record an anomaly."""
        self.flags.append(Flag(code=code, event_ids=event_ids, message_zh=message))

    def _reject(self, event: CaseEvent, why: str) -> None:
        label = EVENT_LABELS[event.KIND]
        self.flag(
            FlagCode.OUT_OF_ORDER,
            (event.id,),
            f"“{label}”在“{self.status.label}”状态下不适用，未计入办件状态：{why}",
        )

    def _finish(self, event: CaseEvent, status: CaseStatus, *, timed: bool) -> None:
        day = event.recorded_on
        if self.open_pause is not None:
            # the case ended during the procedure, which ends with it
            current = self.open_pause
            self.pauses.append(
                Pause(
                    pause_id=current.pause_id,
                    procedure=current.procedure,
                    first=current.first,
                    last=max(day, current.first),
                    opened_by=current.opened_by,
                )
            )
            self.open_pause = None
        self.status = status
        self.finished_on = day
        self.timed_finish = timed
        self.result_event = event

    def _decide(self, event: Decided | DecidedOnSpot) -> None:
        approved = event.outcome is Outcome.APPROVE
        self._finish(event, _S.APPROVED if approved else _S.DENIED, timed=True)
        self.outcome = event.outcome
        self.decided_at = event.recorded_at
        if approved:
            self.approved_on = event.recorded_on

    def open_urges(self, today: date) -> tuple[OpenUrge, ...]:
        """Urges still waiting for feedback, in the order they were issued."""
        return tuple(
            OpenUrge(
                urge_id=u.urge_id,
                level=u.level,
                by_unit=u.by_unit,
                feedback_due=u.feedback_due,
                overdue=u.feedback_due < today,
                event_id=u.id,
            )
            for key, u in self.urges.items()
            if key not in self.answered_urges
        )

    # -- transitions ---------------------------------------------------------------------

    def apply(self, event: CaseEvent) -> None:  # noqa: PLR0915 - one branch per kind
        """Apply one event in fold order, or flag it when it is not legal now."""
        status = self.status
        if status is _S.INCOMPLETE and not isinstance(event, Received):
            self._reject(event, "尚未收到该办件的收件记录")
            return
        if isinstance(event, _TERMINAL_KINDS) and status.finished:
            winner = self.result_event
            assert winner is not None
            self.flag(
                FlagCode.CONFLICT,
                (winner.id, event.id),
                f"“{EVENT_LABELS[winner.KIND]}”与“{EVENT_LABELS[event.KIND]}”并发冲突："
                f"以先记录的“{EVENT_LABELS[winner.KIND]}”为准，请核实",
            )
            return
        match event:
            case Received():
                if status is not _S.INCOMPLETE:
                    self._reject(event, "该办件已有收件记录")
                    return
                self._receive(event)
            case CorrectionRequested():
                if status not in _BEFORE_ACCEPTANCE:
                    self._reject(event, "只有受理前才能告知补正")
                    return
                self._request_correction(event)
            case CorrectionReceived():
                if status is not _S.AWAITING_CORRECTION:
                    self._reject(event, "没有待补正的告知")
                    return
                self.status = _S.RECEIVED
            case Accepted():
                if status not in _BEFORE_ACCEPTANCE:
                    self._reject(event, "办件不在待受理状态")
                    return
                self.status = _S.ACCEPTED
                self.accepted_on = event.recorded_on
                self.receipt_no = event.receipt_no
                self.deferred = list(event.deferred)
            case DeemedAccepted():
                if status is not _S.RECEIVED and not (
                    status is _S.AWAITING_CORRECTION and self.notice_late
                ):
                    self._reject(event, "已在法定期限内告知补正或办件不在待受理状态")
                    return
                self.status = _S.ACCEPTED
                self.accepted_on = event.as_of
                self.deemed = True
            case Refused():
                if status not in _BEFORE_ACCEPTANCE:
                    self._reject(event, "已受理的办件只能作出不予许可决定，不能不予受理")
                    return
                self._finish(event, _S.REFUSED, timed=True)
            case DecidedOnSpot():
                if status not in _BEFORE_ACCEPTANCE and status is not _S.ACCEPTED:
                    self._reject(event, "当场办结只适用于待受理或已受理的办件")
                    return
                if self.accepted_on is None:
                    self.accepted_on = event.recorded_on
                self._decide(event)
            case Decided():
                if status not in _RUNNING:
                    self._reject(event, "办件尚未受理")
                    return
                self._decide(event)
            case Withdrawn():
                if status not in _OPEN:
                    self._reject(event, "办件不在办理中")
                    return
                self._finish(event, _S.WITHDRAWN, timed=False)
            case Forwarded():
                if status not in _OPEN:
                    self._reject(event, "已办结的办件不能转办或上报")
                    return
                self.handling_node = event.to_node
                self.handling_tier = event.to_tier
                self.forward_mode = event.mode
            case DepartmentReviewed():
                if status not in _RUNNING:
                    self._reject(event, "办件不在审查阶段")
                    return
                self.reviews[event.department] = Review(
                    department=event.department, opinion=event.opinion, event_id=event.id
                )
            case ClockPaused():
                self._pause(event)
            case ClockResumed():
                self._resume(event)
            case ExtensionGranted():
                self._extend(event)
            case CertificateIssued():
                if self.outcome is not Outcome.APPROVE or status not in (_S.APPROVED, _S.DELIVERED):
                    self._reject(event, "只有准予许可后才能制发证照")
                    return
                self.certificates.append(event.certificate_no)
            case Delivered():
                if status not in _DECIDED:
                    self._reject(event, "没有可送达的决定或该办件已送达")
                    return
                self.status = _S.DELIVERED
            case DeferredSupplied():
                self._supply(event)
            case Urged():
                if event.urge_id in self.urges:
                    self._reject(event, f"催督办编号{event.urge_id}重复")
                    return
                self.urges[event.urge_id] = event
            case UrgeAnswered():
                if event.urge_id not in self.urges or event.urge_id in self.answered_urges:
                    self._reject(event, f"没有待反馈的催督办{event.urge_id}")
                    return
                self.answered_urges.add(event.urge_id)
            case Rated():
                self.ratings.append(
                    RatingEntry(
                        level=event.level,
                        channel=event.channel,
                        rated_on=event.recorded_on,
                        event_id=event.id,
                    )
                )
            case ComplaintFiled():
                self._file_complaint(event)
            case ComplaintAnswered():
                if self.complaints.pop(event.complaint_id, None) is None:
                    self._reject(event, f"没有待答复的投诉{event.complaint_id}")

    def _file_complaint(self, event: ComplaintFiled) -> None:
        if event.complaint_id in self.complaint_ids:
            self._reject(event, f"投诉编号{event.complaint_id}重复")
            return
        reopened = event.reopens
        if reopened is not None:
            # Only an answered complaint can be reopened, and each answer only once.
            if reopened not in self.complaint_ids or reopened in self.complaints:
                self._reject(event, f"没有已答复的投诉{reopened}可重新投诉")
                return
            if reopened in self.reopened_complaints:
                self._reject(event, f"投诉{reopened}已经重新投诉过")
                return
            self.reopened_complaints.add(reopened)
        self.complaint_ids.add(event.complaint_id)
        self.complaints[event.complaint_id] = OpenComplaint(
            complaint_id=event.complaint_id,
            filed_on=event.recorded_on,
            event_id=event.id,
            answer_due=event.answer_due,
            reopens=reopened,
        )

    def _receive(self, event: Received) -> None:
        self.status = _S.RECEIVED
        self.received_event = event
        self.service_date = event.service_date
        received_on = event.recorded_on
        if event.service_date is not None:
            received_on = min(received_on, event.service_date)
        self.received_on = received_on
        self.item_code = event.item_code
        self.catalog_version = event.catalog_version
        self.origin_node = self.handling_node = event.node_id
        self.correction_notice_due = self.calendar.add_working_days(received_on, self.notice_days)

    def _request_correction(self, event: CorrectionRequested) -> None:
        if self.correction_notices:
            self.flag(
                FlagCode.REPEATED_CORRECTION_NOTICE,
                (event.id,),
                "再次告知补正：一次性告知应当列明需要补正的全部内容",
            )
        else:
            due = self.correction_notice_due
            if due is not None and event.recorded_on > due.due:
                self.notice_late = True
                self.flag(
                    FlagCode.LATE_CORRECTION_NOTICE,
                    (event.id,),
                    f"补正告知晚于法定期限{due.due}：依法自收到材料之日起视为受理",
                )
        self.correction_notices += 1
        self.status = _S.AWAITING_CORRECTION

    def _pause(self, event: ClockPaused) -> None:
        if self.status is not _S.ACCEPTED:
            self._reject(event, "只有办理中的办件才能启动特别程序")
            return
        if event.pause_id in self.pause_ids:
            self._reject(event, f"特别程序编号{event.pause_id}重复")
            return
        self.pause_ids.add(event.pause_id)
        self.open_pause = Pause(
            pause_id=event.pause_id,
            procedure=event.procedure,
            first=event.recorded_on,
            last=None,
            opened_by=event.id,
        )
        self.status = _S.PAUSED

    def _resume(self, event: ClockResumed) -> None:
        current = self.open_pause
        if self.status is not _S.PAUSED or current is None or current.pause_id != event.pause_id:
            self._reject(event, f"没有进行中的特别程序{event.pause_id}")
            return
        self.pauses.append(
            Pause(
                pause_id=current.pause_id,
                procedure=current.procedure,
                first=current.first,
                last=max(event.recorded_on, current.first),
                opened_by=current.opened_by,
                closed_by=event.id,
            )
        )
        self.open_pause = None
        self.status = _S.ACCEPTED

    def _extend(self, event: ExtensionGranted) -> None:
        if self.status not in _RUNNING:
            self._reject(event, "只有办理中的办件才能延期")
            return
        if self.extension_event is not None:
            self._reject(event, "法定期限只能延长一次")
            return
        days = event.days
        cap = self.extension_cap
        if cap is not None and days > cap:
            self.flag(
                FlagCode.EXTENSION_CAPPED,
                (event.id,),
                f"批准延长{days}日，超过该事项允许的{cap}日，按{cap}日计算",
            )
            days = cap
        self.extension_event = event.id
        self.extension_days = max(days, 0)

    def _supply(self, event: DeferredSupplied) -> None:
        owed = {d.code for d in self.deferred} - self.supplied
        unknown = [code for code in event.codes if code not in owed]
        if unknown:
            self._reject(event, f"材料{'、'.join(unknown)}不是待补齐的容缺材料")
        self.supplied.update(code for code in event.codes if code in owed)
