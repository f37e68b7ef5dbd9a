"""Case events from receipt to acceptance or refusal (行政许可法 art. 32), and 即办."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from shared.event_base import SYSTEM_ACTOR, EventBase
from shared.event_parts import (
    Applicant,
    DeferredMaterial,
    MissingMaterial,
    Outcome,
    ReceiptChannel,
    blank,
    duplicates,
)


class Received(EventBase, frozen=True, kw_only=True, tag="received"):
    """收件: materials received; the art. 32 five-working-day review starts."""

    KIND: ClassVar[str] = "received"
    LABEL: ClassVar[str] = "收件"

    item_code: str
    catalog_version: int
    applicant: Applicant
    materials: tuple[str, ...]
    channel: ReceiptChannel
    # 补录：办件在申请人实际到场之后才登记时，填实际收件日期
    service_date: date | None = None

    def _own_problems(self) -> list[str]:
        found = self._required(item_code=self.item_code)
        if self.catalog_version < 1:
            found.append("事项目录版本号必须为正整数")
        if blank(self.applicant.name) or blank(self.applicant.id_number):
            found.append("申请人名称和证件号码不能为空")
        if any(blank(code) for code in self.materials):
            found.append("收取材料编码不能为空")
        found.extend(f"材料{code}重复登记" for code in duplicates(self.materials))
        if self.service_date is not None and self.service_date > self.recorded_on:
            found.append("实际收件日期不能晚于登记日期")
        return found


class CorrectionRequested(EventBase, frozen=True, kw_only=True, tag="correction_requested"):
    """补正告知: 一次性告知 listing every missing or non-conforming material (art. 32(4))."""

    KIND: ClassVar[str] = "correction_requested"
    LABEL: ClassVar[str] = "一次性告知补正"

    missing: tuple[MissingMaterial, ...]

    def _own_problems(self) -> list[str]:
        if not self.missing:
            return ["一次性告知必须列明需要补正的全部材料，不能为空"]
        found = [
            f"补正材料{m.code or '（无编码）'}的编码、名称和补正要求都必须填写"
            for m in self.missing
            if blank(m.code) or blank(m.name) or blank(m.requirement)
        ]
        found.extend(f"补正材料{c}重复列出" for c in duplicates([m.code for m in self.missing]))
        return found


class CorrectionReceived(EventBase, frozen=True, kw_only=True, tag="correction_received"):
    """补正材料收到 (not yet acceptance: the clerk still checks completeness)."""

    KIND: ClassVar[str] = "correction_received"
    LABEL: ClassVar[str] = "收到补正材料"

    materials: tuple[str, ...]

    def _own_problems(self) -> list[str]:
        if not self.materials:
            return ["补正材料清单不能为空"]
        return [f"材料{code}重复登记" for code in duplicates(self.materials)]


class Accepted(EventBase, frozen=True, kw_only=True, tag="accepted"):
    """受理: the written 受理通知书 is issued; the decision clock starts the next working day."""

    KIND: ClassVar[str] = "accepted"
    LABEL: ClassVar[str] = "受理"

    receipt_no: str
    # 容缺受理：次要材料暂缺，申请人书面承诺限期补齐
    deferred: tuple[DeferredMaterial, ...] = ()
    commitment: str | None = None

    def _own_problems(self) -> list[str]:
        found = self._required(receipt_no=self.receipt_no)
        if self.deferred and blank(self.commitment):
            found.append("容缺受理必须记录申请人的书面承诺")
        found.extend(f"容缺材料{c}重复列出" for c in duplicates([d.code for d in self.deferred]))
        found.extend(
            f"容缺材料{d.code}的补齐期限早于受理日期"
            for d in self.deferred
            if d.due < self.recorded_on
        )
        return found


class DeemedAccepted(EventBase, frozen=True, kw_only=True, tag="deemed_accepted"):
    """视为受理: no correction notice within five working days, so acceptance dates back to
    the receipt day (art. 32). Emitted by the reconciliation task."""

    KIND: ClassVar[str] = "deemed_accepted"
    LABEL: ClassVar[str] = "逾期未告知视为受理"

    as_of: date

    def _own_problems(self) -> list[str]:
        found = []
        if self.actor != SYSTEM_ACTOR:
            found.append("视为受理只能由系统对账任务记录")
        if self.as_of > self.recorded_on:
            found.append("视为受理日期不能晚于记录日期")
        return found


class Refused(EventBase, frozen=True, kw_only=True, tag="refused"):
    """不予受理 (art. 32(1)(2)): the notice must give reasons and, where the matter belongs
    elsewhere, the body to apply to."""

    KIND: ClassVar[str] = "refused"
    LABEL: ClassVar[str] = "不予受理"

    reason: str
    referral: str | None = None  # 应当向哪个行政机关申请

    def _own_problems(self) -> list[str]:
        return self._required(reason=self.reason)


class DecidedOnSpot(EventBase, frozen=True, kw_only=True, tag="decided_on_spot"):
    """即办: accepted and decided at the window in one step."""

    KIND: ClassVar[str] = "decided_on_spot"
    LABEL: ClassVar[str] = "当场办结"

    outcome: Outcome
    reason: str = ""

    def _own_problems(self) -> list[str]:
        if self.outcome is Outcome.DENY and blank(self.reason):
            return ["不予许可必须说明理由"]
        return []
