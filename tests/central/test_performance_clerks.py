"""Per-clerk performance (受理人, 决定人) against hand-computed fixtures, on SQLite and PostgreSQL.

Terms: promised 5, statutory 20 working days; March 2026 has no holidays. Each case is stored
as projection stores it: the folded row and the CRDT document with its events.

=====  ============  =====================  ==================  =============================
case   handled at    accepted by            decided by          notes
=====  ============  =====================  ==================  =============================
A      zhen-a        wang@zhen-a 03-02      li@zhen-a 03-04     early; rated 5 on 03-05
B      zhen-a        wang@zhen-a 03-02      zhao@zhen-a 03-09   on time
C      zhen-b        wang@zhen-b 03-02      li@zhen-b 03-11     late by 2; rated 1 on 03-12
D      zhen-a        chen@zhen-a 03-16      open                overdue 6 on 03-31
E      zhen-a        wang@she-x 03-02       li@zhen-a 03-06     forwarded from she-x; early
G      zhen-a        sun@zhen-a 03-23       open                zhou's later acceptance lost
H      zhen-b        system@zhen-b 03-02    open                视为受理 (recorded 03-10)
=====  ============  =====================  ==================  =============================

``wang`` at zhen-a, at zhen-b and at she-x are three different accounts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from central.commands import opened
from central.db.bulk_sql import insert_sql
from central.db.reconcile_sql import run
from central.db.sync_rows import ROW, row_values
from central.services.performance import GroupBy, PerformanceService
from central.services.performance_actors import Actors, actors_of, refresh_actors
from central.settings import CentralSettings
from shared.event_parts import Outcome, RatingChannel, Satisfaction
from shared.events import (
    SYSTEM_ACTOR,
    Accepted,
    CaseEvent,
    Decided,
    DeemedAccepted,
    Forwarded,
    ForwardMode,
    Rated,
)
from shared.fold import fold_case
from sync.casedoc import CaseDoc
from tests.central.test_dashboard import (
    Client,
    client,
    county,
    csv_rows,
    login,
    one_hash_per_password,
    settings,
    xlsx_rows,
)
from tests.central.test_performance import MARCH, TERMS, TODAY, service
from tests.central.test_reconcile_support import CAL, County, at, event, received, row_of
from tests.central.test_reconcile_support import county as open_county

pytestmark = pytest.mark.anyio


def acted(actor: str, e: CaseEvent) -> CaseEvent:
    return msgspec.structs.replace(e, actor=actor)


def recv(case_id: str, node: str, day: date) -> CaseEvent:
    return msgspec.structs.replace(received(case_id, at(day, 9), "I0"), node_id=node)


def acc(case_id: str, node: str, actor: str, day: date, *, receipt: str = "", hh: int = 10) -> Any:
    made = event(Accepted, case_id, at(day, hh), node=node, receipt_no=receipt or f"R-{case_id}")
    return acted(actor, made)


def dec(case_id: str, node: str, actor: str, day: date, hh: int = 15) -> CaseEvent:
    made = event(Decided, case_id, at(day, hh), node=node, outcome=Outcome.APPROVE, reason="")
    return acted(actor, made)


def rated(case_id: str, node: str, day: date, level: Satisfaction) -> CaseEvent:
    return event(  # type: ignore[no-any-return]
        Rated, case_id, at(day, 16), node=node, level=level, channel=RatingChannel.HALL_TABLET
    )


D2, D3 = date(2026, 3, 2), date(2026, 3, 3)
FIXTURE: dict[str, list[CaseEvent]] = {
    "A": [
        recv("A", "zhen-a", D2), acc("A", "zhen-a", "wang", D2),
        dec("A", "zhen-a", "li", date(2026, 3, 4)),
        rated("A", "zhen-a", date(2026, 3, 5), Satisfaction.VERY_SATISFIED),
    ],
    "B": [
        recv("B", "zhen-a", D2), acc("B", "zhen-a", "wang", D2),
        dec("B", "zhen-a", "zhao", date(2026, 3, 9)),
    ],
    "C": [
        recv("C", "zhen-b", D2), acc("C", "zhen-b", "wang", D2),
        dec("C", "zhen-b", "li", date(2026, 3, 11)),
        rated("C", "zhen-b", date(2026, 3, 12), Satisfaction.VERY_DISSATISFIED),
    ],
    "D": [recv("D", "zhen-a", date(2026, 3, 16)), acc("D", "zhen-a", "chen", date(2026, 3, 16))],
    "E": [
        recv("E", "she-x", D2), acc("E", "she-x", "wang", D2),
        acted("wang", event(
            Forwarded, "E", at(D3), node="she-x", to_node="zhen-a", to_tier="township",
            mode=ForwardMode.FORWARD, reason="转办",
        )),
        dec("E", "zhen-a", "li", date(2026, 3, 6)),
    ],
    "G": [
        recv("G", "zhen-a", date(2026, 3, 23)),
        acc("G", "zhen-a", "sun", date(2026, 3, 23), receipt="R-G1", hh=10),
        acc("G", "zhen-a", "zhou", date(2026, 3, 23), receipt="R-G2", hh=11),
    ],
    "H": [
        recv("H", "zhen-b", D2),
        acted(SYSTEM_ACTOR, event(DeemedAccepted, "H", at(date(2026, 3, 10)), node="zhen-b",
                                  as_of=D2)),
    ],
}  # fmt: skip


async def put_case(engine: Any, case_id: str, events: Sequence[CaseEvent], now: datetime) -> None:
    """Store a case as projection does: its folded row and its CRDT document."""
    state = fold_case(events, terms=TERMS, calendar=CAL, now=now)
    doc = CaseDoc.load(None)
    doc.append(list(events))
    for table in ("case_row", "case_state"):
        await run(engine, f"DELETE FROM {table} WHERE case_id = {{}}", [case_id])
    await run(engine, insert_sql("case_row", ROW, 1), list(row_values(row_of(case_id, state))))
    await run(engine, insert_sql("case_state", ("case_id", "state"), 1), [case_id, doc.state()])


__all__ = ["client", "county", "one_hash_per_password", "settings"]  # fixtures used here


@pytest.fixture
async def c(tmp_path: Path, central_database_url: str | None) -> Any:
    async with open_county(tmp_path, central_database_url) as opened:
        yield opened


async def loaded(c: County) -> PerformanceService:
    for case_id, events in FIXTURE.items():
        await put_case(c.engine, case_id, events, at(TODAY, 18))
    perf = service(c)
    await perf.refresh(TODAY)
    return perf


async def test_the_acting_events_are_the_ones_the_fold_applied(c: County) -> None:
    await loaded(c)
    rows = await c.rows(
        "SELECT case_id, accepted_node, accepted_by, decided_node, decided_by FROM perf_actor"
    )
    found = {r["case_id"]: tuple(list(r.values())[1:]) for r in rows}
    assert found == {
        "A": ("zhen-a", "wang", "zhen-a", "li"),
        "B": ("zhen-a", "wang", "zhen-a", "zhao"),
        "C": ("zhen-b", "wang", "zhen-b", "li"),
        "D": ("zhen-a", "chen", None, None),
        "E": ("she-x", "wang", "zhen-a", "li"),
        "G": ("zhen-a", "sun", None, None),  # the first acceptance in fold order wins
        "H": ("zhen-b", SYSTEM_ACTOR, None, None),
    }


async def test_indicators_per_accepting_clerk(c: County) -> None:
    perf = await loaded(c)
    rows = {r.key: r for r in await perf.table(MARCH, GroupBy.ACCEPTOR, None, TODAY)}
    assert set(rows) == {
        "zhen-a/wang",
        "zhen-b/wang",
        "she-x/wang",
        "zhen-a/chen",
        "zhen-a/sun",
        f"zhen-b/{SYSTEM_ACTOR}",
    }
    assert rows["zhen-a/wang"].name == "wang（zhen-a）"
    assert rows[f"zhen-b/{SYSTEM_ACTOR}"].name == "系统自动（zhen-b）"
    a_wang = rows["zhen-a/wang"].current
    assert (a_wang.accepted, a_wang.finished, a_wang.on_time, a_wang.early) == (2, 2, 2, 1)
    assert (a_wang.used_wd, a_wang.average_days) == (2 + 5, 3.5)
    assert a_wang.ratings[5] == 1 and a_wang.rating_count == 1
    b_wang = rows["zhen-b/wang"].current
    assert (b_wang.finished, b_wang.late, b_wang.late_days, b_wang.bad_ratings) == (1, 1, 2, 1)
    assert rows["she-x/wang"].current.early == 1
    assert (rows["zhen-a/chen"].current.open_overdue_days, rows["zhen-a/sun"].current.overdue) == (
        6,
        1,
    )
    assert rows[f"zhen-b/{SYSTEM_ACTOR}"].current.open_overdue_days == 16
    # the groups add up to the whole county
    whole = (await perf.table(MARCH, GroupBy.TOTAL, None, TODAY))[0].current
    assert whole.accepted == sum(r.current.accepted for r in rows.values()) == 7


async def test_indicators_per_deciding_clerk_and_ranking(c: County) -> None:
    perf = await loaded(c)
    rows = {r.key: r for r in await perf.table(MARCH, GroupBy.DECIDER, None, TODAY)}
    assert set(rows) == {"zhen-a/li", "zhen-a/zhao", "zhen-b/li", ""}
    li = rows["zhen-a/li"].current
    assert (li.finished, li.early, li.used_wd, li.average_days, li.ratings[5]) == (2, 2, 6, 3.0, 1)
    assert rows["zhen-b/li"].current.late == 1
    pending = rows[""]
    assert pending.name == "尚未作出决定"
    assert (pending.current.accepted, pending.current.finished) == (3, 0)
    assert pending.current.open_overdue == 3
    ranked = await perf.ranking(MARCH, GroupBy.DECIDER, "on_time_rate", None, TODAY)
    assert [r.key for r in ranked] == ["zhen-a/li", "zhen-a/zhao", "zhen-b/li", ""]


async def test_a_township_supervisor_sees_the_clerks_of_its_cases_only(c: County) -> None:
    perf = await loaded(c)
    rows = await perf.table(MARCH, GroupBy.ACCEPTOR, frozenset({"zhen-a"}), TODAY)
    # E was accepted at she-x but is handled at zhen-a
    assert {r.key for r in rows} == {"zhen-a/wang", "she-x/wang", "zhen-a/chen", "zhen-a/sun"}


async def test_only_changed_cases_are_read_again(c: County) -> None:
    await loaded(c)
    assert await refresh_actors(c.engine) == 0
    changed = [*FIXTURE["D"], dec("D", "zhen-a", "qian", date(2026, 3, 31), hh=11)]
    await put_case(c.engine, "D", changed, at(TODAY, 18))
    assert await refresh_actors(c.engine, batch=2) == 1
    rows = await c.rows("SELECT decided_by FROM perf_actor WHERE case_id = 'D'")
    assert rows == [{"decided_by": "qian"}]
    assert await refresh_actors(c.engine) == 0


def test_an_unauthorised_decision_kept_as_evidence_is_not_the_deciders() -> None:
    day = date(2026, 3, 4)
    rogue = dec("U", "she-x", "rogue", day)
    lawful = dec("U", "zhen-a", "li", day)
    events = [recv("U", "zhen-a", D2), acc("U", "zhen-a", "wang", D2), rogue, lawful]
    kept = [e for e in events if e is not rogue]
    state = fold_case(kept, terms=TERMS, calendar=CAL, now=at(TODAY))
    assert actors_of(events, state, frozenset({rogue.id})) == Actors(
        accepted_node="zhen-a", accepted_by="wang", decided_node="zhen-a", decided_by="li"
    )


@pytest.fixture
def clerk_case(settings: CentralSettings, county: str) -> None:
    """A case of the dashboard's county: accepted by wang at 示范镇 on 03-02, decided 03-04."""
    events = [
        recv("K", "zhen-shifan", D2),
        acc("K", "zhen-shifan", "wang", D2),
        dec("K", "zhen-shifan", "li", date(2026, 3, 4)),
    ]

    async def build() -> None:
        async with opened(settings) as central:
            engine = central.replica.store._engine  # type: ignore[attr-defined]
            await put_case(engine, "K", events, at(D2))

    asyncio.run(build())


def test_the_page_offers_clerk_groups_and_exports_them(client: Client, clerk_case: None) -> None:
    login(client, "supervisor")
    query = "grain=month&day=2026-03-02&group=acceptor"
    page = client.get(f"/supervision/performance?{query}")
    assert page.status_code == 200
    assert '<option value="acceptor" selected>按受理人</option>' in page.text
    assert '<option value="decider">按决定人</option>' in page.text
    assert "wang（示范镇）" in page.text
    exported = csv_rows(client.get(f"/supervision/export/performance.csv?{query}").content)
    by_group = {r[0]: r for r in exported[1:]}
    assert by_group["wang（示范镇）"][1:3] == ["1", "1"]
    decided = client.get("/supervision/export/performance.xlsx?day=2026-03-02&group=decider")
    assert decided.status_code == 200
    rows = {r[0]: r for r in xlsx_rows(decided.content)[1:]}
    assert rows["li（示范镇）"][2] == 1
