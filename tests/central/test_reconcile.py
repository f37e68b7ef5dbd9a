"""County reconciliation: SQL lights equal the fold's, warnings, cards and escalations."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.db.reconcile_sql import run
from shared.case_state import CaseState
from shared.errors import InvalidError, ValidationError
from shared.event_parts import Outcome, UrgeLevel
from shared.events import (
    CaseEvent,
    ClockPaused,
    ClockResumed,
    Decided,
    ExtensionGranted,
    UrgeAnswered,
    Urged,
)
from shared.terms import CaseTerms, LimitUnit, ProcedureKind, ProjectType
from tests.central.test_reconcile_support import (
    CAL,
    County,
    accepted_case,
    as_date,
    at,
    county,
    event,
    project,
)

pytestmark = pytest.mark.anyio

TERMS = CaseTerms(
    project_type=ProjectType.PROMISED,
    promised_days=5,
    statutory_days=20,
    extension_days=10,
    warning_days=1,
)


# ------------------------------------------------------------ the fold, set-based


@st.composite
def timelines(draw: st.DrawFn, index: int) -> tuple[str, list[CaseEvent], CaseTerms, date]:
    """A realistic case: accepted, maybe extended, paused and resumed, paused still, decided."""
    case_id = f"case-{index}"
    item = f"I{index}"
    accept = date(2025, 12, 1) + timedelta(days=draw(st.integers(0, 400)))
    immediate = draw(st.integers(0, 9)) == 0
    calendar_days = not immediate and draw(st.integers(0, 4)) == 0
    promised = 0 if immediate else draw(st.integers(0, 20))
    terms = CaseTerms(
        project_type=ProjectType.IMMEDIATE if immediate else ProjectType.PROMISED,
        promised_days=promised,
        statutory_days=promised + draw(st.integers(0, 10)),
        unit=LimitUnit.CALENDAR_DAYS if calendar_days else LimitUnit.WORKING_DAYS,
        extension_days=10,
        warning_days=draw(st.integers(0, 4)),
    )
    later: list[tuple[date, Any, dict[str, Any]]] = []
    if draw(st.booleans()):
        days = draw(st.integers(1, 12))
        when = accept + timedelta(days=draw(st.integers(0, 15)))
        later.append((when, ExtensionGranted, {"days": days, "approver": "局长", "reason": "复杂"}))
    cursor = accept
    for n in range(draw(st.integers(0, 2))):
        first = cursor + timedelta(days=draw(st.integers(0, 8)))
        last = first + timedelta(days=draw(st.integers(0, 8)))
        pid = f"p{n}"
        later.append((first, ClockPaused, {"pause_id": pid, "procedure": ProcedureKind.TESTING}))
        later.append((last, ClockResumed, {"pause_id": pid, "result": "合格"}))
        cursor = last
    # An open pause is exact for working-day limits; calendar-day limits are checked unpaused.
    if not calendar_days and draw(st.booleans()):
        first = cursor + timedelta(days=draw(st.integers(0, 8)))
        later.append((first, ClockPaused, {"pause_id": "open", "procedure": ProcedureKind.HEARING}))
    if draw(st.integers(0, 5)) == 0:
        when = max([accept, *(d for d, _, _ in later)]) + timedelta(days=draw(st.integers(0, 5)))
        later.append((when, Decided, {"outcome": Outcome.APPROVE}))
    events = accepted_case(case_id, accept, item)
    later.sort(key=lambda x: x[0])
    for i, (day, cls, fields) in enumerate(later):
        extra = {"reason": "特别程序"} if cls is ClockPaused else {}
        events.append(event(cls, case_id, at(day, 11, i), **fields, **extra))
    last_day = max([accept, *(d for d, _, _ in later)])
    return case_id, events, terms, last_day


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[tuple[str, list[CaseEvent], CaseTerms, date]], Any]:
    cases = [draw(timelines(i)) for i in range(draw(st.integers(1, 8)))]
    latest = max(c[3] for c in cases)
    today = latest + timedelta(days=draw(st.integers(0, 45)))
    hh, mm = draw(st.sampled_from([(0, 0), (9, 30), (23, 59)]))
    return cases, at(today, hh, mm)


async def _compare(tmp_path: Path, url: str | None, cases: Any, now: datetime) -> None:
    async with county(tmp_path, url) as c:
        rows = []
        folds: dict[str, CaseState] = {}
        for i, (case_id, events, terms, last_day) in enumerate(cases):
            # projection happened some day between the last event and now
            span = (now.date() - last_day).days
            projected_at = at(last_day + timedelta(days=(i * 7) % (span + 1)), 12)
            _, row = project(case_id, events, terms, projected_at)
            rows.append(row)
            folds[case_id] = project(case_id, events, terms, now)[0]
            await c.put_terms(f"I{i}", terms.warning_days, terms.unit.value)
        await c.put_rows(rows)
        await c.reconciler.reconcile(now)
        got = await c.supervised()
        for case_id, state in folds.items():
            if state.finished:
                assert case_id not in got
                continue
            mine = got[case_id]
            expected_due = state.promised_due.due if state.promised_due else None
            assert as_date(mine["due"]) == expected_due, case_id
            assert mine["light"] == state.light.value, case_id
            assert mine["remaining_days"] == state.remaining_working_days, case_id
            assert bool(mine["illegal"]) == state.illegal_overdue, case_id
            if expected_due is not None and now.date() > expected_due:
                overdue = CAL.working_days_between(expected_due, now.date()).days
                assert mine["overdue_days"] == overdue


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenario=scenarios())
def test_sql_lights_equal_the_fold_on_sqlite(tmp_path: Path, scenario: Any) -> None:
    cases, now = scenario
    for old in tmp_path.glob("central.sqlite*"):
        old.unlink()
    asyncio.run(_compare(tmp_path, None, cases, now))


@pytest.mark.postgres
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenario=scenarios())
def test_sql_lights_equal_the_fold_on_postgresql(
    tmp_path: Path, scenario: Any, postgres_database: str
) -> None:
    cases, now = scenario

    async def fresh() -> None:
        async with county(tmp_path, postgres_database) as c:
            for table in ("case_row", "supervision_case", "supervision_term"):
                await run(c.engine, f"DELETE FROM {table}")

    asyncio.run(fresh())
    asyncio.run(_compare(tmp_path, postgres_database, cases, now))


# ------------------------------------------------------------ boundaries and transitions


@pytest.fixture
async def c(tmp_path: Path, central_database_url: str | None) -> Any:
    async with county(tmp_path, central_database_url) as opened:
        yield opened


async def _one(c: County, case_id: str, events: list[CaseEvent], now: datetime) -> CaseState:
    state, row = project(case_id, events, TERMS, now)
    await c.put_terms("I0", TERMS.warning_days)
    await c.put_rows([row])
    return state


async def test_last_minute_of_the_last_working_day_is_yellow_then_red(c: County) -> None:
    # accepted Monday 2026-03-02, 5 working days: due Monday 2026-03-09
    events = accepted_case("k1", date(2026, 3, 2), "I0")
    state = await _one(c, "k1", events, at(date(2026, 3, 2), 12))
    assert state.promised_due is not None and state.promised_due.due == date(2026, 3, 9)
    await c.reconciler.reconcile(at(date(2026, 3, 6), 23, 59))  # Friday: 1 day left
    assert (await c.supervised())["k1"]["light"] == "yellow"
    await c.reconciler.reconcile(at(date(2026, 3, 9), 23, 59))
    row = (await c.supervised())["k1"]
    assert (row["light"], row["remaining_days"], row["overdue_days"]) == ("yellow", 0, None)
    await c.reconciler.reconcile(at(date(2026, 3, 10), 0, 0))
    row = (await c.supervised())["k1"]
    assert (row["light"], row["remaining_days"], row["overdue_days"]) == ("red", -1, 1)
    assert await c.actions() == [
        ("k1", "warning", "2026-03-09", "zhen-a"),
        ("k1", "yellow_card", "2026-03-09", "zhen-a"),
    ]


async def test_a_make_up_saturday_counts_as_a_working_day(c: County) -> None:
    # 2026-02-14 (Saturday) and 2026-02-28 (Saturday) are 调休上班日
    events = accepted_case("k2", date(2026, 2, 12), "I0")
    state = await _one(c, "k2", events, at(date(2026, 2, 12), 12))
    assert state.promised_due is not None
    await c.reconciler.reconcile(at(date(2026, 2, 13), 10))
    row = (await c.supervised())["k2"]
    expected = CAL.working_days_between(date(2026, 2, 13), state.promised_due.due).days
    assert row["remaining_days"] == expected
    assert as_date(row["due"]) == state.promised_due.due


async def test_weekend_after_the_due_day_is_red_without_a_card(c: County) -> None:
    # accepted Friday 2026-03-06: due Friday 2026-03-13; Saturday is overdue by 0 working days
    events = accepted_case("k3", date(2026, 3, 6), "I0")
    await _one(c, "k3", events, at(date(2026, 3, 6), 12))
    report = await c.reconciler.reconcile(at(date(2026, 3, 14), 10))
    row = (await c.supervised())["k3"]
    assert (row["light"], row["overdue_days"], row["card"]) == ("red", 0, 0)
    assert report.cards == 0
    report = await c.reconciler.reconcile(at(date(2026, 3, 16), 10))
    assert report.cards == 1


async def test_red_card_beyond_the_configured_days_and_nothing_twice(c: County) -> None:
    await c.rules.set("red_card_after", 2, by="admin")
    events = accepted_case("k4", date(2026, 3, 2), "I0")
    await _one(c, "k4", events, at(date(2026, 3, 2), 12))
    first = await c.reconciler.reconcile(at(date(2026, 3, 11), 10))  # 2 days overdue
    assert first.actions == {"yellow_card": 1}
    second = await c.reconciler.reconcile(at(date(2026, 3, 12), 10))  # 3 days overdue
    assert second.actions == {"red_card": 1}
    again = await c.reconciler.reconcile(at(date(2026, 3, 12), 16))
    assert again.actions == {}
    assert [a[1] for a in await c.actions()] == ["red_card", "yellow_card"]


async def test_per_item_warning_window_overrides_the_catalog(c: County) -> None:
    events = accepted_case("k5", date(2026, 3, 2), "I0")
    await _one(c, "k5", events, at(date(2026, 3, 2), 12))
    await c.reconciler.reconcile(at(date(2026, 3, 4), 10))  # 3 days left, window 1
    assert (await c.supervised())["k5"]["light"] == "green"
    await c.rules.set("warning_days", 3, by="admin", item_code="I0")
    report = await c.reconciler.reconcile(at(date(2026, 3, 4), 11))
    assert (await c.supervised())["k5"]["light"] == "yellow"
    assert report.warnings == 1


async def test_paused_case_keeps_its_remaining_days(c: County) -> None:
    events = accepted_case("k6", date(2026, 3, 2), "I0")
    events.append(
        event(
            ClockPaused,
            "k6",
            at(date(2026, 3, 4), 11),
            pause_id="h",
            procedure=ProcedureKind.HEARING,
            reason="听证",
        )
    )
    await _one(c, "k6", events, at(date(2026, 3, 4), 12))
    now = at(date(2026, 4, 20), 10)
    expected, _ = project("k6", events, TERMS, now)
    await c.reconciler.reconcile(now)
    row = (await c.supervised())["k6"]
    assert expected.promised_due is not None
    assert as_date(row["due"]) == expected.promised_due.due
    assert row["remaining_days"] == expected.remaining_working_days
    assert row["light"] == expected.light.value == "green"


async def test_finished_cases_leave_supervision(c: County) -> None:
    events = accepted_case("k7", date(2026, 3, 2), "I0")
    await _one(c, "k7", events, at(date(2026, 3, 2), 12))
    first = await c.reconciler.reconcile(at(date(2026, 3, 3), 10))
    assert first.open_cases == 1
    events.append(event(Decided, "k7", at(date(2026, 3, 4), 11), outcome=Outcome.APPROVE))
    await _one(c, "k7", events, at(date(2026, 3, 4), 12))
    report = await c.reconciler.reconcile(at(date(2026, 3, 20), 10))
    assert report.open_cases == 0
    assert await c.actions() == []


def _urge(case_id: str, day: date, due: date, urge_id: str = "u1") -> CaseEvent:
    result: CaseEvent = event(
        Urged,
        case_id,
        at(day, 15),
        node="county",
        urge_id=urge_id,
        level=UrgeLevel.FORMAL,
        content="请说明超期原因",
        feedback_due=due,
        by_unit="县电子监察室",
    )
    return result


async def test_unanswered_urge_escalates_to_the_parent_after_its_feedback_day(c: County) -> None:
    await run(
        c.engine,
        "INSERT INTO node_entry (node_id, name, tier, parent, short_code, public_key, status, "
        "status_reason, created_at) VALUES ('zhen-a', '甲镇', 'township', 'county', 'JZ', '', "
        "'active', '', {})",
        [datetime(2026, 1, 1, tzinfo=UTC)],
    )
    events = accepted_case("k8", date(2026, 3, 2), "I0")
    events.append(_urge("k8", date(2026, 3, 3), date(2026, 3, 5)))
    await _one(c, "k8", events, at(date(2026, 3, 3), 16))
    on_due_day = await c.reconciler.reconcile(at(date(2026, 3, 5), 23, 59))
    assert on_due_day.escalations == 0
    after = await c.reconciler.reconcile(at(date(2026, 3, 6), 8))
    assert after.escalations == 1
    assert ("k8", "escalation", "u1", "county") in await c.actions()
    assert (await c.reconciler.reconcile(at(date(2026, 3, 6), 9))).escalations == 0


async def test_answered_urge_is_not_escalated(c: County) -> None:
    events = accepted_case("k9", date(2026, 3, 2), "I0")
    events.append(_urge("k9", date(2026, 3, 3), date(2026, 3, 5)))
    await _one(c, "k9", events, at(date(2026, 3, 3), 16))
    await c.reconciler.reconcile(at(date(2026, 3, 4), 8))
    events.append(event(UrgeAnswered, "k9", at(date(2026, 3, 4), 11), urge_id="u1", answer="已办"))
    await _one(c, "k9", events, at(date(2026, 3, 4), 12))
    report = await c.reconciler.reconcile(at(date(2026, 3, 9), 8))
    assert report.escalations == 0
    urges = await c.rows("SELECT urge_id, open FROM supervision_urge")
    assert [(u["urge_id"], bool(u["open"])) for u in urges] == [("u1", False)]


async def test_escalation_without_a_registered_parent_goes_to_the_county(c: County) -> None:
    events = accepted_case("k10", date(2026, 3, 2), "I0")
    events.append(_urge("k10", date(2026, 3, 3), date(2026, 3, 4)))
    await _one(c, "k10", events, at(date(2026, 3, 3), 16))
    await c.reconciler.reconcile(at(date(2026, 3, 5), 8))
    assert ("k10", "escalation", "u1", "county") in await c.actions()


async def test_calendar_table_is_refilled_only_when_the_calendar_changes(c: County) -> None:
    assert await c.reconciler.sync_calendar(date(2026, 3, 2)) is True
    assert await c.reconciler.sync_calendar(date(2026, 3, 2)) is False
    days = await c.rows(
        "SELECT day, is_working, wd FROM supervision_day ORDER BY day",
    )
    by_day = {as_date(d["day"]): d for d in days}
    assert bool(by_day[date(2026, 2, 14)]["is_working"]) is True  # make-up Saturday
    assert bool(by_day[date(2026, 2, 17)]["is_working"]) is False  # Spring Festival
    a, b = date(2026, 1, 20), date(2026, 3, 20)
    counted = by_day[b]["wd"] - by_day[a]["wd"]
    assert counted == CAL.working_days_between(a, b).days
    # a new year in force (here: the span moves) refills the table
    assert await c.reconciler.sync_calendar(date(2031, 1, 1)) is True


async def test_rules_are_validated(c: County) -> None:
    with pytest.raises(InvalidError):
        await c.rules.set("no_such_rule", 1, by="admin")
    with pytest.raises(InvalidError):
        await c.rules.set("red_card_after", 1, by="admin", item_code="I0")
    with pytest.raises(ValidationError):
        await c.rules.set("warning_days", -1, by="admin")
    await c.rules.set("yellow_card_after", 3, by="admin")
    with pytest.raises(ValidationError):
        await c.rules.set("red_card_after", 2, by="admin")
    await c.rules.set("warning_days", 2, by="admin", item_code="I0")
    current = await c.rules.rules()
    assert current["yellow_card_after"] == 3
    assert current.item_warning_days == {"I0": 2}
    await c.rules.reset("warning_days", item_code="I0")
    assert (await c.rules.rules()).item_warning_days == {}
    described = {r["name"]: r for r in await c.rules.describe()}
    assert described["red_card_after"]["value"] == 5
