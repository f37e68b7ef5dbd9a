"""Value types carried inside case events: applicants, materials, and the closed code sets.

Every code set is a ``StrEnum`` (or, for satisfaction, an ``IntEnum`` matching the national
好差评 interface scale) so that a misspelt code is rejected when an event is decoded rather
than silently folded. Each member has a Chinese ``label`` for timelines and documents.
"""

from __future__ import annotations

from datetime import date
from enum import IntEnum, StrEnum

import msgspec


class ApplicantKind(StrEnum):
    """申请人类型."""

    PERSON = "person"
    ORGANISATION = "organisation"

    @property
    def label(self) -> str:
        """Chinese name."""
        return "自然人" if self is ApplicantKind.PERSON else "法人或其他组织"


class IdType(StrEnum):
    """申请人证件类型 (the common subset of GA/T 2000.156)."""

    RESIDENT_ID = "resident_id"
    USCC = "uscc"
    PASSPORT = "passport"
    HK_MACAO_PERMIT = "hk_macao_permit"
    TAIWAN_PERMIT = "taiwan_permit"
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"
    OTHER = "other"

    @property
    def label(self) -> str:
        """Chinese name."""
        return _ID_TYPE_LABELS[self]


_ID_TYPE_LABELS = {
    IdType.RESIDENT_ID: "居民身份证",
    IdType.USCC: "统一社会信用代码",
    IdType.PASSPORT: "护照",
    IdType.HK_MACAO_PERMIT: "港澳居民来往内地通行证",
    IdType.TAIWAN_PERMIT: "台湾居民来往大陆通行证",
    IdType.FOREIGN_PERMANENT_RESIDENT: "外国人永久居留身份证",
    IdType.OTHER: "其他证件",
}


class ReceiptChannel(StrEnum):
    """申报来源: how the application reached the service point."""

    WINDOW = "window"
    KIOSK = "kiosk"
    ONLINE = "online"
    PROXY = "proxy"

    @property
    def label(self) -> str:
        """Chinese name."""
        return {"window": "窗口", "kiosk": "自助终端", "online": "网上申办", "proxy": "代办"}[
            self.value
        ]


class Outcome(StrEnum):
    """Result of a licensing decision."""

    APPROVE = "approve"
    DENY = "deny"

    @property
    def label(self) -> str:
        """Chinese name."""
        return "准予" if self is Outcome.APPROVE else "不予"


class ForwardMode(StrEnum):
    """Why a case changes hands between nodes."""

    FORWARD = "forward"  # 受理点转办: a reception point passes the case to the deciding body
    ESCALATE = "escalate"  # 上报: a lower tier finished its review, a higher tier decides (art. 43)

    @property
    def label(self) -> str:
        """Chinese name."""
        return "转办" if self is ForwardMode.FORWARD else "上报"


class Opinion(StrEnum):
    """A department's opinion in parallel (joint) approval."""

    AGREE = "agree"
    DISAGREE = "disagree"
    CONDITIONAL = "conditional"

    @property
    def label(self) -> str:
        """Chinese name."""
        return {"agree": "同意", "disagree": "不同意", "conditional": "有条件同意"}[self.value]


class DeliveryMethod(StrEnum):
    """送达方式."""

    WINDOW = "window"
    MAIL = "mail"
    ELECTRONIC = "electronic"

    @property
    def label(self) -> str:
        """Chinese name."""
        return {"window": "窗口领取", "mail": "邮寄送达", "electronic": "电子送达"}[self.value]


class UrgeLevel(StrEnum):
    """催办 is a reminder; 督办 is a formal supervision order with a reply deadline."""

    REMINDER = "reminder"
    FORMAL = "formal"

    @property
    def label(self) -> str:
        """Chinese name."""
        return "催办" if self is UrgeLevel.REMINDER else "督办"


class RatingGrade(StrEnum):
    """好评 / 中评 / 差评 grouping of the five satisfaction levels."""

    GOOD = "good"
    NEUTRAL = "neutral"
    BAD = "bad"

    @property
    def label(self) -> str:
        """Chinese name."""
        return {"good": "好评", "neutral": "中评", "bad": "差评"}[self.value]


class Satisfaction(IntEnum):
    """好差评 level; the values are the national interface codes (5 best, 1 worst)."""

    VERY_SATISFIED = 5
    SATISFIED = 4
    BASICALLY_SATISFIED = 3
    DISSATISFIED = 2
    VERY_DISSATISFIED = 1

    @property
    def label(self) -> str:
        """Chinese name."""
        return _SATISFACTION_LABELS[self]

    @property
    def grade(self) -> RatingGrade:
        """好评 = 非常满意 + 满意; 中评 = 基本满意; 差评 = 不满意 + 非常不满意."""
        if self >= Satisfaction.SATISFIED:
            return RatingGrade.GOOD
        if self == Satisfaction.BASICALLY_SATISFIED:
            return RatingGrade.NEUTRAL
        return RatingGrade.BAD


_SATISFACTION_LABELS = {
    Satisfaction.VERY_SATISFIED: "非常满意",
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY_SATISFIED: "基本满意",
    Satisfaction.DISSATISFIED: "不满意",
    Satisfaction.VERY_DISSATISFIED: "非常不满意",
}


class RatingChannel(StrEnum):
    """评价渠道 (GB/T 39046 Table 9 plus paper forms and the system default rating)."""

    PC = "pc"
    MOBILE = "mobile"
    QR_CODE = "qr_code"
    HALL_TABLET = "hall_tablet"
    HALL_TERMINAL = "hall_terminal"
    PHONE = "phone"
    SMS = "sms"
    PAPER = "paper"
    SYSTEM_DEFAULT = "system_default"

    @property
    def label(self) -> str:
        """Chinese name."""
        return _RATING_CHANNEL_LABELS[self]


_RATING_CHANNEL_LABELS = {
    RatingChannel.PC: "PC端",
    RatingChannel.MOBILE: "移动端",
    RatingChannel.QR_CODE: "二维码",
    RatingChannel.HALL_TABLET: "政务大厅平板电脑",
    RatingChannel.HALL_TERMINAL: "政务大厅其他终端",
    RatingChannel.PHONE: "电话",
    RatingChannel.SMS: "短信",
    RatingChannel.PAPER: "纸质评价表",
    RatingChannel.SYSTEM_DEFAULT: "系统默认评价",
}


class Applicant(msgspec.Struct, frozen=True, kw_only=True):
    """申请人 as recorded on the 收件凭证."""

    name: str
    id_type: IdType
    id_number: str
    phone: str | None = None
    kind: ApplicantKind = ApplicantKind.PERSON


class MissingMaterial(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of the 一次性告知书: what is missing and what standard it must meet."""

    code: str
    name: str
    requirement: str  # 需补正的内容或标准，如“原件，加盖公章”


class DeferredMaterial(msgspec.Struct, frozen=True, kw_only=True):
    """容缺受理: a non-essential material the applicant promised to supply by ``due``."""

    code: str
    name: str
    due: date


def blank(text: str | None) -> bool:
    """Whether a text field is missing or only whitespace."""
    return text is None or not text.strip()


def duplicates(codes: tuple[str, ...] | list[str]) -> list[str]:
    """Codes that occur more than once, in first-seen order."""
    seen: set[str] = set()
    repeated: list[str] = []
    for code in codes:
        if code in seen and code not in repeated:
            repeated.append(code)
        seen.add(code)
    return repeated
