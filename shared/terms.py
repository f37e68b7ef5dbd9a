"""The time terms a case runs under, taken from its catalog item when it is accepted.

The fold works from these terms rather than from the whole catalog item, so a case keeps the
limits of the catalog version it was accepted under even after the catalog changes.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec


class ProjectType(StrEnum):
    """办件类型. National codes (GB/T 39046 A.6): 1 即办件, 2 承诺件, 9 其他."""

    IMMEDIATE = "immediate"  # 即办件: decided on the spot
    PROMISED = "promised"  # 承诺件: decided within the promised working days
    REPORT_UP = "report_up"  # 上报件: received here, decided by a higher tier
    JOINT = "joint"  # 联办件: several departments, art. 42 ¶2 cap
    OTHER = "other"

    @property
    def label(self) -> str:
        """Chinese name shown to clerks and residents."""
        return _PROJECT_TYPE_LABELS[self]

    @property
    def national_code(self) -> str:
        """GB/T 39046 A.6 code used at the national-platform edge."""
        return {"immediate": "1", "promised": "2"}.get(self.value, "9")


_PROJECT_TYPE_LABELS = {
    ProjectType.IMMEDIATE: "即办件",
    ProjectType.PROMISED: "承诺件",
    ProjectType.REPORT_UP: "上报件",
    ProjectType.JOINT: "联办件",
    ProjectType.OTHER: "其他",
}


class LimitUnit(StrEnum):
    """Unit of a time limit. Agency periods under 行政许可法 art. 82 are working days."""

    WORKING_DAYS = "WD"
    CALENDAR_DAYS = "CD"

    @property
    def label(self) -> str:
        """Chinese name of the unit."""
        return "个工作日" if self is LimitUnit.WORKING_DAYS else "个自然日"


class ProcedureKind(StrEnum):
    """特别程序: a step whose time may be excluded from a case's limits.

    The first eight are the kinds 行政许可法 art. 45 itself excludes; the others rest on local
    rules. The catalog names the procedures an item may need, and a case's clock-paused event
    names the one that is running.
    """

    HEARING = "hearing"
    TENDER = "tender"
    AUCTION = "auction"
    INSPECTION = "inspection"
    TESTING = "testing"
    QUARANTINE = "quarantine"
    APPRAISAL = "appraisal"
    EXPERT_REVIEW = "expert_review"
    PUBLICITY = "publicity"
    SITE_SURVEY = "site_survey"
    OTHER = "other"

    @property
    def label(self) -> str:
        """Chinese name."""
        return _PROCEDURE_LABELS[self]

    @property
    def art45(self) -> bool:
        """Whether 行政许可法 art. 45 excludes this kind from the time limits."""
        return self not in _LOCAL_PROCEDURES


_PROCEDURE_LABELS = {
    ProcedureKind.HEARING: "听证",
    ProcedureKind.TENDER: "招标",
    ProcedureKind.AUCTION: "拍卖",
    ProcedureKind.INSPECTION: "检验",
    ProcedureKind.TESTING: "检测",
    ProcedureKind.QUARANTINE: "检疫",
    ProcedureKind.APPRAISAL: "鉴定",
    ProcedureKind.EXPERT_REVIEW: "专家评审",
    ProcedureKind.PUBLICITY: "公示",
    ProcedureKind.SITE_SURVEY: "现场勘查",
    ProcedureKind.OTHER: "其他特别程序",
}
_LOCAL_PROCEDURES = frozenset(
    {ProcedureKind.PUBLICITY, ProcedureKind.SITE_SURVEY, ProcedureKind.OTHER}
)


class CaseTerms(msgspec.Struct, frozen=True, kw_only=True):
    """Limits that decide a case's deadlines and light.

    Attributes:
        project_type: 办件类型; an immediate item is due the day it is received.
        promised_days: 承诺办结时限; supervision measures against it. None when the item has none.
        statutory_days: 法定办结时限; legality is judged against it. None for public services
            without a statutory limit.
        unit: unit of both limits.
        extension_days: the single extension the law allows (art. 42: 10, joint items 15); 0 = none.
        issuance_days: working days to issue and serve the licence after approval (art. 44).
        correction_notice_days: working days to issue a one-time correction notice (art. 32).
        warning_days: working days before the promised deadline at which the light turns yellow.
    """

    project_type: ProjectType
    promised_days: int | None
    statutory_days: int | None
    unit: LimitUnit = LimitUnit.WORKING_DAYS
    extension_days: int = 0
    issuance_days: int = 10
    correction_notice_days: int = 5
    warning_days: int = 1
