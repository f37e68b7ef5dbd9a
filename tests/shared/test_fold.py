from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import CHINA_TZ, Deadline, official_calendar
from shared.case_state import CaseState, CaseStatus, FlagCode, Light, Timeliness
from shared.errors import InvalidError
from shared.events import (
    SYSTEM_ACTOR,
    Accepted,
    Applicant,
    CaseEvent,
    CertificateIssued,
    ClockPaused,
    ClockResumed,
    ComplaintAnswered,
    ComplaintFiled,
    CorrectionReceived,
    CorrectionRequested,
    Decided,
    DecidedOnSpot,
    DeemedAccepted,
    DeferredMaterial,
    DeferredSupplied,
    Delivered,
    DeliveryMethod,
    DepartmentReviewed,
    ExtensionGranted,
    Forwarded,
    ForwardMode,
    IdType,
    MissingMaterial,
    Opinion,
    Outcome,
    ProcedureKind,
    Rated,
    RatingChannel,
    ReceiptChannel,
    Received,
    Refused,
    Satisfaction,
    UrgeAnswered,
    Urged,
    UrgeLevel,
    Withdrawn,
)
from shared.fold import fold_case
from shared.hlc import Hlc
from shared.terms import CaseTerms, LimitUnit, ProjectType

CAL = official_calendar()
CASE = "case-1"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Terms of the sample catalog (reference section 6).
C01 = CaseTerms(
    project_type=ProjectType.IMMEDIATE, promised_days=0, statutory_days=0, extension_days=3
)
C02 = CaseTerms(
    project_type=ProjectType.PROMISED, promised_days=5, statutory_days=20, extension_days=10
)
C03 = CaseTerms(
    project_type=ProjectType.IMMEDIATE, promised_days=0, statutory_days=20, extension_days=10
)
S01 = CaseTerms(
    project_type=ProjectType.PROMISED,
    promised_days=10,
    statutory_days=15,
    unit=LimitUnit.CALENDAR_DAYS,
)


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


def ms(when: datetime) -> int:
    return (when - EPOCH) // timedelta(milliseconds=1)


DEFAULTS: dict[type, dict[str, Any]] = {
    Received: {
        "item_code": "C02",
        "catalog_version": 1,
        "applicant": Applicant(name="李四", id_type=IdType.RESIDENT_ID, id_number="1101"),
        "materials": ("M1", "M2"),
        "channel": ReceiptChannel.WINDOW,
    },
    CorrectionRequested: {
        "missing": (MissingMaterial(code="M3", name="布局图", requirement="原件一份"),)
    },
    CorrectionReceived: {"materials": ("M3",)},
    Accepted: {"receipt_no": "示市监受〔2026〕1号"},
    DeemedAccepted: {"as_of": date(2026, 2, 6)},
    Refused: {"reason": "不属于本机关职权范围", "referral": "示范县卫生健康局"},
    DecidedOnSpot: {"outcome": Outcome.APPROVE},
    Forwarded: {
        "to_node": "county",
        "to_tier": "county",
        "mode": ForwardMode.FORWARD,
        "reason": "转办",
    },
    DepartmentReviewed: {"department": "自然资源局", "opinion": Opinion.AGREE},
    ClockPaused: {"pause_id": "p1", "procedure": ProcedureKind.TESTING, "reason": "卫生检测"},
    ClockResumed: {"pause_id": "p1", "result": "合格"},
    ExtensionGranted: {"days": 10, "approver": "局长", "reason": "情况复杂"},
    Decided: {"outcome": Outcome.APPROVE},
    CertificateIssued: {"certificate_no": "JY1999999000001", "title": "食品经营许可证"},
    Delivered: {"method": DeliveryMethod.WINDOW},
    Withdrawn: {"reason": "申请人主动撤回"},
    DeferredSupplied: {"codes": ("M4",)},
    Urged: {
        "urge_id": "u1",
        "level": UrgeLevel.REMINDER,
        "content": "请加快办理",
        "feedback_due": date(2026, 2, 12),
        "by_unit": "县政务服务中心",
    },
    UrgeAnswered: {"urge_id": "u1", "answer": "已办理"},
    Rated: {"level": Satisfaction.SATISFIED, "channel": RatingChannel.HALL_TABLET},
    ComplaintFiled: {"complaint_id": "k1", "content": "等候时间长", "channel": "12345热线"},
    ComplaintAnswered: {"complaint_id": "k1", "answer": "已整改"},
}


