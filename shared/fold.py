"""The deterministic fold: a case's events → its :class:`~shared.case_state.CaseState`.

Events are deduplicated by id and applied in ``(hlc, node_id, id)`` order, so every tier gets
the same state from the same set of events whatever order they arrived in. An event that is
not legal in the state reached so far is kept out of the status and flagged: a second result
(withdrawn at the community while approved at the township) is a ``conflict`` and the first
in fold order wins; anything else (decided before accepted, a second extension, resume
without pause) is ``out_of_order``. Nothing is dropped silently.

Deadlines (行政许可法 arts. 32, 42, 44, 45, 82): the clock starts the working day after
acceptance; promised and statutory deadlines add the granted extension (capped at the
item's allowance) and skip the working days inside 特别程序 intervals, both end days
included; a running procedure extends to today. Immediate items are due the day received.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from shared.calendar import CHINA_TZ, Deadline, WorkingCalendar, china_date
from shared.case_state import CaseState, CaseStatus, FlagCode, Light, Timeliness
from shared.errors import InvalidError
from shared.events import CaseEvent, encode_event
from shared.fold_steps import Accumulator
from shared.terms import CaseTerms, LimitUnit, ProjectType

__all__ = ["LATE_REGISTRATION_WORKING_DAYS", "fold_case", "fold_order"]

LATE_REGISTRATION_WORKING_DAYS = 1
"""补录 tolerance: registering on the next working day is normal, later is flagged."""


def fold_order(events: Iterable[CaseEvent]) -> tuple[list[CaseEvent], list[str]]:
    """Deduplicate events by id and sort them into fold order.

    Two different events under one id (a bug or a forgery) are resolved by keeping the one
    with the smallest encoding, so the choice does not depend on arrival order.

    Returns:
        The ordered events and the ids that collided.
    """
    by_id: dict[str, CaseEvent] = {}
    collided: set[str] = set()
    for event in events:
        known = by_id.get(event.id)
        if known is None:
            by_id[event.id] = event
        elif known != event:
            collided.add(event.id)
            by_id[event.id] = min(known, event, key=encode_event)
    ordered = sorted(by_id.values(), key=lambda e: (e.hlc, e.node_id, e.id))
    return ordered, sorted(collided)


def fold_case(
    events: Iterable[CaseEvent],
    *,
    terms: CaseTerms | None,
    calendar: WorkingCalendar,
    now: datetime,
) -> CaseState:
    """Derive a case's state from its events.

    Args:
        events: the case's events in any order, duplicates allowed.
        terms: the limits of the catalog item the case was received under; None while unknown
            (then only the art. 32 and art. 44 legal defaults are computed).
        calendar: the official working calendar.
        now: the current instant (timezone-aware); decides light, remaining days and overdue.

    Returns:
        The derived state. Equal inputs always give an equal state.

    Raises:
        InvalidError: no events, events of more than one case, or a naive ``now``.
    """
    ordered, collided = fold_order(events)
    if not ordered:
        raise InvalidError("没有办件事件，无法计算办件状态", code="fold_no_events")
    case_ids = {e.case_id for e in ordered}
    if len(case_ids) > 1:
        raise InvalidError(
            f"一次只能汇总同一办件的事件，收到了多个办件：{'、'.join(sorted(case_ids))}",
            code="fold_mixed_cases",
        )
    today = china_date(now)
    acc = Accumulator(ordered[0].case_id, terms, calendar)
    for case_id in collided:
        acc.flag(FlagCode.ID_COLLISION, (case_id,), "同一事件编号对应不同内容，已按确定规则取其一")
    for event in ordered:
        acc.apply(event)
    return _finish(acc, ordered, terms, calendar, today)


def _finish(
    acc: Accumulator,
    ordered: list[CaseEvent],
    terms: CaseTerms | None,
    calendar: WorkingCalendar,
    today: date,
) -> CaseState:
    status = acc.status
    finished = status.finished
    pauses = [(p.first, p.last or p.first) for p in acc.pauses]
    if acc.open_pause is not None:
        pauses.append((acc.open_pause.first, max(acc.open_pause.first, today)))

    promised: Deadline | None = None
    statutory: Deadline | None = None
    if terms is not None:
        promised, statutory = _deadlines(acc, terms, calendar, pauses)

    issuance: Deadline | None = None
    if acc.approved_on is not None and not acc.certificates and status != CaseStatus.DELIVERED:
        days = terms.issuance_days if terms is not None else acc.default_issuance_days
        issuance = calendar.add_working_days(acc.approved_on, days)

    timeliness: Timeliness | None = None
    if acc.timed_finish and acc.finished_on is not None and promised is not None:
        timeliness = _timeliness(calendar, acc.finished_on, promised.due)

    light, remaining = Light.NONE, None
    if not finished and promised is not None:
        remaining = calendar.working_days_between(today, promised.due).days
        warning = terms.warning_days if terms is not None else 0
        if today > promised.due:
            light = Light.RED
        elif remaining <= warning:
            light = Light.YELLOW
        else:
            light = Light.GREEN
    end_day = acc.finished_on if finished else today
    illegal = statutory is not None and end_day is not None and end_day > statutory.due

    correction_due = acc.correction_notice_due
    _deadline_flags(acc, calendar, (promised, statutory, issuance), correction_due)

    deferred = tuple(d for d in acc.deferred if d.code not in acc.supplied)
    return CaseState(
        case_id=acc.case_id,
        status=status,
        outcome=acc.outcome,
        finished=finished,
        item_code=acc.item_code,
        catalog_version=acc.catalog_version,
        receipt_no=acc.receipt_no,
        origin_node=acc.origin_node,
        handling_node=acc.handling_node,
        handling_tier=acc.handling_tier,
        forward_mode=acc.forward_mode,
        received_on=acc.received_on,
        accepted_on=acc.accepted_on,
        deemed_accepted=acc.deemed,
        correction_notice_due=correction_due,
        promised_due=promised,
        statutory_due=statutory,
        extension_days=acc.extension_days,
        pauses=tuple(acc.pauses),
        open_pause=acc.open_pause,
        decided_at=acc.decided_at.astimezone(CHINA_TZ) if acc.decided_at else None,
        finished_on=acc.finished_on,
        issuance_due=issuance,
        certificates=tuple(acc.certificates),
        timeliness=timeliness,
        light=light,
        illegal_overdue=illegal,
        remaining_working_days=remaining,
        deferred_outstanding=deferred,
        deferred_overdue=tuple(d.code for d in deferred if d.due < today),
        open_urges=acc.open_urges(today),
        ratings=tuple(acc.ratings),
        open_complaints=tuple(acc.complaints.values()),
        reviews=tuple(acc.reviews[k] for k in sorted(acc.reviews)),
        flags=tuple(acc.flags),
        events_count=len(ordered),
        last_event_id=ordered[-1].id,
    )


def _deadlines(
    acc: Accumulator,
    terms: CaseTerms,
    calendar: WorkingCalendar,
    pauses: list[tuple[date, date]],
) -> tuple[Deadline | None, Deadline | None]:
    ext = acc.extension_days
    promised: Deadline | None
    if terms.project_type is ProjectType.IMMEDIATE:
        # 即办件 are due the day they are received; the clock does not run while the applicant
        # is correcting materials, so after a correction notice it waits for acceptance.
        anchor = acc.accepted_on
        if anchor is None and not acc.correction_notices:
            anchor = acc.received_on
        if anchor is None:
            return None, None
        promised = Deadline(anchor, not calendar.covers(anchor))
    else:
        anchor = acc.accepted_on
        if anchor is None:
            return None, None
        promised = _limit(
            calendar,
            anchor,
            days=terms.promised_days,
            extension=ext,
            unit=terms.unit,
            pauses=pauses,
        )
    statutory = _limit(
        calendar, anchor, days=terms.statutory_days, extension=ext, unit=terms.unit, pauses=pauses
    )
    return promised, statutory


def _limit(
    calendar: WorkingCalendar,
    anchor: date,
    *,
    days: int | None,
    extension: int,
    unit: LimitUnit,
    pauses: list[tuple[date, date]],
) -> Deadline | None:
    if days is None:
        return None
    return calendar.add_days(anchor, days + extension, unit, pauses=pauses)


def _timeliness(calendar: WorkingCalendar, finished_on: date, due: date) -> Timeliness:
    if finished_on > due:
        return Timeliness.LATE
    if calendar.working_days_between(finished_on, due).days >= 1:
        return Timeliness.EARLY
    return Timeliness.ON_TIME


def _deadline_flags(
    acc: Accumulator,
    calendar: WorkingCalendar,
    deadlines: tuple[Deadline | None, ...],
    correction_due: Deadline | None,
) -> None:
    if acc.service_date is not None and acc.received_event is not None:
        recorded = acc.received_event.recorded_on
        lag = calendar.working_days_between(acc.service_date, recorded).days
        if lag > LATE_REGISTRATION_WORKING_DAYS:
            acc.flag(
                FlagCode.LATE_REGISTRATION,
                (acc.received_event.id,),
                f"补录办件：实际收件日期{acc.service_date}，登记日期{recorded}，相隔{lag}个工作日",
            )
    live = [d for d in deadlines if d is not None]
    if correction_due is not None and acc.accepted_on is None and not acc.status.finished:
        live.append(correction_due)
    if any(d.provisional for d in live):
        acc.flag(
            FlagCode.PROVISIONAL_DEADLINE,
            (),
            "期限计算用到了尚未公布放假安排的年份，结果为暂定，请在公布后导入新年度放假安排",
        )
