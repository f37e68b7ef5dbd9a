"""Case events while a case is handled: hand-over, review, pauses, extension, result, delivery."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from shared.event_base import EventBase
from shared.event_parts import (
    DeliveryMethod,
    ForwardMode,
    Opinion,
    Outcome,
    blank,
    duplicates,
)
from shared.terms import ProcedureKind


class Forwarded(EventBase, frozen=True, kw_only=True, tag="forwarded"):
    """转办 or 上报: the case moves to another node, which handles it from now on."""

    KIND: ClassVar[str] = "forwarded"
    LABEL: ClassVar[str] = "转办/上报"

    to_node: str
    to_tier: str
    mode: ForwardMode
    reason: str

    def _own_problems(self) -> list[str]:
        found = self._required(to_node=self.to_node, to_tier=self.to_tier, reason=self.reason)
        if self.to_node == self.node_id:
            found.append("不能转办给本节点")
        return found


class DepartmentReviewed(EventBase, frozen=True, kw_only=True, tag="department_reviewed"):
    """并联审批: one department's opinion on a joint case."""

    KIND: ClassVar[str] = "department_reviewed"
    LABEL: ClassVar[str] = "部门审查意见"

    department: str
    opinion: Opinion
    comment: str = ""

    def _own_problems(self) -> list[str]:
        found = self._required(department=self.department)
        if self.opinion is not Opinion.AGREE and blank(self.comment):
            found.append("不同意或有条件同意时必须填写意见说明")
        return found


class ClockPaused(EventBase, frozen=True, kw_only=True, tag="clock_paused"):
    """特别程序开始: time spent here does not count toward the limits (art. 45); the
    applicant must be told in writing how long it will take."""

    KIND: ClassVar[str] = "clock_paused"
    LABEL: ClassVar[str] = "特别程序开始"

    pause_id: str
    procedure: ProcedureKind
    reason: str
    expected_days: int | None = None
    notified_on: date | None = None  # 书面告知申请人的日期

    def _own_problems(self) -> list[str]:
        found = self._required(pause_id=self.pause_id, reason=self.reason)
        if self.expected_days is not None and self.expected_days <= 0:
            found.append("特别程序预计所需天数必须为正整数")
        return found


class ClockResumed(EventBase, frozen=True, kw_only=True, tag="clock_resumed"):
    """特别程序结束: the clock runs again."""

    KIND: ClassVar[str] = "clock_resumed"
    LABEL: ClassVar[str] = "特别程序结束"

    pause_id: str
    result: str

    def _own_problems(self) -> list[str]:
        return self._required(pause_id=self.pause_id, result=self.result)


class ExtensionGranted(EventBase, frozen=True, kw_only=True, tag="extension_granted"):
    """延期: the one extension art. 42 allows, approved by the body's head."""

    KIND: ClassVar[str] = "extension_granted"
    LABEL: ClassVar[str] = "延长办理期限"

    days: int
    approver: str
    reason: str
    notified_on: date | None = None  # 告知申请人延期理由的日期

    def _own_problems(self) -> list[str]:
        found = self._required(approver=self.approver, reason=self.reason)
        if self.days <= 0:
            found.append("延长天数必须为正整数")
        return found


class Decided(EventBase, frozen=True, kw_only=True, tag="decided"):
    """作出准予或不予许可决定."""

    KIND: ClassVar[str] = "decided"
    LABEL: ClassVar[str] = "作出决定"

    outcome: Outcome
    reason: str = ""

    def _own_problems(self) -> list[str]:
        if self.outcome is Outcome.DENY and blank(self.reason):
            return ["不予许可必须说明理由"]
        return []


class CertificateIssued(EventBase, frozen=True, kw_only=True, tag="certificate_issued"):
    """制证: the licence is issued (art. 44: within ten working days of approval)."""

    KIND: ClassVar[str] = "certificate_issued"
    LABEL: ClassVar[str] = "制发证照"

    certificate_no: str
    title: str
    valid_until: date | None = None

    def _own_problems(self) -> list[str]:
        found = self._required(certificate_no=self.certificate_no, title=self.title)
        if self.valid_until is not None and self.valid_until < self.recorded_on:
            found.append("证照有效期不能早于发证日期")
        return found


class Delivered(EventBase, frozen=True, kw_only=True, tag="delivered"):
    """送达: the decision (and licence) reached the applicant; the case is closed."""

    KIND: ClassVar[str] = "delivered"
    LABEL: ClassVar[str] = "送达"

    method: DeliveryMethod


class Withdrawn(EventBase, frozen=True, kw_only=True, tag="withdrawn"):
    """撤回: the applicant withdraws the application."""

    KIND: ClassVar[str] = "withdrawn"
    LABEL: ClassVar[str] = "申请人撤回"

    reason: str = ""


class DeferredSupplied(EventBase, frozen=True, kw_only=True, tag="deferred_supplied"):
    """容缺补齐: materials deferred at acceptance have been supplied."""

    KIND: ClassVar[str] = "deferred_supplied"
    LABEL: ClassVar[str] = "容缺材料补齐"

    codes: tuple[str, ...]

    def _own_problems(self) -> list[str]:
        if not self.codes:
            return ["补齐的容缺材料清单不能为空"]
        return [f"材料{code}重复登记" for code in duplicates(self.codes)]