def ev(cls: Any, when: datetime, *, node: str = "town", counter: int = 0, **fields: Any) -> Any:
    actor = SYSTEM_ACTOR if cls is DeemedAccepted else "clerk-1"
    return cls(
        id=str(uuid.uuid4()),
        case_id=CASE,
        node_id=node,
        actor=actor,
        hlc=Hlc(ms(when), counter),
        **{**DEFAULTS[cls], **fields},
    )


def fold(events, now: datetime, terms: CaseTerms | None = C02) -> CaseState:
    return fold_case(events, terms=terms, calendar=CAL, now=now)


def c02_accepted(day=date(2026, 2, 6)) -> list[CaseEvent]:
    y, m, d = day.year, day.month, day.day
    return [ev(Received, at(y, m, d, 9)), ev(Accepted, at(y, m, d, 10))]


def codes(state: CaseState) -> list[FlagCode]:
    return [f.code for f in state.flags]


# -- section 6 scenario 1: C02 deadlines -----------------------------------------------------


def test_fold_c02_promised_and_statutory_deadlines():
    state = fold(c02_accepted(), at(2026, 2, 9))
    assert state.status is CaseStatus.ACCEPTED
    assert state.accepted_on == date(2026, 2, 6)
    assert state.promised_due == Deadline(date(2026, 2, 13), False)
    assert state.statutory_due == Deadline(date(2026, 3, 12), False)
    assert state.correction_notice_due == Deadline(date(2026, 2, 13), False)
    assert state.light is Light.GREEN
    assert state.remaining_working_days == 4
    assert state.flags == ()
    assert state.events_count == 2


def test_fold_c02_extension_adds_ten_working_days():
    events = [*c02_accepted(), ev(ExtensionGranted, at(2026, 2, 10))]
    state = fold(events, at(2026, 2, 10))
    assert state.extension_days == 10
    assert state.statutory_due == Deadline(date(2026, 3, 26), False)
    # 5 + 10 working days: Sat 02-14 and Sat 02-28 are make-up days, 02-15..23 a holiday
    assert state.promised_due == Deadline(date(2026, 3, 5), False)


def test_fold_extension_is_capped_at_the_item_allowance():
    events = [*c02_accepted(), ev(ExtensionGranted, at(2026, 2, 10), days=15)]
    state = fold(events, at(2026, 2, 10))
    assert state.extension_days == 10
    assert state.statutory_due == Deadline(date(2026, 3, 26), False)
    assert codes(state) == [FlagCode.EXTENSION_CAPPED]
    assert state.flags[0].event_ids == (events[2].id,)


def test_fold_second_extension_is_out_of_order():
    first = ev(ExtensionGranted, at(2026, 2, 10))
    second = ev(ExtensionGranted, at(2026, 2, 11), days=5)
    state = fold([*c02_accepted(), first, second], at(2026, 2, 11))
    assert state.extension_days == 10
    assert codes(state) == [FlagCode.OUT_OF_ORDER]
    assert state.flags[0].event_ids == (second.id,)
    assert "延长办理期限" in state.flags[0].message_zh


# -- scenario 3: pauses ----------------------------------------------------------------------


def test_fold_c03_testing_pause_of_twelve_calendar_days_shifts_statutory_deadline():
    events = [
        ev(Received, at(2026, 3, 2, 9)),
        ev(Accepted, at(2026, 3, 2, 10)),
        ev(ClockPaused, at(2026, 3, 9, 9)),
        ev(ClockResumed, at(2026, 3, 20, 16)),
    ]
    unpaused = fold(events[:2], at(2026, 3, 2, 11), terms=C03)
    assert unpaused.statutory_due == Deadline(date(2026, 3, 30), False)
    state = fold(events, at(2026, 3, 23), terms=C03)
    # 03-09..03-20 holds 10 working days; 04-04..06 is 清明
    assert state.statutory_due == Deadline(date(2026, 4, 14), False)
    assert state.status is CaseStatus.ACCEPTED
    assert [(p.first, p.last) for p in state.pauses] == [(date(2026, 3, 9), date(2026, 3, 20))]
    assert state.pauses[0].closed_by == events[3].id
    assert state.open_pause is None
    # an immediate item stays due the day it was received
    assert state.promised_due == Deadline(date(2026, 3, 2), False)


def test_fold_pause_shifts_promised_deadline_by_working_days_inside():
    events = [
        *c02_accepted(date(2026, 3, 2)),
        ev(ClockPaused, at(2026, 3, 4)),
        ev(ClockResumed, at(2026, 3, 5)),
    ]
    assert fold(events[:2], at(2026, 3, 3)).promised_due == Deadline(date(2026, 3, 9), False)
    assert fold(events, at(2026, 3, 6)).promised_due == Deadline(date(2026, 3, 11), False)


