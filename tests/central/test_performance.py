"""Performance indicators against hand-computed fixtures, on SQLite and PostgreSQL.

The fixture (terms: promised 5, statutory 20 working days; March 2026 has no holidays):

=====  =======  ==========  ===========  ==========  ==============================
case   node     accepted    promised     finished    notes
=====  =======  ==========  ===========  ==========  ==============================
A      zhen-a   Mon 03-02   Mon 03-09    Wed 03-04   early (3 wd before), used 2 wd
B      zhen-a   Mon 03-02   Mon 03-09    Mon 03-09   on time, used 5
C      zhen-b   Mon 03-02   Mon 03-09    Wed 03-11   late by 2 wd, used 7
D      zhen-b   Mon 03-16   Mon 03-23    open        overdue 6 wd on Tue 03-31
E      zhen-a   Mon 03-30   later        open        not overdue
F      zhen-a   Mon 02-02   Mon 02-09    Tue 02-03   previous month (环比): early
G      zhen-b   Mon 2025-03-03           Wed 03-12   a year before (同比): late
=====  =======  ==========  ===========  ==========  ==============================

Ratings: A 5 (03-05), B 3 (03-10), C 1 (03-12; due 15 wd later = 04-02; rectified 03-20,
called back 03-23). Complaint on D filed 03-20, answer due 03-27, still open on 03-31.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from central.db.reconcile_sql import run
from central.services.performance import (
    Grain,
    GroupBy,
    Indicators,
    PerformanceService,
    Period,
)
from shared.errors import InvalidError, NotFoundError, ValidationError
from shared.event_parts import Outcome, RatingChannel, Satisfaction
from shared.events import CaseEvent, ComplaintFiled, Decided, Rated
from shared.terms import CaseTerms, ProjectType
from tests.central.test_reconcile_support import (
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
TODAY = date(2026, 3, 31)
MARCH = Period.containing(Grain.MONTH, TODAY)


def _case(
    case_id: str, node: str, accepted: date, finished: date | None, *extra: CaseEvent
) -> list[CaseEvent]:
    events = [
        type(e)(**{**{f: getattr(e, f) for f in e.__struct_fields__}, "node_id": node})
        for e in accepted_case(case_id, accepted, "I0")
    ]
    if finished is not None:
        events.append(
            event(Decided, case_id, at(finished, 15), node=node, outcome=Outcome.APPROVE, reason="")
        )
    return [*events, *extra]


def _rated(case_id: str, node: str, on: date, level: Satisfaction) -> CaseEvent:
    return event(  # type: ignore[no-any-return]
        Rated, case_id, at(on, 16), node=node, level=level, channel=RatingChannel.HALL_TABLET
    )


FIXTURE: dict[str, list[CaseEvent]] = {
    "A": _case(
        "A", "zhen-a", date(2026, 3, 2), date(2026, 3, 4),
        _rated("A", "zhen-a", date(2026, 3, 5), Satisfaction.VERY_SATISFIED),
    ),
    "B": _case(
        "B", "zhen-a", date(2026, 3, 2), date(2026, 3, 9),
        _rated("B", "zhen-a", date(2026, 3, 10), Satisfaction.BASICALLY_SATISFIED),
    ),
    "C": _case(
        "C", "zhen-b", date(2026, 3, 2), date(2026, 3, 11),
        _rated("C", "zhen-b", date(2026, 3, 12), Satisfaction.VERY_DISSATISFIED),
    ),
    "D": _case(
        "D", "zhen-b", date(2026, 3, 16), None,
        event(
            ComplaintFiled, "D", at(date(2026, 3, 20)), node="zhen-b",
            complaint_id="K1", content="迟迟未办", channel="12345热线",
            answer_due=date(2026, 3, 27),
        ),
    ),
    "E": _case("E", "zhen-a", date(2026, 3, 30), None),
    "F": _case("F", "zhen-a", date(2026, 2, 2), date(2026, 2, 3)),
    "G": _case("G", "zhen-b", date(2025, 3, 3), date(2025, 3, 12)),
}  # fmt: skip


@pytest.fixture
async def c(tmp_path: Path, central_database_url: str | None) -> Any:
    async with county(tmp_path, central_database_url) as opened:
        yield opened


def service(c: County) -> PerformanceService:
    return PerformanceService(c.engine, c.releases, lambda: datetime(2026, 3, 31, 4, tzinfo=UTC))


async def loaded(c: County) -> PerformanceService:
    rows = [project(k, events, TERMS, at(TODAY, 18))[1] for k, events in FIXTURE.items()]
    await c.put_rows(rows)
    perf = service(c)
    await perf.refresh(TODAY)
    return perf


def total(found: dict[Any, Indicators]) -> Indicators:
    out = Indicators()
    for ind in found.values():
        out.add(ind)
    return out


async def test_case_indicators_of_the_month_equal_the_hand_computed_figures(c: County) -> None:
    perf = await loaded(c)
    t = total(await perf.counts(MARCH, None, TODAY))
    assert (t.accepted, t.accepted_finished, t.finished) == (5, 3, 3)
    assert t.finish_rate == pytest.approx(3 / 5)
    assert (t.timed, t.on_time, t.early, t.late) == (3, 2, 1, 1)
    assert t.on_time_rate == pytest.approx(2 / 3)
    assert t.early_rate == pytest.approx(1 / 3)
    assert (t.late_days, t.open_overdue, t.open_overdue_days) == (2, 1, 6)
    assert (t.overdue, t.overdue_days) == (2, 8)
    assert t.illegal == 0
    assert (t.measured, t.used_wd, t.promised_wd, t.statutory_wd) == (3, 14, 15, 60)
    assert t.average_days == pytest.approx(14 / 3)
    assert t.speedup == pytest.approx(1 - 14 / 60)
    assert t.used_vs_promised == pytest.approx(14 / 15)
    assert t.promise_compression == pytest.approx(0.75)


async def test_ratings_rectification_and_complaints(c: County) -> None:
    perf = await loaded(c)
    t = total(await perf.counts(MARCH, None, TODAY))
    assert t.ratings == {1: 1, 2: 0, 3: 1, 4: 0, 5: 1}
    assert t.good_rate == pytest.approx(1 / 3)
    assert t.bad_rate == pytest.approx(1 / 3)
    assert t.satisfaction_rate == pytest.approx(2 / 3)
    assert (t.rectified, t.called_back, t.rectify_rate) == (0, 0, 0.0)
    bad = await perf.bad_ratings(None)
    assert len(bad) == 1 and as_date(bad[0]["rectify_due"]) == date(2026, 4, 2)
    await perf.record_followup(
        bad[0]["event_id"],
        visible=None,
        rectified_on=date(2026, 3, 20),
        rectify_note="已重新培训窗口人员",
        called_back_on=date(2026, 3, 23),
        callback_note="申请人表示认可",
        by="supervisor",
    )
    t = total(await perf.counts(MARCH, None, TODAY))
    assert (t.rectified, t.rectified_in_time, t.called_back) == (1, 1, 1)
    assert (t.rectify_rate, t.rectify_in_time_rate, t.callback_rate) == (1.0, 1.0, 1.0)
    assert (t.complaints, t.complaints_answered, t.complaints_overdue) == (1, 0, 1)
    assert t.complaint_in_time_rate == 0.0


async def test_followup_refuses_future_dates_and_other_subtrees(c: County) -> None:
    perf = await loaded(c)
    bad = (await perf.bad_ratings(None))[0]["event_id"]
    with pytest.raises(ValidationError):
        await perf.record_followup(
            bad, visible=None, rectified_on=date(2026, 4, 9), rectify_note="",
            called_back_on=None, callback_note="", by="s",
        )  # fmt: skip
    with pytest.raises(NotFoundError):
        await perf.record_followup(
            bad, visible=frozenset({"zhen-a"}), rectified_on=None, rectify_note="",
            called_back_on=None, callback_note="", by="s",
        )  # fmt: skip
    assert await perf.bad_ratings(frozenset({"zhen-a"})) == []


async def test_answered_complaint_is_dated_by_the_refresh_that_sees_it_closed(c: County) -> None:
    perf = await loaded(c)
    from shared.events import ComplaintAnswered

    events = [
        *FIXTURE["D"],
        event(
            ComplaintAnswered, "D", at(date(2026, 3, 26)), node="zhen-b",
            complaint_id="K1", answer="已办理",
        ),
    ]  # fmt: skip
    await c.put_rows([project("D", events, TERMS, at(TODAY, 18))[1]])
    await perf.refresh(date(2026, 3, 27))
    t = total(await perf.counts(MARCH, None, TODAY))
    assert (t.complaints, t.complaints_answered, t.complaints_in_time) == (1, 1, 1)


async def test_groups_rankings_and_period_comparisons(c: County) -> None:
    perf = await loaded(c)
    rows = {r.key: r for r in await perf.table(MARCH, GroupBy.NODE, None, TODAY)}
    a, b = rows["zhen-a"], rows["zhen-b"]
    assert a.current.accepted == 3
    assert a.current.finish_rate == pytest.approx(2 / 3)
    assert (a.current.on_time_rate, a.current.early_rate) == (1.0, 0.5)
    assert (b.current.on_time_rate, b.current.overdue, b.current.overdue_days) == (0.0, 2, 8)
    # 环比: February had F only (early); 同比: March 2025 had G only (late)
    assert (a.previous.finished, a.previous.early) == (1, 1)
    assert a.change("on_time_rate", "previous") == pytest.approx(0.0)
    assert b.year_before.late == 1 and b.year_before.on_time_rate == 0.0
    whole = (await perf.table(MARCH, GroupBy.TOTAL, None, TODAY))[0]
    assert whole.change("on_time_rate", "previous") == pytest.approx(2 / 3 - 1)
    assert whole.change("on_time_rate", "year_before") == pytest.approx(2 / 3)
    ranked = await perf.ranking(MARCH, GroupBy.NODE, "on_time_rate", None, TODAY)
    assert [r.key for r in ranked] == ["zhen-a", "zhen-b"]
    by_overdue = await perf.ranking(MARCH, GroupBy.NODE, "overdue", None, TODAY)
    assert [r.key for r in by_overdue] == ["zhen-a", "zhen-b"]
    with pytest.raises(InvalidError):
        await perf.ranking(MARCH, GroupBy.NODE, "nonsense", None, TODAY)


async def test_subtree_sees_only_its_nodes(c: County) -> None:
    perf = await loaded(c)
    t = total(await perf.counts(MARCH, frozenset({"zhen-a"}), TODAY))
    assert (t.accepted, t.finished, t.overdue) == (3, 2, 0)
    assert total(await perf.counts(MARCH, frozenset(), TODAY)).accepted == 0


async def test_day_week_and_month_periods_and_trend(c: County) -> None:
    perf = await loaded(c)
    week = Period.containing(Grain.WEEK, date(2026, 3, 11))
    assert (week.first, week.last) == (date(2026, 3, 9), date(2026, 3, 15))
    assert week.previous().first == date(2026, 3, 2)
    assert week.year_before().first == date(2025, 3, 10)
    t = total(await perf.counts(week, None, TODAY))
    assert (t.accepted, t.finished, t.on_time, t.late) == (0, 2, 1, 1)
    day = Period.containing(Grain.DAY, date(2026, 3, 2))
    assert total(await perf.counts(day, None, TODAY)).accepted == 3
    assert Period.containing(Grain.MONTH, date(2024, 2, 29)).year_before().first == date(2023, 2, 1)
    weekly = await perf.trend(date(2026, 3, 2), date(2026, 3, 31), Grain.WEEK, None)
    assert [(p.accepted, p.finished) for p in weekly] == [(3, 1), (0, 2), (1, 0), (0, 0), (1, 0)]
    monthly = await perf.trend(date(2026, 2, 1), date(2026, 3, 31), Grain.MONTH, None)
    assert [(p.accepted, p.finished) for p in monthly] == [(1, 1), (5, 3)]
    assert monthly[1].on_time_rate == pytest.approx(2 / 3)


async def test_refresh_is_repeatable(c: County) -> None:
    perf = await loaded(c)
    await perf.refresh(TODAY)
    counted = await run(c.engine, "SELECT COUNT(*) AS n FROM perf_rating")
    assert int(counted[0]["n"]) == 3
    assert total(await perf.counts(MARCH, None, TODAY)).accepted == 5
