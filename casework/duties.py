"""The duties case work asks for; each app maps its own roles onto them by value."""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum


class Duty(StrEnum):
    """窗口、审核、决定. Node roles and county roles with these values hold the duty."""

    CLERK = "clerk"
    REVIEWER = "reviewer"
    APPROVER = "approver"

    @property
    def label(self) -> str:
        """The duty's Chinese name."""
        return _LABELS[self]


_LABELS = {Duty.CLERK: "窗口人员", Duty.REVIEWER: "审核", Duty.APPROVER: "决定"}


def duties_of(roles: Collection[str]) -> frozenset[Duty]:
    """The duties held by ``roles`` (any string-valued roles; unknown ones hold none)."""
    return frozenset(d for d in Duty if d.value in {str(r) for r in roles})