def test_fold_open_pause_extends_to_today():
    events = [*c02_accepted(date(2026, 3, 2)), ev(ClockPaused, at(2026, 3, 4))]
    state = fold(events, at(2026, 3, 6, 15))
    assert state.status is CaseStatus.PAUSED
    assert state.open_pause is not None and state.open_pause.first == date(2026, 3, 4)
    assert state.promised_due == Deadline(date(2026, 3, 12), False)
    assert state.remaining_working_days == 4
    assert state.light is Light.GREEN


def test_fold_resume_without_pause_is_out_of_order():
    stray = ev(ClockResumed, at(2026, 2, 9))
    state = fold([*c02_accepted(), stray], at(2026, 2, 9))
    assert state.status is CaseStatus.ACCEPTED
    assert state.pauses == ()
    assert codes(state) == [FlagCode.OUT_OF_ORDER]
    assert state.flags[0].event_ids == (stray.id,)


def test_fold_decision_during_pause_ends_the_pause():
    events = [
        *c02_accepted(date(2026, 3, 2)),
        ev(ClockPaused, at(2026, 3, 4)),
        ev(Decided, at(2026, 3, 6), outcome=Outcome.DENY, reason="检测不合格"),
    ]
    state = fold(events, at(2026, 3, 20))
    assert state.status is CaseStatus.DENIED
    assert state.open_pause is None
    assert [(p.first, p.last, p.closed_by) for p in state.pauses] == [
        (date(2026, 3, 4), date(2026, 3, 6), None)
    ]
    assert state.promised_due == Deadline(date(2026, 3, 12), False)
    assert state.timeliness is Timeliness.EARLY


# -- scenario 7: lights ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "light", "remaining"),
    [
        (at(2026, 2, 11, 12), Light.GREEN, 2),
        (at(2026, 2, 12, 12), Light.YELLOW, 1),
        (at(2026, 2, 13, 8), Light.YELLOW, 0),
        (at(2026, 2, 13, 23, 59), Light.YELLOW, 0),
        (at(2026, 2, 14, 0, 0), Light.RED, -1),  # Sat 02-14 is a make-up working day
        (at(2026, 2, 24, 9), Light.RED, -2),
    ],
)
def test_fold_light_against_promised_deadline(now, light, remaining):
    state = fold(c02_accepted(), now)
    assert state.light is light
    assert state.remaining_working_days == remaining
    assert state.illegal_overdue is False


def test_fold_light_boundary_is_midnight_china_time():
    # 2026-02-13 23:59:59.999 China time is 15:59:59.999 UTC
    last_moment = datetime(2026, 2, 13, 15, 59, 59, 999999, tzinfo=UTC)
    assert fold(c02_accepted(), last_moment).light is Light.YELLOW
    assert fold(c02_accepted(), last_moment + timedelta(microseconds=1)).light is Light.RED


def test_fold_make_up_saturday_counts_as_working_day():
    # accepted Mon 02-09: 02-10, 11, 12, 13 and make-up Sat 02-14 → due 02-14
    events = c02_accepted(date(2026, 2, 9))
    assert fold(events, at(2026, 2, 13)).promised_due == Deadline(date(2026, 2, 14), False)
    assert fold(events, at(2026, 2, 13)).remaining_working_days == 1
    assert fold(events, at(2026, 2, 14, 23, 59)).light is Light.YELLOW
    assert fold(events, at(2026, 2, 15, 0, 0)).light is Light.RED


def test_fold_illegal_overdue_past_statutory_deadline():
    on_last_day = fold(c02_accepted(), at(2026, 3, 12, 23, 59))
    assert on_last_day.light is Light.RED
    assert on_last_day.illegal_overdue is False
    past = fold(c02_accepted(), at(2026, 3, 13, 0, 0))
    assert past.light is Light.RED
    assert past.illegal_overdue is True


def test_fold_illegal_overdue_stays_for_a_late_decision():
    events = [*c02_accepted(), ev(Decided, at(2026, 3, 13))]
    state = fold(events, at(2026, 3, 20))
    assert state.light is Light.NONE
    assert state.timeliness is Timeliness.LATE
    assert state.illegal_overdue is True


# -- timeliness ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decided", "expected"),
    [
        (at(2026, 2, 11), Timeliness.EARLY),
        (at(2026, 2, 12, 23, 59), Timeliness.EARLY),
        (at(2026, 2, 13, 23, 59), Timeliness.ON_TIME),
        (at(2026, 2, 14, 9), Timeliness.LATE),
    ],
)
def test_fold_timeliness_of_decision(decided, expected):
    state = fold([*c02_accepted(), ev(Decided, decided)], at(2026, 3, 1))
    assert state.finished is True
    assert state.timeliness is expected
    assert state.light is Light.NONE
    assert state.remaining_working_days is None
    assert state.finished_on == decided.date()
    assert state.decided_at == decided


