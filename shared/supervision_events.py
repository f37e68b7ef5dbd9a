"""Case events of supervision and the applicant's voice: 催办/督办, 好差评, complaints."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from shared.event_base import EventBase
from shared.event_parts import (
    RatingChannel,
    Satisfaction,
    UrgeLevel,
)


class Urged(EventBase, frozen=True, kw_only=True, tag="urged"):
    """催办 or 督办 issued to the handling unit, with a reply deadline."""

    KIND: ClassVar[str] = "urged"
    LABEL: ClassVar[str] = "催办/督办"

    urge_id: str
    level: UrgeLevel
    content: str
    feedback_due: date
    by_unit: str

    def _own_problems(self) -> list[str]:
        found = self._required(urge_id=self.urge_id, content=self.content, by_unit=self.by_unit)
        if self.feedback_due < self.recorded_on:
            found.append("反馈期限不能早于发出日期")
        return found


class UrgeAnswered(EventBase, frozen=True, kw_only=True, tag="urge_answered"):
    """催办/督办反馈."""

    KIND: ClassVar[str] = "urge_answered"
    LABEL: ClassVar[str] = "催督办反馈"

    urge_id: str
    answer: str

    def _own_problems(self) -> list[str]:
        return self._required(urge_id=self.urge_id, answer=self.answer)


class Rated(EventBase, frozen=True, kw_only=True, tag="rated"):
    """好差评: one evaluation (a case may be rated at acceptance and again at completion)."""

    KIND: ClassVar[str] = "rated"
    LABEL: ClassVar[str] = "好差评"

    level: Satisfaction
    channel: RatingChannel
    comment: str = ""

    def _own_problems(self) -> list[str]:
        try:
            Satisfaction(self.level)
        except ValueError:
            return [f"评价等级必须在1到5之间，收到{self.level!r}"]
        return []


class ComplaintFiled(EventBase, frozen=True, kw_only=True, tag="complaint_filed"):
    """投诉 about the handling of this case."""

    KIND: ClassVar[str] = "complaint_filed"
    LABEL: ClassVar[str] = "投诉"

    complaint_id: str
    content: str
    channel: str  # 如 12345热线、窗口、网上
    # 对答复不满意、重新投诉时：被重新打开的那件投诉的编号
    reopens: str | None = None
    # 答复期限，登记时按当时的规定算好告知投诉人；旧记录没有
    answer_due: date | None = None

    def _own_problems(self) -> list[str]:
        found = self._required(
            complaint_id=self.complaint_id, content=self.content, channel=self.channel
        )
        if self.reopens is not None and self.reopens == self.complaint_id:
            found.append("重新投诉不能指向自身")
        if self.answer_due is not None and self.answer_due < self.recorded_on:
            found.append("投诉答复期限不能早于登记日期")
        return found


class ComplaintAnswered(EventBase, frozen=True, kw_only=True, tag="complaint_answered"):
    """投诉答复."""

    KIND: ClassVar[str] = "complaint_answered"
    LABEL: ClassVar[str] = "投诉答复"

    complaint_id: str
    answer: str

    def _own_problems(self) -> list[str]:
        return self._required(complaint_id=self.complaint_id, answer=self.answer)
