"""What the fold derives from a case's events: status, deadlines, light and flags.

:class:`CaseState` is a pure value: the same events, terms, calendar and ``now`` always give
an equal state (and equal msgspec bytes), on every tier.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import msgspec

from shared.calendar import Deadline
from shared.event_parts import (
    DeferredMaterial,
    ForwardMode,
    Opinion,
    Outcome,
    RatingChannel,
    Satisfaction,
    UrgeLevel,
)
from shared.terms import ProcedureKind


class CaseStatus(StrEnum):
    """Where a case stands. The last five are finished (办结); ``delivered`` also closes it.

    ``incomplete`` means events arrived before the case's receipt record (partial replication);
    the fold sets the case right once the receipt arrives.
    """

    INCOMPLETE = "incomplete"
    RECEIVED = "received"
    AWAITING_CORRECTION = "awaiting_correction"
    ACCEPTED = "accepted"
    PAUSED = "paused"
    APPROVED = "approved"
    DENIED = "denied"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    DELIVERED = "delivered"

    @property
    def label(self) -> str:
        """Chinese name shown to clerks and residents."""
        return _STATUS_LABELS[self]

    @property
    def finished(self) -> bool:
        """Whether the case has reached a result (办结), so no clock runs any more."""
        return self in _FINISHED


_STATUS_LABELS = {
    CaseStatus.INCOMPLETE: "记录不完整（收件记录未到达）",
    CaseStatus.RECEIVED: "已收件",
    CaseStatus.AWAITING_CORRECTION: "待补正",
    CaseStatus.ACCEPTED: "已受理（办理中）",
    CaseStatus.PAUSED: "特别程序中",
    CaseStatus.APPROVED: "准予许可",
    CaseStatus.DENIED: "不予许可",
    CaseStatus.REFUSED: "不予受理",
    CaseStatus.WITHDRAWN: "已撤回",
    CaseStatus.DELIVERED: "已送达办结",
}
_FINISHED = frozenset(
    {
        CaseStatus.APPROVED,
        CaseStatus.DENIED,
        CaseStatus.REFUSED,
        CaseStatus.WITHDRAWN,
        CaseStatus.DELIVERED,
    }
)


class Light(StrEnum):
    """Supervision light against the promised deadline."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    NONE = "none"  # finished, or no deadline is running

    @property
    def label(self) -> str:
        """Chinese name."""
        return {"green": "绿灯", "yellow": "黄灯预警", "red": "红灯超期", "none": "无"}[self.value]


class Timeliness(StrEnum):
    """How a finished case compares with its promised deadline (按时办结率 / 提前办结率)."""

    EARLY = "early"  # at least one working day before the due day
    ON_TIME = "on_time"
    LATE = "late"

    @property
    def label(self) -> str:
        """Chinese name."""
        return {"early": "提前办结", "on_time": "按时办结", "late": "超期办结"}[self.value]


class FlagCode(StrEnum):
    """Anomalies in a case's record that a supervisor should look at."""

    CONFLICT = "conflict"
    OUT_OF_ORDER = "out_of_order"
    PROVISIONAL_DEADLINE = "provisional_deadline"
    LATE_REGISTRATION = "late_registration"
    LATE_CORRECTION_NOTICE = "late_correction_notice"
    REPEATED_CORRECTION_NOTICE = "repeated_correction_notice"
    EXTENSION_CAPPED = "extension_capped"
    ID_COLLISION = "id_collision"

    @property
    def label(self) -> str:
        """Chinese name."""
        return _FLAG_LABELS[self]


_FLAG_LABELS = {
    FlagCode.CONFLICT: "并发冲突",
    FlagCode.OUT_OF_ORDER: "事件顺序异常",
    FlagCode.PROVISIONAL_DEADLINE: "期限为暂定",
    FlagCode.LATE_REGISTRATION: "补录登记",
    FlagCode.LATE_CORRECTION_NOTICE: "逾期告知补正",
    FlagCode.REPEATED_CORRECTION_NOTICE: "多次告知补正",
    FlagCode.EXTENSION_CAPPED: "延期天数超出上限",
    FlagCode.ID_COLLISION: "事件编号重复但内容不同",
}


class Flag(msgspec.Struct, frozen=True, kw_only=True):
    """One anomaly: which events it concerns and what a supervisor should know."""

    code: FlagCode
    event_ids: tuple[str, ...]
    message_zh: str