# -- scenario 2: correction and deemed acceptance --------------------------------------------


def test_fold_correction_stops_clock_until_acceptance():
    events = [
        ev(Received, at(2026, 2, 2)),
        ev(CorrectionRequested, at(2026, 2, 3)),
    ]
    waiting = fold(events, at(2026, 2, 5))
    assert waiting.status is CaseStatus.AWAITING_CORRECTION
    assert waiting.accepted_on is None
    assert waiting.promised_due is None
    assert waiting.light is Light.NONE
    assert waiting.correction_notice_due == Deadline(date(2026, 2, 9), False)
    events += [ev(CorrectionReceived, at(2026, 2, 24)), ev(Accepted, at(2026, 2, 25))]
    state = fold(events, at(2026, 2, 25, 11))
    assert state.status is CaseStatus.ACCEPTED
    assert state.accepted_on == date(2026, 2, 25)
    assert state.promised_due == Deadline(date(2026, 3, 3), False)  # Sat 02-28 works
    assert state.flags == ()


def test_fold_deemed_acceptance_backdates_to_receipt():
    events = [
        ev(Received, at(2026, 2, 6)),
        ev(DeemedAccepted, at(2026, 2, 24, 1), as_of=date(2026, 2, 6)),
    ]
    state = fold(events, at(2026, 2, 24, 9))
    assert state.status is CaseStatus.ACCEPTED
    assert state.deemed_accepted is True
    assert state.accepted_on == date(2026, 2, 6)
    assert state.promised_due == Deadline(date(2026, 2, 13), False)
    assert state.light is Light.RED


def test_fold_deemed_acceptance_after_timely_notice_is_out_of_order():
    deemed = ev(DeemedAccepted, at(2026, 2, 24, 1), as_of=date(2026, 2, 6))
    events = [ev(Received, at(2026, 2, 6)), ev(CorrectionRequested, at(2026, 2, 9)), deemed]
    state = fold(events, at(2026, 2, 24, 9))
    assert state.status is CaseStatus.AWAITING_CORRECTION
    assert codes(state) == [FlagCode.OUT_OF_ORDER]
    assert state.flags[0].event_ids == (deemed.id,)


def test_fold_late_correction_notice_is_flagged_and_allows_deemed_acceptance():
    notice = ev(CorrectionRequested, at(2026, 2, 24))  # due 02-13
    events = [
        ev(Received, at(2026, 2, 6)),
        notice,
        ev(DeemedAccepted, at(2026, 2, 25, 1), as_of=date(2026, 2, 6)),
    ]
    state = fold(events, at(2026, 2, 25, 9))
    assert state.status is CaseStatus.ACCEPTED
    assert state.deemed_accepted is True
    assert codes(state) == [FlagCode.LATE_CORRECTION_NOTICE]
    assert state.flags[0].event_ids == (notice.id,)


def test_fold_repeated_correction_notice_is_flagged():
    second = ev(CorrectionRequested, at(2026, 2, 10))
    events = [
        ev(Received, at(2026, 2, 6)),
        ev(CorrectionRequested, at(2026, 2, 6, 11)),
        ev(CorrectionReceived, at(2026, 2, 9)),
        second,
    ]
    state = fold(events, at(2026, 2, 10, 12))
    assert state.status is CaseStatus.AWAITING_CORRECTION
    assert codes(state) == [FlagCode.REPEATED_CORRECTION_NOTICE]
    assert state.flags[0].event_ids == (second.id,)


def test_fold_refusal_finishes_without_deadlines():
    events = [ev(Received, at(2026, 2, 6)), ev(Refused, at(2026, 2, 6, 11))]
    state = fold(events, at(2026, 2, 9))
    assert state.status is CaseStatus.REFUSED
    assert state.finished is True
    assert state.promised_due is None
    assert state.timeliness is None
    assert state.light is Light.NONE


# -- 容缺 ------------------------------------------------------------------------------------


def test_fold_deferred_materials_outstanding_overdue_and_supplied():
    m4 = DeferredMaterial(code="M4", name="食品安全管理制度目录", due=date(2026, 2, 10))
    m5 = DeferredMaterial(code="M5", name="健康证明", due=date(2026, 2, 27))
    events = [
        ev(Received, at(2026, 2, 6, 9)),
        ev(Accepted, at(2026, 2, 6, 10), deferred=(m4, m5), commitment="本人承诺限期补齐"),
    ]
    before = fold(events, at(2026, 2, 10, 23))
    assert before.deferred_outstanding == (m4, m5)
    assert before.deferred_overdue == ()
    after_due = fold(events, at(2026, 2, 11))
    assert after_due.deferred_overdue == ("M4",)
    supplied = fold([*events, ev(DeferredSupplied, at(2026, 2, 12))], at(2026, 2, 12, 12))
    assert supplied.deferred_outstanding == (m5,)
    assert supplied.deferred_overdue == ()
    assert supplied.flags == ()


