"""平均办理时长 without the days of 特别程序, on SQLite and PostgreSQL.

Hand-computed fixture (promised 5, statutory 20 working days; March 2026 has no holidays):

====  ==========  ===================================  ==========  ====  ======  ========
case  accepted    pauses (both ends excluded)          decided     wd    paused  used
====  ==========  ===================================  ==========  ====  ======  ========
P1    Mon 03-02   Wed 03-04 … Mon 03-09 (4 wd)         Thu 03-12   8     4       4
P2    Mon 03-02   Tue 03-03 … Wed 03-04, Wed 03-04 …   Tue 03-10   6     3       3
                  Thu 03-05 (they share 03-04)
P3    Mon 03-02   from Thu 03-05, decided during it    Mon 03-09   5     3       2
P4    Mon 03-02   none                                 Fri 03-06   4     0       4
====  ==========  ===================================  ==========  ====  ======  ========

Average 13 / 4 = 3.25 working days (23 / 4 if pauses were counted). P1's promised due day moves
past its pause to Fri 03-13, so its promise is still 5 working days and it finished early.

The property test folds random timelines with pauses and extensions and checks every finished
case's counts against :meth:`shared.calendar.WorkingCalendar.working_days_between` with the
case's pauses.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.db.reconcile_sql import run
from central.services.performance import PerformanceService
from shared.case_state import CaseState
from shared.event_parts import Outcome
from shared.events import CaseEvent, ClockPaused, ClockResumed, Decided
from shared.terms import CaseTerms, ProcedureKind
from tests.central.test_performance import MARCH, TERMS, TODAY, service, total
from tests.central.test_reconcile import timelines
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

D2 = date(2026, 3, 2)


def paused(case_id: str, day: date, pause_id: str, hh: int = 11) -> CaseEvent:
    made: CaseEvent = event(
        ClockPaused,
        case_id,
        at(day, hh),
        pause_id=pause_id,
        procedure=ProcedureKind.TESTING,
        reason="检验检测",
    )
    return made


def resumed(case_id: str, day: date, pause_id: str, hh: int = 11) -> CaseEvent:
    made: CaseEvent = event(ClockResumed, case_id, at(day, hh), pause_id=pause_id, result="合格")
    return made


def decided(case_id: str, day: date) -> CaseEvent:
    made: CaseEvent = event(Decided, case_id, at(day, 15), outcome=Outcome.APPROVE, reason="")
    return made


FIXTURE: dict[str, list[CaseEvent]] = {
    "P1": [
        *accepted_case("P1", D2, "I0"),
        paused("P1", date(2026, 3, 4), "a"), resumed("P1", date(2026, 3, 9), "a"),
        decided("P1", date(2026, 3, 12)),
    ],
    "P2": [
        *accepted_case("P2", D2, "I0"),
        paused("P2", date(2026, 3, 3), "a"), resumed("P2", date(2026, 3, 4), "a", hh=11),
        paused("P2", date(2026, 3, 4), "b", hh=12), resumed("P2", date(2026, 3, 5), "b"),
        decided("P2", date(2026, 3, 10)),
    ],
    "P3": [
        *accepted_case("P3", D2, "I0"),
        paused("P3", date(2026, 3, 5), "a"),
        decided("P3", date(2026, 3, 9)),
    ],
    "P4": [*accepted_case("P4", D2, "I0"), decided("P4", date(2026, 3, 6))],
}  # fmt: skip


@pytest.fixture
async def c(tmp_path: Path, central_database_url: str | None) -> Any:
    async with county(tmp_path, central_database_url) as opened:
        yield opened


async def loaded(c: County) -> PerformanceService:
    await c.put_rows([project(k, events, TERMS, at(TODAY, 18))[1] for k, events in FIXTURE.items()])
    perf = service(c)
    await perf.refresh(TODAY)
    return perf


async def test_paused_working_days_are_not_handling_time(c: County) -> None:
    perf = await loaded(c)
    rows = await c.rows("SELECT case_id, used_wd, promised_wd, statutory_wd FROM perf_case")
    found = {r["case_id"]: (r["used_wd"], r["promised_wd"], r["statutory_wd"]) for r in rows}
    assert found == {
        "P1": (4, 5, 20),
        "P2": (3, 5, 20),
        "P3": (2, 5, 20),
        "P4": (4, 5, 20),
    }
    t = total(await perf.counts(MARCH, None, TODAY))
    assert (t.measured, t.used_wd) == (4, 13)
    assert t.average_days == pytest.approx(3.25)
    assert t.speedup == pytest.approx(1 - 13 / 80)
    assert t.promise_compression == pytest.approx(0.75)
    # all early: P1 by a working day before its due day, which the pause had moved to 03-13
    assert (t.on_time, t.early, t.late) == (4, 4, 0)


async def test_a_case_still_paused_is_not_measured_yet(c: County) -> None:
    events = [*accepted_case("P5", D2, "I0"), paused("P5", date(2026, 3, 3), "a")]
    await c.put_rows([project("P5", events, TERMS, at(TODAY, 18))[1]])
    perf = service(c)
    await perf.refresh(TODAY)
    t = total(await perf.counts(MARCH, None, TODAY))
    assert (t.accepted, t.measured, t.overdue) == (1, 0, 0)


# ------------------------------------------------------------ against the calendar, at random


@st.composite
def finished_cases(draw: st.DrawFn) -> list[tuple[str, list[CaseEvent], CaseTerms]]:
    """Random timelines, each decided a few days after its last event if it was not yet."""
    cases = []
    for index in range(draw(st.integers(1, 6))):
        case_id, events, terms, last_day = draw(timelines(index))
        if not any(isinstance(e, Decided) for e in events):
            when = last_day + timedelta(days=draw(st.integers(0, 12)))
            events.append(event(Decided, case_id, at(when, 16), outcome=Outcome.APPROVE))
        cases.append((case_id, events, terms))
    return cases


async def _compare(tmp_path: Path, url: str | None, cases: Any) -> None:
    async with county(tmp_path, url) as c:
        for table in ("case_row", "perf_case"):
            await run(c.engine, f"DELETE FROM {table}")
        states = {}
        for case_id, events, terms in cases:
            state, case_row = project(case_id, events, terms, at(date(2027, 3, 1)))
            states[case_id] = state
            await c.put_rows([case_row])
        await service(c).refresh(date(2027, 3, 1))
        rows = await c.rows("SELECT * FROM perf_case")
        got = {r["case_id"]: r for r in rows}
        for case_id, state in states.items():
            if state.accepted_on is None or not state.finished:
                continue
            assert state.finished_on is not None
            row = got[case_id]
            assert row["used_wd"] == _counted(state, state.finished_on), case_id
            assert as_date(row["finished_on"]) == state.finished_on
            if state.promised_due is not None:
                assert row["promised_wd"] == _counted(state, state.promised_due.due), case_id
            if state.statutory_due is not None:
                assert row["statutory_wd"] == _counted(state, state.statutory_due.due), case_id


def _counted(state: CaseState, end: date) -> int:
    """Working days after acceptance up to ``end`` outside the case's pauses."""
    assert state.accepted_on is not None
    pauses = [(p.first, p.last or p.first) for p in state.pauses]
    return CAL.working_days_between(state.accepted_on, end, pauses=pauses).days


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cases=finished_cases())
def test_sql_handling_days_equal_the_calendar_on_sqlite(tmp_path: Path, cases: Any) -> None:
    asyncio.run(_compare(tmp_path, None, cases))


@pytest.mark.postgres
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cases=finished_cases())
def test_sql_handling_days_equal_the_calendar_on_postgresql(
    tmp_path: Path, cases: Any, postgres_database: str
) -> None:
    asyncio.run(_compare(tmp_path, postgres_database, cases))
