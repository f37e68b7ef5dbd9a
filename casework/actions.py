"""The handling actions on a case after intake: what each is called, who may take it, what its
form carries, and which are legal in which status.

Pure: the service in :mod:`casework.handling` records them; the pages only list them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import msgspec

from casework.duties import Duty, duties_of
from casework.intake import DeferredIn
from shared.case_state import CaseState, CaseStatus
from shared.errors import PermissionDeniedError, ValidationError
from shared.events import DeliveryMethod, ForwardMode, Opinion, Outcome, ProcedureKind


class Action(StrEnum):
    """What a member of staff can do to a case after intake; the value is the URL segment."""

    CORRECTION_RECEIVED = "correction-received"
    REVIEW = "review"
    PAUSE = "pause"
    RESUME = "resume"
    EXTENSION = "extension"
    DECISION = "decision"
    CERTIFICATE = "certificate"
    DELIVERY = "delivery"
    WITHDRAWAL = "withdrawal"
    DEFERRED_SUPPLIED = "deferred-supplied"
    FORWARD = "forward"
    URGE_ANSWER = "urge-answer"

    @property
    def label(self) -> str:
        """Chinese name, as on the button."""
        return _ACTION_LABELS[self]

    @property
    def roles(self) -> frozenset[Duty]:
        """The roles of which the caller must hold one (an admin only with one of them)."""
        return ACTION_ROLES[self]


_ACTION_LABELS = {
    Action.CORRECTION_RECEIVED: "收到补正材料",
    Action.REVIEW: "审查意见",
    Action.PAUSE: "启动特别程序",
    Action.RESUME: "结束特别程序",
    Action.EXTENSION: "延长办理期限",
    Action.DECISION: "作出决定",
    Action.CERTIFICATE: "制发证照",
    Action.DELIVERY: "送达",
    Action.WITHDRAWAL: "申请人撤回",
    Action.DEFERRED_SUPPLIED: "容缺材料补齐",
    Action.FORWARD: "转办/上报",
    Action.URGE_ANSWER: "催督办反馈",
}

_CLERK = frozenset({Duty.CLERK})
_REVIEWER = frozenset({Duty.REVIEWER})
_APPROVER = frozenset({Duty.APPROVER})
ACTION_ROLES: dict[Action, frozenset[Duty]] = {
    Action.CORRECTION_RECEIVED: _CLERK,
    Action.REVIEW: _REVIEWER,
    Action.PAUSE: _REVIEWER,
    Action.RESUME: _REVIEWER,
    Action.EXTENSION: _APPROVER,
    Action.DECISION: _APPROVER,
    Action.CERTIFICATE: _APPROVER,
    Action.DELIVERY: _CLERK,
    Action.WITHDRAWAL: _CLERK,
    Action.DEFERRED_SUPPLIED: _CLERK,
    Action.FORWARD: frozenset({Duty.CLERK, Duty.REVIEWER}),
    Action.URGE_ANSWER: _CLERK,
}

_S = CaseStatus
_RUNNING = frozenset({_S.ACCEPTED, _S.PAUSED})
_OPEN = frozenset({_S.RECEIVED, _S.AWAITING_CORRECTION}) | _RUNNING
_DECIDED = frozenset({_S.APPROVED, _S.DENIED, _S.REFUSED})
# Actions a reception point may still take on a case it forwarded (see shared.authority).
RECEIPT_SIDE_ACTIONS = frozenset(
    {
        Action.CORRECTION_RECEIVED,
        Action.DELIVERY,
        Action.WITHDRAWAL,
        Action.DEFERRED_SUPPLIED,
        Action.URGE_ANSWER,
    }
)


# -- inputs -------------------------------------------------------------------------------------


class AfterCorrection(StrEnum):
    """What the clerk decides once the corrected materials are in."""

    ACCEPT = "accept"
    REFUSE = "refuse"


class CorrectionIn(msgspec.Struct, frozen=True, kw_only=True):
    """补正材料收到, then 受理 (with 容缺 if needed) or 不予受理."""

    materials: tuple[str, ...]
    decision: AfterCorrection
    deferred: tuple[DeferredIn, ...] = ()
    commitment: str | None = None
    reason: str | None = None
    referral: str | None = None
    request_id: str | None = None


class ReviewIn(msgspec.Struct, frozen=True, kw_only=True):
    """A review opinion; ``department`` defaults to the item's implementing department."""

    opinion: Opinion
    comment: str = ""
    department: str | None = None
    request_id: str | None = None


class PauseIn(msgspec.Struct, frozen=True, kw_only=True):
    """特别程序: which procedure, why, and how long the applicant was told it takes."""

    procedure: ProcedureKind
    reason: str
    expected_days: int | None = None
    notified_on: date | None = None
    request_id: str | None = None


class ResumeIn(msgspec.Struct, frozen=True, kw_only=True):
    """The end of the running procedure, with its result."""

    result: str
    request_id: str | None = None


class ExtensionIn(msgspec.Struct, frozen=True, kw_only=True):
    """The one extension: days, who approved it, why, and when the applicant was told."""

    days: int
    approver: str
    reason: str
    notified_on: date | None = None
    request_id: str | None = None


class DecisionIn(msgspec.Struct, frozen=True, kw_only=True):
    """准予 or 不予许可; a denial must give its reasons."""

    outcome: Outcome
    reason: str = ""
    request_id: str | None = None