def test_fold_supplying_a_material_that_was_not_deferred_is_flagged():
    stray = ev(DeferredSupplied, at(2026, 2, 9), codes=("M9",))
    state = fold([*c02_accepted(), stray], at(2026, 2, 9))
    assert codes(state) == [FlagCode.OUT_OF_ORDER]
    assert "M9" in state.flags[0].message_zh


# -- conflicts and order ---------------------------------------------------------------------


def test_fold_withdrawn_at_community_conflicts_with_approval_at_township():
    withdrawn = ev(Withdrawn, at(2026, 2, 10, 10), node="village")
    approved = ev(Decided, at(2026, 2, 10, 10), node="town", counter=1)
    state = fold([*c02_accepted(), approved, withdrawn], at(2026, 2, 11))
    assert state.status is CaseStatus.WITHDRAWN
    assert state.outcome is None
    assert state.timeliness is None
    assert codes(state) == [FlagCode.CONFLICT]
    assert state.flags[0].event_ids == (withdrawn.id, approved.id)
    assert "并发冲突" in state.flags[0].message_zh


def test_fold_conflict_first_in_hlc_order_wins():
    approved = ev(Decided, at(2026, 2, 10, 9), node="town")
    withdrawn = ev(Withdrawn, at(2026, 2, 10, 10), node="village")
    state = fold([withdrawn, *c02_accepted(), approved], at(2026, 2, 11))
    assert state.status is CaseStatus.APPROVED
    assert state.outcome is Outcome.APPROVE
    assert state.flags[0].code is FlagCode.CONFLICT
    assert state.flags[0].event_ids == (approved.id, withdrawn.id)


def test_fold_same_hlc_is_ordered_by_node_then_id():
    a = ev(Withdrawn, at(2026, 2, 10), node="a-village")
    b = ev(Decided, at(2026, 2, 10), node="b-town")
    state = fold([*c02_accepted(), b, a], at(2026, 2, 11))
    assert state.status is CaseStatus.WITHDRAWN
    assert state.flags[0].event_ids == (a.id, b.id)


def test_fold_decided_before_accepted_is_out_of_order():
    early = ev(Decided, at(2026, 2, 6, 9, 30))
    events = [ev(Received, at(2026, 2, 6, 9)), early, ev(Accepted, at(2026, 2, 6, 10))]
    state = fold(events, at(2026, 2, 9))
    assert state.status is CaseStatus.ACCEPTED
    assert state.finished is False
    assert codes(state) == [FlagCode.OUT_OF_ORDER]
    assert state.flags[0].event_ids == (early.id,)
    assert "尚未受理" in state.flags[0].message_zh


def test_fold_events_before_receipt_leave_case_incomplete():
    accepted = ev(Accepted, at(2026, 2, 6))
    state = fold([accepted], at(2026, 2, 9))
    assert state.status is CaseStatus.INCOMPLETE
    assert state.flags[0].event_ids == (accepted.id,)
    assert state.status.label == "记录不完整（收件记录未到达）"


def test_fold_duplicates_fold_once():
    events = c02_accepted()
    state = fold([*events, *events, events[0]], at(2026, 2, 9))
    assert state.events_count == 2
    assert state.last_event_id == events[1].id
    assert state.flags == ()


def test_fold_same_id_with_different_content_is_resolved_and_flagged():
    events = c02_accepted()
    twin = msgspec.structs.replace(events[1], receipt_no="伪造")
    one = fold([*events, twin], at(2026, 2, 9))
    other = fold([twin, *reversed(events)], at(2026, 2, 9))
    assert msgspec.json.encode(one) == msgspec.json.encode(other)
    assert codes(one) == [FlagCode.ID_COLLISION]
    assert one.events_count == 2


def test_fold_rejects_mixed_cases_empty_input_and_naive_now():
    other = msgspec.structs.replace(ev(Received, at(2026, 2, 6)), case_id="case-2")
    with pytest.raises(InvalidError) as err:
        fold([*c02_accepted(), other], at(2026, 2, 9))
    assert err.value.code == "fold_mixed_cases"
    with pytest.raises(InvalidError) as err:
        fold([], at(2026, 2, 9))
    assert err.value.code == "fold_no_events"
    with pytest.raises(InvalidError):
        fold(c02_accepted(), datetime(2026, 2, 9))


