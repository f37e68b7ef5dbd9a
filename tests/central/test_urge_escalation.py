"""An unanswered urge escalates one level up as a signed 督办 that reaches the handling clerk.

The in-process tree (tests/sync/tree.py) runs county → 示范镇 → 东村社区 with the real sync
server code; the county replica stores into a real county database (SQLite and PostgreSQL), on
which the reconciliation and the urge service run. One clock drives every tier.

A case handled at the community is urged by the county on Mon 03-02 (feedback by Thu 03-05):

* Fri 03-06: unanswered, so it escalates to the community's parent, 示范镇: a 督办 in its name,
  feedback by Wed 03-11 (three working days), which the community's clerk then sees;
* Thu 03-12: the escalation is unanswered too and climbs to the county;
* Wed 03-18: the county's own escalation goes unanswered; there is no level above, so the
  reconciliation records it and signs nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from central.db.engine import close_database, make_engine, open_database
from central.db.reconcile_sql import run
from central.db.sync_store import PiccoloSyncStore
from central.services.reconcile import Reconciler
from central.services.supervision_rules import RuleService
from central.services.urges import (
    URGE_NAMESPACE,
    UrgeForm,
    UrgeService,
    escalation_key,
)
from node.services.reminders import reminder_conditions
from shared.calendar import CHINA_TZ, official_calendar
from shared.case_state import CaseState
from shared.event_parts import UrgeLevel
from shared.events import SYSTEM_ACTOR, CaseEvent, Urged
from shared.hlc import Hlc
from shared.registry import Registry
from sync.casedoc import events_of
from sync.projection import decode_view
from tests.central.test_urges import SUPERVISOR, Release
from tests.sync.tree import CATALOG, NOW, Tree, accepted, build_tree, new_case_id, received

pytestmark = pytest.mark.anyio

CAL = official_calendar()
COMMUNITY, TOWNSHIP = "she-dongcun", "zhen-shifan"


class Clock:
    """The one clock of every tier, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def to(self, day: date, hour: int = 9) -> datetime:
        self.now = datetime(day.year, day.month, day.day, hour, tzinfo=CHINA_TZ).astimezone(UTC)
        return self.now


