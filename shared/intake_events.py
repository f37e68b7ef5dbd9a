"""Case events from receipt to acceptance or refusal (行政许可法 art. 32), and 即办.

Also the query check carried by :class:`Accepted`: the query code printed on the notice is made
from the accepting node's own secret, so no other tier can recompute it. The acceptance carries a
salted, deliberately slow hash of the code instead (:func:`make_query_check`), which lets the
county and every other tier confirm a code the resident types without ever learning it. Six
digits remain six digits: whoever holds the event could try all million codes offline, so the
hash only keeps the code off screens and out of casual reach; online guessing is stopped by
rate limits.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from datetime import date
from typing import ClassVar, Final

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
from shared.receipts import parse_receipt_no

QUERY_CHECK_SCHEME: Final = "pbkdf2-sha256"
QUERY_CHECK_ROUNDS: Final = 20_000
"""About 10 ms per check: cheap for one lookup, a cost for anyone trying every code."""
_QUERY_CHECK_CONTEXT: Final = b"tongban/query-check/v1\x00"
_MIN_ROUNDS: Final = 1_000
_MAX_ROUNDS: Final = 1_000_000


def _query_check_digest(case_id: str, receipt_no: str, code: str, rounds: int) -> bytes:
    # The case id and receipt number salt the hash, so no table of codes serves two cases.
    salt = _QUERY_CHECK_CONTEXT + case_id.encode() + b"\x00" + receipt_no.encode()
    given = unicodedata.normalize("NFKC", code).replace(" ", "").encode("utf-8", "replace")
    return hashlib.pbkdf2_hmac("sha256", given, salt, rounds)


def make_query_check(case_id: str, receipt_no: str, query_code: str) -> str:
    """The query check an acceptance carries: ``pbkdf2-sha256$<rounds>$<hex digest>``.

    Raises:
        InvalidError: a malformed receipt number.
    """
    canonical = parse_receipt_no(receipt_no).text
    digest = _query_check_digest(case_id, canonical, query_code, QUERY_CHECK_ROUNDS)
    return f"{QUERY_CHECK_SCHEME}${QUERY_CHECK_ROUNDS}${digest.hex()}"


def query_check_matches(check: str | None, case_id: str, receipt_no: str, code: str) -> bool:
    """Whether ``code`` is the query code behind ``check``; False for a missing or odd check.

    Raises:
        InvalidError: a malformed receipt number.
    """
    canonical = parse_receipt_no(receipt_no).text
    parts = (check or "").split("$")
    if len(parts) != 3 or parts[0] != QUERY_CHECK_SCHEME or not parts[1].isdigit():
        return False
    rounds = int(parts[1])
    if not _MIN_ROUNDS <= rounds <= _MAX_ROUNDS:
        return False
    digest = _query_check_digest(case_id, canonical, code if isinstance(code, str) else "", rounds)
    return hmac.compare_digest(digest.hex(), parts[2])


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
    # make_query_check of the printed query code; None on events recorded before it existed
    query_check: str | None = None

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