# -- immediate items -------------------------------------------------------------------------


def test_fold_immediate_item_decided_on_the_spot():
    events = [ev(Received, at(2026, 2, 6, 9)), ev(DecidedOnSpot, at(2026, 2, 6, 9, 20))]
    state = fold(events, at(2026, 2, 6, 10), terms=C01)
    assert state.status is CaseStatus.APPROVED
    assert state.accepted_on == date(2026, 2, 6)
    assert state.promised_due == Deadline(date(2026, 2, 6), False)
    assert state.statutory_due == Deadline(date(2026, 2, 6), False)
    assert state.timeliness is Timeliness.ON_TIME
    assert state.issuance_due == Deadline(date(2026, 2, 27), False)


def test_fold_immediate_item_unfinished_is_red_the_next_day():
    events = [ev(Received, at(2026, 2, 6, 9))]
    assert fold(events, at(2026, 2, 6, 23, 59), terms=C01).light is Light.YELLOW
    next_day = fold(events, at(2026, 2, 7, 0, 0), terms=C01)
    assert next_day.light is Light.RED
    assert next_day.illegal_overdue is True  # statutory 0: 当场登记


# -- hand-over, issuance, delivery -----------------------------------------------------------


def test_fold_forward_and_escalate_change_handling_node():
    events = [
        ev(Received, at(2026, 2, 6, 9), node="village"),
        ev(Forwarded, at(2026, 2, 6, 11), node="village", to_node="town", to_tier="township"),
        ev(Accepted, at(2026, 2, 9), node="town"),
        ev(Forwarded, at(2026, 2, 10), node="town", mode=ForwardMode.ESCALATE),
    ]
    state = fold(events, at(2026, 2, 10, 12))
    assert state.origin_node == "village"
    assert state.handling_node == "county"
    assert state.handling_tier == "county"
    assert state.forward_mode is ForwardMode.ESCALATE
    assert fold(events[:3], at(2026, 2, 9, 12)).forward_mode is ForwardMode.FORWARD


def test_fold_issuance_clock_runs_until_certificate():
    events = [*c02_accepted(), ev(Decided, at(2026, 2, 11))]
    approved = fold(events, at(2026, 2, 12))
    # art. 44: 10 working days from the decision, make-up Saturdays included
    assert approved.issuance_due == Deadline(date(2026, 3, 3), False)
    events.append(ev(CertificateIssued, at(2026, 2, 12)))
    issued = fold(events, at(2026, 2, 12, 12))
    assert issued.issuance_due is None
    assert issued.certificates == ("JY1999999000001",)
    events.append(ev(Delivered, at(2026, 2, 13)))
    closed = fold(events, at(2026, 2, 13, 12))
    assert closed.status is CaseStatus.DELIVERED
    assert closed.status.label == "已送达办结"
    assert closed.outcome is Outcome.APPROVE
    assert closed.timeliness is Timeliness.EARLY


def test_fold_certificate_for_denied_case_is_out_of_order():
    cert = ev(CertificateIssued, at(2026, 2, 12))
    events = [
        *c02_accepted(),
        ev(Decided, at(2026, 2, 11), outcome=Outcome.DENY, reason="不符合条件"),
    ]
    state = fold([*events, cert], at(2026, 2, 12, 12))
    assert state.certificates == ()
    assert state.issuance_due is None
    assert state.flags[0].event_ids == (cert.id,)


def test_fold_parallel_reviews_keep_latest_opinion_per_department():
    events = [
        *c02_accepted(),
        ev(DepartmentReviewed, at(2026, 2, 9), opinion=Opinion.DISAGREE, comment="缺图纸"),
        ev(DepartmentReviewed, at(2026, 2, 10), department="示范镇人民政府"),
        ev(DepartmentReviewed, at(2026, 2, 11)),
    ]
    state = fold(events, at(2026, 2, 11, 12))
    assert [(r.department, r.opinion) for r in state.reviews] == [
        ("示范镇人民政府", Opinion.AGREE),
        ("自然资源局", Opinion.AGREE),
    ]


# -- supervision -----------------------------------------------------------------------------


def test_fold_urges_open_answered_and_overdue():
    events = [
        *c02_accepted(),
        ev(Urged, at(2026, 2, 9)),
        ev(Urged, at(2026, 2, 10), urge_id="u2", level=UrgeLevel.FORMAL),
        ev(UrgeAnswered, at(2026, 2, 11)),
    ]
    state = fold(events, at(2026, 2, 13))
    assert [(u.urge_id, u.level, u.overdue) for u in state.open_urges] == [
        ("u2", UrgeLevel.FORMAL, True)
    ]
    assert state.open_urges[0].feedback_due == date(2026, 2, 12)
    assert fold(events, at(2026, 2, 12, 23)).open_urges[0].overdue is False
    unknown = ev(UrgeAnswered, at(2026, 2, 12), urge_id="u9")
    assert codes(fold([*events, unknown], at(2026, 2, 13))) == [FlagCode.OUT_OF_ORDER]