class CertificateIn(msgspec.Struct, frozen=True, kw_only=True):
    """制证; the title defaults to the item's result name."""

    title: str | None = None
    valid_until: date | None = None
    request_id: str | None = None


class DeliveryIn(msgspec.Struct, frozen=True, kw_only=True):
    """送达 and how."""

    method: DeliveryMethod
    request_id: str | None = None


class WithdrawalIn(msgspec.Struct, frozen=True, kw_only=True):
    """The applicant's request to withdraw."""

    reason: str = ""
    request_id: str | None = None


class DeferredSuppliedIn(msgspec.Struct, frozen=True, kw_only=True):
    """容缺 materials handed in now."""

    codes: tuple[str, ...]
    request_id: str | None = None


class ForwardIn(msgspec.Struct, frozen=True, kw_only=True):
    """转办 or 上报 to this node's parent."""

    mode: ForwardMode
    reason: str
    request_id: str | None = None


class UrgeAnswerIn(msgspec.Struct, frozen=True, kw_only=True):
    """The feedback to an open 催办/督办."""

    answer: str
    request_id: str | None = None


class ActionResult(msgspec.Struct, frozen=True, kw_only=True):
    """What an action recorded and where the case stands now."""

    case_id: str
    action: str
    status: str
    status_label: str
    handling_node: str | None
    event_ids: list[str]
    receipt_no: str | None = None
    query_code: str | None = None
    certificate_no: str | None = None


class HandlingRejectedError(ValidationError):
    """The action cannot be recorded as entered; every problem is listed."""

    code = "handling_invalid"
    title = "办理操作未通过校验"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems, message="办理操作未通过校验：" + "；".join(problems))


# -- what the panel shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class MaterialChoice:
    """A material of the case's item as the correction form lists it."""

    code: str
    name: str
    deferrable: bool


@dataclass(frozen=True)
class DepartmentReview:
    """One department's place in a (joint) review: its opinion so far, if any."""

    department: str
    lead: bool
    opinion: Opinion | None = None
    comment: str = ""
    reviewed_by: str = ""

    @property
    def status_label(self) -> str:
        """待审查 or the opinion's Chinese name."""
        return "待审查" if self.opinion is None else self.opinion.label


@dataclass(frozen=True)
class ActionPanel:
    """The actions a user may take on a case now, and what their forms offer."""

    actions: tuple[Action, ...]
    departments: tuple[str, ...]
    procedures: tuple[tuple[str, str], ...]
    materials: tuple[MaterialChoice, ...]
    extension_cap: int | None
    extension_approver: str
    certificate_title: str
    parent_name: str | None
    delivery_methods: tuple[tuple[str, str], ...]
    forward_modes: tuple[tuple[str, str], ...]
    opinions: tuple[tuple[str, str], ...]
    joint: bool = False
    reviews: tuple[DepartmentReview, ...] = ()
    acting_for: str | None = None
    """The department the user reviews for, when their account names one."""

    def has(self, action: str) -> bool:
        """Whether ``action`` (its code) is offered."""
        return any(a.value == action for a in self.actions)


def available_actions(state: CaseState, roles: Collection[str]) -> list[Action]:
    """Actions legal in the case's status (as the fold judges them) that ``roles`` may take.

    Pure: it knows nothing of which node asks, so a case handled elsewhere may still be
    refused by :class:`HandlingService` when the action is tried.
    """
    status = state.status
    held = duties_of(roles)
    legal: list[Action] = []
    if status is _S.AWAITING_CORRECTION:
        legal.append(Action.CORRECTION_RECEIVED)
    if status in _RUNNING:
        legal.append(Action.REVIEW)
    if status is _S.ACCEPTED:
        legal.append(Action.PAUSE)
    if status is _S.PAUSED:
        legal.append(Action.RESUME)
    if status in _RUNNING and state.extension_days == 0:
        legal.append(Action.EXTENSION)
    if status in _RUNNING:
        legal.append(Action.DECISION)
    if (
        state.outcome is Outcome.APPROVE
        and status in (_S.APPROVED, _S.DELIVERED)
        and not state.certificates
    ):
        legal.append(Action.CERTIFICATE)
    if status in _DECIDED:
        legal.append(Action.DELIVERY)
    if status in _OPEN:
        legal.append(Action.WITHDRAWAL)
    if state.deferred_outstanding and status not in (_S.WITHDRAWN, _S.REFUSED):
        legal.append(Action.DEFERRED_SUPPLIED)
    if status in _OPEN:
        legal.append(Action.FORWARD)
    if state.open_urges:
        legal.append(Action.URGE_ANSWER)
    return [a for a in legal if not held.isdisjoint(a.roles)]


def require_role(action: Action, roles: Collection[str]) -> None:
    """Raise when none of ``roles`` may take ``action`` (for callers without a route guard).

    Raises:
        PermissionDeniedError: the user lacks every role the action needs.
    """
    if duties_of(roles).isdisjoint(action.roles):
        names = "、".join(r.label for r in Duty if r in action.roles)
        raise PermissionDeniedError(
            f"“{action.label}”需要以下角色之一：{names}。如需开通，请联系本节点管理员。",
            code="role_required",
        )