class Releases:
    """What the reconciliation and the urge service read of the releases in force."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def calendar_now(self) -> Any:
        return CAL

    def registry_now(self) -> Registry:
        return self._registry

    def cached(self) -> Release:
        return Release(CATALOG)

    async def current(self) -> None:
        return None


class Flaky:
    """The county replica, failing its first ``failures`` records as a concurrent write would."""

    def __init__(self, replica: Any, failures: int) -> None:
        self._replica = replica
        self.failures = failures

    async def record(self, case_id: str, build: Callable[[Callable[[], Hlc]], Any]) -> Any:
        if self.failures:
            self.failures -= 1
            raise ValueError("同步记录写入冲突，整批未保存")
        return await self._replica.record(case_id, build)


@dataclass
class Setup:
    tree: Tree
    engine: Any
    clock: Clock
    releases: Releases
    urges: UrgeService
    reconciler: Reconciler

    def reconciler_with(self, urges: UrgeService) -> Reconciler:
        rules = RuleService(self.engine, self.clock)
        return Reconciler(self.engine, self.releases, rules, self.clock, urges=urges)  # type: ignore[arg-type]

    async def county_log(self) -> int:
        return len(await self.tree.county.store.log_after(0, 1_000_000))

    async def community_state(self, case_id: str) -> tuple[CaseState, Any]:
        await self.tree.township.sync()
        await self.tree.community.sync()
        row = (await self.tree.community.store.case_rows([case_id]))[case_id]
        return decode_view(row.state_json).state, row

    async def issued(self) -> list[dict[str, Any]]:
        rows = await run(
            self.engine,
            "SELECT urge_id, case_id, node, level, feedback_due, target_kind, target, "
            "request_id, issued_by FROM urge_issued ORDER BY issued_at, urge_id",
        )
        return [dict(r) for r in rows]


@pytest.fixture
async def setup(tmp_path: Path, central_database_url: str | None) -> AsyncIterator[Setup]:
    engine = make_engine(central_database_url, tmp_path / "central.sqlite")
    await open_database(engine)
    clock = Clock()
    tree = build_tree(
        lambda node: PiccoloSyncStore(engine) if node == "county" else _memory(), clock=clock
    )
    assert tree.registry is not None
    for node_id, name, tier, parent, code in (
        (TOWNSHIP, "示范镇便民服务中心", "township", "county", "SFZ"),
        (COMMUNITY, "东村社区便民服务站", "community", TOWNSHIP, "DCS"),
    ):
        await run(
            engine,
            "INSERT INTO node_entry (node_id, name, tier, parent, short_code, public_key, "
            "status, status_reason, created_at) VALUES ({}, {}, {}, {}, {}, '', 'active', '', {})",
            [node_id, name, tier, parent, code, NOW],
        )
    releases = Releases(tree.registry)
    urges = UrgeService(engine, tree.county.replica, releases, clock)  # type: ignore[arg-type]
    s = Setup(tree, engine, clock, releases, urges, None)  # type: ignore[arg-type]
    s.reconciler = s.reconciler_with(urges)
    try:
        yield s
    finally:
        await close_database(engine)


def _memory() -> Any:
    from sync.memory_store import MemoryStore

    return MemoryStore()


async def community_case_urged(s: Setup) -> tuple[str, str]:
    """A case accepted and handled at the community, urged by the county on Mon 03-02."""
    case = new_case_id()
    await s.tree.community.record(case, received(case, COMMUNITY, "X12"), accepted(case, COMMUNITY))
    await s.tree.community.sync()
    await s.tree.township.sync()
    form = UrgeForm(
        target_kind="case",
        target=case,
        level="reminder",
        content="请说明办理进度",
        feedback_days=3,
        request_id=str(uuid.uuid4()),
    )
    [urge_id] = (await s.urges.urge(SUPERVISOR, form)).recorded
    return case, urge_id


def escalated_id(case_id: str, urge_id: str) -> str:
    return str(uuid.uuid5(URGE_NAMESPACE, escalation_key(case_id, urge_id)))


def urges_of(events: Sequence[CaseEvent]) -> list[Urged]:
    return [e for e in events if isinstance(e, Urged)]


async def test_an_unanswered_urge_climbs_one_level_at_a_time_and_stops_at_the_county(
    setup: Setup,
) -> None:
    s = setup
    case, first = await community_case_urged(s)

    # On its feedback day nothing escalates yet.
    on_due = await s.reconciler.reconcile(s.clock.to(date(2026, 3, 5), 20))
    assert (on_due.escalations, on_due.escalation_urges) == (0, 0)

    # Fri 03-06: one level up, the community's township, in a signed county record.
    logged = await s.county_log()
    report = await s.reconciler.reconcile(s.clock.to(date(2026, 3, 6)))
    second = escalated_id(case, first)
    assert report.escalations == 1
    assert report.escalated is not None and report.escalated.recorded == [second]
    assert await s.county_log() == logged + 1
    stored = (await s.tree.county.store.case_states([case]))[case]
    escalation = next(u for u in urges_of(events_of(stored)) if u.urge_id == second)
    assert (escalation.node_id, escalation.actor, escalation.level) == (
        "county",
        SYSTEM_ACTOR,
        UrgeLevel.FORMAL,
    )
    assert (escalation.by_unit, escalation.feedback_due) == (
        "示范镇便民服务中心",
        date(2026, 3, 11),
    )
    assert "示范县政务服务中心的催办（反馈期限 2026-03-05）逾期未反馈" in escalation.content

    # It replicates down to the handling community like any urge: the clerk's reminders show it.
    state, row = await s.community_state(case)
    assert [(u.urge_id, u.by_unit) for u in state.open_urges] == [
        (first, "示范县政务服务中心"),
        (second, "示范镇便民服务中心"),
    ]
    reminders = reminder_conditions(state, row, CAL, date(2026, 3, 10))
    assert {(r.kind, r.subject) for r in reminders if r.kind.startswith("urge")} == {
        ("urge_overdue", first),
        ("urge_due", second),
    }

    # Every later run the same day, and the next days, signs nothing again.
    for hour in (10, 15):
        again = await s.reconciler.reconcile(s.clock.to(date(2026, 3, 6), hour))
        assert (again.escalations, again.escalation_urges) == (0, 0)
    assert (await s.reconciler.reconcile(s.clock.to(date(2026, 3, 9)))).escalation_urges == 0
    assert await s.county_log() == logged + 1

    # Thu 03-12: the township's 督办 went unanswered as well: on to the county.
    climbed = await s.reconciler.reconcile(s.clock.to(date(2026, 3, 12)))
    third = escalated_id(case, second)
    assert climbed.escalated is not None and climbed.escalated.recorded == [third]
    state, _ = await s.community_state(case)
    assert [u.by_unit for u in state.open_urges] == [
        "示范县政务服务中心",
        "示范镇便民服务中心",
        "示范县政务服务中心",
    ]

    # Wed 03-18: nothing above the county: recorded, not signed.
    logged = await s.county_log()
    top = await s.reconciler.reconcile(s.clock.to(date(2026, 3, 18)))
    assert (top.escalations, top.escalation_urges) == (1, 0)
    assert await s.county_log() == logged
    actions = await run(
        s.engine,
        "SELECT subject, target_node FROM supervision_action WHERE kind = 'escalation' "
        "ORDER BY run",
    )
    assert [(a["subject"], a["target_node"]) for a in actions] == [
        (first, TOWNSHIP),
        (second, "county"),
        (third, "county"),
    ]
    issued = await s.issued()
    assert [(i["urge_id"], i["target_kind"], i["target"], i["node"]) for i in issued] == [
        (first, "case", case, COMMUNITY),
        (second, "escalation", TOWNSHIP, COMMUNITY),
        (third, "escalation", "county", COMMUNITY),
    ]
    assert issued[1]["request_id"] == escalation_key(case, first)
    assert issued[1]["issued_by"] == SYSTEM_ACTOR
    # the supervisors' list shows the escalations beside the urge they escalate
    listed = await s.urges.urges(SUPERVISOR)
    assert {u.urge_id for u in listed} == {first, second, third}


async def test_an_answer_before_the_next_run_stops_the_escalation(setup: Setup) -> None:
    s = setup
    case, first = await community_case_urged(s)
    await s.reconciler.reconcile(s.clock.to(date(2026, 3, 4)))
    await s.tree.township.sync()
    await s.tree.community.sync()
    from shared.events import UrgeAnswered

    await s.tree.community.record(
        case,
        lambda hlc: UrgeAnswered(
            id=str(uuid.uuid4()),
            case_id=case,
            node_id=COMMUNITY,
            actor="clerk",
            hlc=hlc,
            urge_id=first,
            answer="已补齐材料，明日办结",
        ),
    )
    await s.tree.community.sync()
    await s.tree.township.sync()
    report = await s.reconciler.reconcile(s.clock.to(date(2026, 3, 6)))
    assert (report.escalations, report.escalation_urges) == (0, 0)


async def test_a_failed_signature_is_owed_and_signed_at_the_next_run(setup: Setup) -> None:
    s = setup
    case, first = await community_case_urged(s)
    flaky = Flaky(s.tree.county.replica, failures=1)
    urges = UrgeService(s.engine, flaky, s.releases, s.clock)  # type: ignore[arg-type]
    reconciler = s.reconciler_with(urges)
    failed = await reconciler.reconcile(s.clock.to(date(2026, 3, 6)))
    assert failed.escalations == 1 and failed.escalated is not None
    assert failed.escalated.recorded == [] and [c for c, _ in failed.escalated.failed] == [case]
    assert len(await s.issued()) == 1

    later = await reconciler.reconcile(s.clock.to(date(2026, 3, 6), 10))
    assert later.escalations == 0  # recorded once, at the first run
    assert later.escalated is not None and later.escalated.recorded == [escalated_id(case, first)]
    assert len(await s.issued()) == 2


async def test_an_escalation_signed_just_before_a_crash_is_not_signed_twice(
    setup: Setup,
) -> None:
    s = setup
    case, first = await community_case_urged(s)
    await s.reconciler.reconcile(s.clock.to(date(2026, 3, 6)))
    second = escalated_id(case, first)
    # The crash: the record was committed, the row that says so was not.
    await run(s.engine, "DELETE FROM urge_issued WHERE urge_id = {}", [second])
    logged = await s.county_log()

    repaired = await s.urges.escalate(date(2026, 3, 6))

    assert (repaired.recorded, repaired.repaired, repaired.failed) == ([], [second], [])
    assert await s.county_log() == logged
    [row] = [i for i in await s.issued() if i["urge_id"] == second]
    assert (row["target_kind"], row["target"]) == ("escalation", TOWNSHIP)
    assert (await s.urges.escalate(date(2026, 3, 6))).repaired == []