def test_fold_ratings_and_complaints():
    events = [
        *c02_accepted(),
        ev(Rated, at(2026, 2, 6, 10, 5), level=Satisfaction.VERY_SATISFIED),
        ev(Decided, at(2026, 2, 11)),
        ev(Rated, at(2026, 2, 11, 11), level=Satisfaction.DISSATISFIED, channel=RatingChannel.SMS),
        ev(ComplaintFiled, at(2026, 2, 11, 12)),
        ev(ComplaintFiled, at(2026, 2, 11, 13), complaint_id="k2"),
        ev(ComplaintAnswered, at(2026, 2, 12)),
    ]
    state = fold(events, at(2026, 2, 12, 12))
    assert [(r.level, r.channel, r.rated_on) for r in state.ratings] == [
        (Satisfaction.VERY_SATISFIED, RatingChannel.HALL_TABLET, date(2026, 2, 6)),
        (Satisfaction.DISSATISFIED, RatingChannel.SMS, date(2026, 2, 11)),
    ]
    assert [r.level.grade.label for r in state.ratings] == ["好评", "差评"]
    assert [(c.complaint_id, c.filed_on) for c in state.open_complaints] == [
        ("k2", date(2026, 2, 11))
    ]


# -- calendar coverage, late registration, unknown terms -------------------------------------


def test_fold_provisional_deadline_when_running_into_an_unpublished_year():
    # scenario 6: accepted 12-03 + 20 working days = 12-31, still inside 2026
    inside = fold(c02_accepted(date(2026, 12, 3)), at(2026, 12, 4))
    assert inside.statutory_due == Deadline(date(2026, 12, 31), False)
    assert FlagCode.PROVISIONAL_DEADLINE not in codes(inside)
    crossing = fold(c02_accepted(date(2026, 12, 10)), at(2026, 12, 11))
    assert crossing.statutory_due == Deadline(date(2027, 1, 8), True)
    assert codes(crossing) == [FlagCode.PROVISIONAL_DEADLINE]


def test_fold_late_registration_is_flagged_and_backdates_receipt():
    late = ev(Received, at(2026, 2, 6), service_date=date(2026, 2, 2))
    state = fold([late], at(2026, 2, 6, 12))
    assert state.received_on == date(2026, 2, 2)
    assert state.correction_notice_due == Deadline(date(2026, 2, 9), False)
    assert codes(state) == [FlagCode.LATE_REGISTRATION]
    assert state.flags[0].event_ids == (late.id,)
    next_day = ev(Received, at(2026, 2, 6), service_date=date(2026, 2, 5))
    assert fold([next_day], at(2026, 2, 6, 12)).flags == ()


def test_fold_without_terms_computes_only_legal_defaults():
    events = [*c02_accepted(), ev(Decided, at(2026, 2, 9))]
    state = fold(events, at(2026, 2, 10), terms=None)
    assert state.promised_due is None
    assert state.statutory_due is None
    assert state.timeliness is None
    assert state.correction_notice_due == Deadline(date(2026, 2, 13), False)
    assert state.issuance_due == Deadline(date(2026, 2, 28), False)  # make-up Saturday
    assert state.item_code == "C02"
    assert state.catalog_version == 1


def test_fold_calendar_day_limit_for_residence_permit():
    state = fold(c02_accepted(date(2026, 3, 2)), at(2026, 3, 3), terms=S01)
    assert state.statutory_due == Deadline(date(2026, 3, 17), False)
    assert state.promised_due == Deadline(date(2026, 3, 12), False)


# -- properties ------------------------------------------------------------------------------

NODES = ("county", "town", "village")
DAY_MS = 86_400_000
EXTRA_KINDS = [
    Withdrawn,
    Decided,
    Refused,
    DecidedOnSpot,
    Accepted,
    DeemedAccepted,
    ClockPaused,
    ClockResumed,
    ExtensionGranted,
    Forwarded,
    Urged,
    UrgeAnswered,
    Rated,
    DeferredSupplied,
    CertificateIssued,
    Delivered,
    CorrectionRequested,
    CorrectionReceived,
    ComplaintFiled,
    ComplaintAnswered,
    DepartmentReviewed,
    Received,
]


