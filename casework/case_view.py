"""What a case page shows, the same at a node and at the county: the light with the working
days left, and the timeline of events in words. Pure: the pages pass in the calendar, registry
and the item's materials.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.calendar import CHINA_TZ, WorkingCalendar
from shared.case_state import Light
from shared.events import (
    Accepted,
    CaseEvent,
    CertificateIssued,
    CorrectionRequested,
    Decided,
    DecidedOnSpot,
    DeferredSupplied,
    DepartmentReviewed,
    ExtensionGranted,
    Forwarded,
    Received,
    Refused,
    UrgeAnswered,
    Urged,
)
from shared.registry import Registry


@dataclass(frozen=True)
class Countdown:
    """A case's light and working days left, as of today."""

    light: Light
    remaining: int | None


def countdown(
    calendar: WorkingCalendar,
    today: date,
    promised_due: date | None,
    *,
    finished: bool,
    warning_days: int,
) -> Countdown:
    """The light and countdown of a case from its row, by the fold's own rule.

    The stored light is as of the last projection; a queue read days later must not show a
    case as green that went red in between, so both are derived from the due day again.
    """
    if finished or promised_due is None:
        return Countdown(Light.NONE, None)
    remaining = calendar.working_days_between(today, promised_due).days
    if today > promised_due:
        return Countdown(Light.RED, remaining)
    if remaining <= warning_days:
        return Countdown(Light.YELLOW, remaining)
    return Countdown(Light.GREEN, remaining)


@dataclass(frozen=True)
class TimelineLine:
    """One event as the case page shows it."""

    label: str
    at: str
    node: str
    actor: str
    detail: str


def node_name(registry: Registry, node_id: str | None) -> str:
    """A node's name from the registry, its id when unknown, a dash when there is none."""
    if not node_id:
        return "—"
    record = registry.get(node_id)
    return record.name if record else node_id


def timeline(
    events: list[CaseEvent], registry: Registry, materials: dict[str, str]
) -> list[TimelineLine]:
    """The case's events in causal order, each in words."""
    ordered = sorted(events, key=lambda e: (e.hlc.wall_ms, e.hlc.counter, e.node_id, e.id))
    return [
        TimelineLine(
            label=event.LABEL,
            at=event.recorded_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M"),
            node=node_name(registry, event.node_id),
            actor=event.actor,
            detail=event_detail(event, registry, materials),
        )
        for event in ordered
    ]


def event_detail(event: CaseEvent, registry: Registry, materials: dict[str, str]) -> str:
    """The event's particulars in one line of Chinese."""
    # The applicant block of a receipt holds the ID number: it is never shown.
    if isinstance(event, Received):
        names = [materials.get(c, c) for c in event.materials]
        return f"{event.channel.label}收件；收取材料：" + ("、".join(names) or "无")
    if isinstance(event, Accepted):
        deferred = "、".join(f"{d.name}（{d.due}前补齐）" for d in event.deferred)
        return f"受理编号 {event.receipt_no}" + (f"；容缺：{deferred}" if deferred else "")
    if isinstance(event, CorrectionRequested):
        return "需补正：" + "、".join(f"{m.name}（{m.requirement}）" for m in event.missing)
    if isinstance(event, Refused):
        return event.reason + (f"；告知向{event.referral}申请" if event.referral else "")
    if isinstance(event, DecidedOnSpot | Decided):
        return event.outcome.label + (f"：{event.reason}" if event.reason else "")
    if isinstance(event, Forwarded):
        return f"{event.mode.label}至{node_name(registry, event.to_node)}：{event.reason}"
    if isinstance(event, DepartmentReviewed):
        return f"{event.department}：{event.opinion.label}" + (
            f"，{event.comment}" if event.comment else ""
        )
    if isinstance(event, ExtensionGranted):
        return f"延长{event.days}个工作日（{event.approver}批准）：{event.reason}"
    if isinstance(event, CertificateIssued):
        return f"{event.title} {event.certificate_no}"
    if isinstance(event, DeferredSupplied):
        return "补齐：" + "、".join(materials.get(c, c) for c in event.codes)
    if isinstance(event, Urged):
        return f"{event.by_unit}{event.level.label}：{event.content}（{event.feedback_due}前反馈）"
    if isinstance(event, UrgeAnswered):
        return event.answer
    return ""