class Pause(msgspec.Struct, frozen=True, kw_only=True):
    """A 特别程序 interval; both end days are excluded from the limits.

    ``last`` is None while the procedure is still running. ``closed_by`` is None when the case
    finished during the procedure, which ends it on the day of finishing.
    """

    pause_id: str
    procedure: ProcedureKind
    first: date
    last: date | None
    opened_by: str
    closed_by: str | None = None


class OpenUrge(msgspec.Struct, frozen=True, kw_only=True):
    """A 催办/督办 still waiting for its feedback."""

    urge_id: str
    level: UrgeLevel
    by_unit: str
    feedback_due: date
    overdue: bool
    event_id: str


class RatingEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One 好差评 evaluation."""

    level: Satisfaction
    channel: RatingChannel
    rated_on: date
    event_id: str


class OpenComplaint(msgspec.Struct, frozen=True, kw_only=True):
    """A complaint not answered yet; ``reopens`` names the answered complaint it reopens."""

    complaint_id: str
    filed_on: date
    event_id: str
    answer_due: date | None = None
    reopens: str | None = None


class Review(msgspec.Struct, frozen=True, kw_only=True):
    """A department's latest opinion in parallel approval."""

    department: str
    opinion: Opinion
    event_id: str


class CaseState(msgspec.Struct, frozen=True, kw_only=True):
    """The derived state of one case at ``now``.

    Dates are China-time days. Deadlines are None while they cannot be computed (item terms
    unknown, case not accepted, or the item has no such limit).

    Attributes:
        status: where the case stands; ``outcome`` keeps approve/deny after delivery.
        finished: a result was reached (办结); all clocks stop.
        received_on: receipt day (the actual day for 补录 registrations).
        accepted_on: the day the decision clock starts after; the receipt day for deemed
            acceptance.
        correction_notice_due: last day for the art. 32 one-time correction notice.
        promised_due / statutory_due: 承诺 / 法定 deadlines, extension and pauses included.
        extension_days: working days of the granted extension (0 when none).
        pauses: finished 特别程序 intervals; ``open_pause`` the running one.
        issuance_due: art. 44 deadline to issue the licence; None once issued or delivered.
        timeliness: early / on time / late for decisions and refusals; None otherwise.
        light: supervision light; ``illegal_overdue`` when past the statutory deadline.
        remaining_working_days: working days left until the promised due day (negative when
            overdue); None when finished or no promised deadline.
        deferred_outstanding / deferred_overdue: 容缺 materials not yet supplied, and the codes
            of those past their due day.
        flags: anomalies, in fold order, then deadline-related ones.
    """

    case_id: str
    status: CaseStatus
    outcome: Outcome | None = None
    finished: bool = False
    item_code: str | None = None
    catalog_version: int | None = None
    receipt_no: str | None = None
    origin_node: str | None = None
    handling_node: str | None = None
    handling_tier: str | None = None
    forward_mode: ForwardMode | None = None
    received_on: date | None = None
    accepted_on: date | None = None
    deemed_accepted: bool = False
    correction_notice_due: Deadline | None = None
    promised_due: Deadline | None = None
    statutory_due: Deadline | None = None
    extension_days: int = 0
    pauses: tuple[Pause, ...] = ()
    open_pause: Pause | None = None
    decided_at: datetime | None = None
    finished_on: date | None = None
    issuance_due: Deadline | None = None
    certificates: tuple[str, ...] = ()
    timeliness: Timeliness | None = None
    light: Light = Light.NONE
    illegal_overdue: bool = False
    remaining_working_days: int | None = None
    deferred_outstanding: tuple[DeferredMaterial, ...] = ()
    deferred_overdue: tuple[str, ...] = ()
    open_urges: tuple[OpenUrge, ...] = ()
    ratings: tuple[RatingEntry, ...] = ()
    open_complaints: tuple[OpenComplaint, ...] = ()
    reviews: tuple[Review, ...] = ()
    flags: tuple[Flag, ...] = ()
    events_count: int = 0
    last_event_id: str | None = None

    def has_flag(self, code: FlagCode) -> bool:
        """Whether any flag of ``code`` was raised."""
        return any(f.code is code for f in self.flags)