@st.composite
def case_events(draw):
    """A plausible lifecycle plus random extra and conflicting events from 2–3 nodes."""
    start = ms(at(2026, 1, 5, 8)) + draw(st.integers(0, 330)) * DAY_MS
    nodes = draw(st.lists(st.sampled_from(NODES), min_size=2, max_size=3, unique=True))
    events: list[CaseEvent] = []
    clock = [start]

    def add(cls: Any, wall: int | None = None, **fields: Any) -> None:
        if wall is None:
            clock[0] += draw(st.sampled_from([0, 1, 60_000, 3_600_000, DAY_MS, 3 * DAY_MS]))
            wall = clock[0]
        if cls is Decided and "outcome" not in fields:
            fields["outcome"] = draw(st.sampled_from(list(Outcome)))
            fields["reason"] = "理由"
        if cls in (ClockPaused, ClockResumed) and "pause_id" not in fields:
            fields["pause_id"] = draw(st.sampled_from(["p1", "p2"]))
        if cls in (Urged, UrgeAnswered):
            fields["urge_id"] = draw(st.sampled_from(["u1", "u2"]))
        events.append(
            cls(
                id=str(draw(st.uuids())),
                case_id=CASE,
                node_id=draw(st.sampled_from(nodes)),
                actor=SYSTEM_ACTOR,
                hlc=Hlc(wall, draw(st.integers(0, 2))),
                **{**DEFAULTS[cls], **fields},
            )
        )

    add(Received)
    if draw(st.booleans()):
        add(CorrectionRequested)
        add(CorrectionReceived)
    if draw(st.booleans()):
        deferred = (DeferredMaterial(code="M4", name="制度目录", due=date(2026, 6, 1)),)
        add(Accepted, deferred=deferred, commitment="承诺")
    else:
        add(DeemedAccepted, as_of=date(2026, 1, 5))
    for pause_id in draw(st.lists(st.sampled_from(["p1", "p2"]), max_size=2, unique=True)):
        add(ClockPaused, pause_id=pause_id)
        if draw(st.booleans()):
            add(ClockResumed, pause_id=pause_id)
    if draw(st.booleans()):
        add(ExtensionGranted, days=draw(st.integers(1, 15)))
    add(draw(st.sampled_from([Decided, Withdrawn, Decided])))
    if draw(st.booleans()):
        add(CertificateIssued)
        add(Delivered)
    for _ in range(draw(st.integers(0, 6))):
        wall = start + draw(st.integers(0, 40 * DAY_MS))
        add(draw(st.sampled_from(EXTRA_KINDS)), wall=wall)
    return events


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_fold_is_independent_of_arrival_order_and_duplication(data):
    events = data.draw(case_events())
    terms = data.draw(st.sampled_from([C01, C02, C03, S01, None]))
    now = at(2026, 1, 5) + timedelta(minutes=data.draw(st.integers(0, 400 * 24 * 60)))
    dups = data.draw(st.lists(st.sampled_from(events), max_size=5))
    shuffled = data.draw(st.permutations(events + dups))
    expected = fold(events, now, terms)
    assert msgspec.json.encode(fold(shuffled, now, terms)) == msgspec.json.encode(expected)
    assert expected.events_count == len(events)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_fold_adding_a_pause_never_makes_a_deadline_earlier(data):
    terms = data.draw(st.sampled_from([C02, C03, S01]))
    accepted = at(2026, 1, 5, 10) + timedelta(days=data.draw(st.integers(0, 300)))
    events = c02_accepted(accepted.date())
    day = accepted
    pauses = []
    for n in range(data.draw(st.integers(1, 3))):
        day += timedelta(days=data.draw(st.integers(0, 6)), hours=1)
        opened = ev(ClockPaused, day, pause_id=f"p{n}")
        day += timedelta(days=data.draw(st.integers(0, 12)), hours=1)
        pauses.append([opened, ev(ClockResumed, day, pause_id=f"p{n}")])
    if data.draw(st.booleans()):
        pauses[-1].pop()  # the last procedure is still running
    now = day + timedelta(days=data.draw(st.integers(0, 20)))
    kept = data.draw(st.lists(st.booleans(), min_size=len(pauses), max_size=len(pauses)))
    fewer = fold(
        events + [e for pair, keep in zip(pauses, kept, strict=True) if keep for e in pair],
        now,
        terms,
    )
    every = fold(events + [e for pair in pauses for e in pair], now, terms)
    assert set(codes(every)) <= {FlagCode.PROVISIONAL_DEADLINE}  # every pause was applied
    for attr in ("promised_due", "statutory_due"):
        with_all, with_fewer = getattr(every, attr), getattr(fewer, attr)
        assert with_all.due >= with_fewer.due
