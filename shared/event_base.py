"""The fields and rule checks every case event shares.

Kinds live in :mod:`shared.intake_events`, :mod:`shared.handling_events` and
:mod:`shared.supervision_events`; :mod:`shared.events` gathers them into the tagged union.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

import msgspec

from shared.errors import ValidationError
from shared.event_parts import blank
from shared.hlc import Hlc

EVENT_FORMAT = 1
SYSTEM_ACTOR = "system"

_CHINA_OFFSET_MS = 8 * 3600 * 1000
_DAY_MS = 86_400_000
_EPOCH_DAY = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _china_day(stamp: Hlc) -> date:
    # integer arithmetic: Hlc.as_datetime goes through a float
    return _EPOCH_DAY + timedelta(days=(stamp.wall_ms + _CHINA_OFFSET_MS) // _DAY_MS)


class EventBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """Fields every case event carries.

    Attributes:
        id: uuid text, unique across all events of all cases.
        case_id: the case this event belongs to.
        node_id: the node that recorded the event (must match the signing origin).
        actor: account id or role label of whoever acted; ``"system"`` for automatic events.
        hlc: hybrid-logical-clock stamp; fold order is ``(hlc, node_id, id)``.
        format: event format version, for readers of old logs.
    """

    KIND: ClassVar[str] = ""
    LABEL: ClassVar[str] = ""

    id: str
    case_id: str
    node_id: str
    actor: str
    hlc: Hlc
    format: int = EVENT_FORMAT

    @property
    def recorded_on(self) -> date:
        """China-time day on which the event was recorded."""
        return _china_day(self.hlc)

    @property
    def recorded_at(self) -> datetime:
        """Aware UTC time at which the event was recorded."""
        return _EPOCH + timedelta(milliseconds=self.hlc.wall_ms)

    def problems(self) -> list[str]:
        """Every rule this event breaks, as Chinese sentences; empty when it is valid."""
        found: list[str] = []
        try:
            uuid.UUID(self.id)
        except ValueError:
            found.append(f"事件编号不是有效的UUID：{self.id!r}")
        for value, name in (
            (self.case_id, "办件编号"),
            (self.node_id, "记录节点"),
            (self.actor, "操作人"),
        ):
            if blank(value):
                found.append(f"{name}不能为空")
        if not 1 <= self.format <= EVENT_FORMAT:
            found.append(f"事件格式版本{self.format}不受支持（当前为{EVENT_FORMAT}）")
        found.extend(self._own_problems())
        return found

    def validate(self) -> None:
        """Check the event's rules before it is recorded.

        Raises:
            ValidationError: listing every broken rule.
        """
        found = self.problems()
        if found:
            raise ValidationError(found, message=f"{self.LABEL}事件不符合要求：" + "；".join(found))

    def _own_problems(self) -> list[str]:
        return []

    def _required(self, **fields: str | None) -> list[str]:
        return [f"{_FIELD_NAMES[name]}不能为空" for name, value in fields.items() if blank(value)]


_FIELD_NAMES = {
    "item_code": "事项编码",
    "receipt_no": "受理文书编号",
    "reason": "理由",
    "to_node": "接收节点",
    "to_tier": "接收层级",
    "department": "审查部门",
    "pause_id": "特别程序编号",
    "approver": "批准人",
    "certificate_no": "证照编号",
    "title": "证照名称",
    "urge_id": "催督办编号",
    "content": "内容",
    "by_unit": "发出单位",
    "answer": "答复内容",
    "complaint_id": "投诉编号",
    "channel": "投诉渠道",
    "result": "程序结果",
}
