"""Offline deadline reminders: the clock moves across working days, holidays and make-up
Saturdays, and each transition gives one reminder that a clerk can acknowledge."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest

from node.commands import opened
from node.services.reminders import (
    DeadlineReconciler,
    ReminderService,
    kind_label,
    reminder_conditions,
)
from node.settings import NodeSettings
from node.storage.database import NodeDatabase
from node.storage.reminder_store import Refold, ReminderStore
from node.tasks import reconcile
from shared.calendar import CHINA_TZ, Deadline, official_calendar
from shared.case_state import CaseState, CaseStatus, Light, OpenUrge
from shared.errors import NotFoundError
from shared.event_parts import DeferredMaterial
from shared.events import UrgeLevel
from sync.projection import decode_view
from sync.store import CaseRow
from tests.sync.tree import accepted, decided, received

pytestmark = pytest.mark.anyio


def beijing(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CHINA_TZ).astimezone(UTC)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def to(self, day: date, hour: int = 10) -> None:
        self.now = beijing(day, hour)


@pytest.fixture
def clock() -> Clock:
    # Thursday 30 April 2026, the working day before the 劳动节 holiday (1–5 May); Saturday
    # 9 May is its make-up working day.
    return Clock(beijing(date(2026, 4, 30)))


@pytest.fixture
def database(township: NodeSettings) -> Iterator[NodeDatabase]:
    db = NodeDatabase(township.database_path)
    yield db
    db.close()


async def open_case(
    settings: NodeSettings, clock: Clock, receipt: str = "SFZ-20260430-0001-X"
) -> str:
    """A township case of X19 (promised 3 working days, warning 1) accepted at ``clock``."""
    case_id = str(uuid.uuid4())
    async with opened(settings) as replication:
        replication.replica._clock = clock
        await replication.replica.record(
            case_id,
            lambda tick: [
                received(case_id, "zhen-shifan")(tick()),
                accepted(case_id, "zhen-shifan", receipt)(tick()),
            ],
        )
    return case_id


async def run(settings: NodeSettings, clock: Clock) -> Any:
    return await reconcile(settings, clock=clock)


def row_of(database: NodeDatabase, case_id: str) -> tuple[str, CaseState]:
    light, state_json = database.read(
        lambda db: db.conn.execute(
            "SELECT light, state_json FROM case_row WHERE case_id = ?", (case_id,)
        ).fetchone()
    )
    return light, decode_view(state_json).state


async def test_lights_follow_the_calendar_and_each_transition_reminds_once(
    township: NodeSettings, clock: Clock, database: NodeDatabase
) -> None:
    case_id = await open_case(township, clock)
    light, state = row_of(database, case_id)
    assert light == "green"
    assert state.promised_due is not None
    # Three working days after 30 April skip the five-day holiday: 6, 7 and 8 May.
    assert state.promised_due.due == date(2026, 5, 8)
    store = ReminderStore(database)

    report = await run(township, clock)
    assert report.created == 0
    assert store.listing() == []

    # In the middle of the holiday nothing has been used up: still green, still 3 days.
    clock.to(date(2026, 5, 3))
    await run(township, clock)
    light, state = row_of(database, case_id)
    assert (light, state.remaining_working_days) == ("green", 3)
    assert store.listing() == []

    # Thursday 7 May: one working day left, inside the warning window.
    clock.to(date(2026, 5, 7))
    report = await run(township, clock)
    assert report.created == 1
    light, state = row_of(database, case_id)
    assert (light, state.remaining_working_days) == ("yellow", 1)
    [warning] = store.listing()
    assert (warning.kind, warning.level, warning.receipt_no) == (
        "warning",
        "yellow",
        "SFZ-20260430-0001-X",
    )
    assert "2026年5月8日" in warning.message and "还剩 1 个工作日" in warning.message
    assert store.open_counts() == {"yellow": 1, "red": 0}

    # Running again, later the same day or the next day while still yellow, adds nothing.
    clock.to(date(2026, 5, 7), hour=16)
    assert (await run(township, clock)).created == 0
    assert len(store.listing(include_done=True)) == 1

    # The make-up Saturday is a working day: the case is one working day overdue, red.
    clock.to(date(2026, 5, 9))
    report = await run(township, clock)
    assert report.created == 1
    light, _ = row_of(database, case_id)
    assert light == "red"
    [overdue] = store.listing()
    assert (overdue.kind, overdue.level) == ("overdue", "red")
    assert "已超过 1 个工作日" in overdue.message
    # The warning is over: it no longer counts.
    assert store.open_counts() == {"yellow": 0, "red": 1}
    done = [r for r in store.listing(include_done=True) if r.kind == "warning"]
    assert done[0].resolved_at is not None

    # Sunday: still red, no second overdue reminder.
    clock.to(date(2026, 5, 10))
    assert (await run(township, clock)).created == 0
    # Monday: the count of overdue working days moves on, the reminder stays one.
    clock.to(date(2026, 5, 11))
    await run(township, clock)
    _, state = row_of(database, case_id)
    assert state.remaining_working_days is not None and state.remaining_working_days < 0
    assert [r.kind for r in store.listing()] == ["overdue"]


async def test_a_clerk_acknowledges_a_reminder_once(
    township: NodeSettings, clock: Clock, database: NodeDatabase
) -> None:
    await open_case(township, clock)
    clock.to(date(2026, 5, 9))
    await run(township, clock)
    service = ReminderService(ReminderStore(database), clock)
    [reminder] = service.listing()
    first = service.acknowledge(reminder.id, "clerk1")
    assert first.acknowledged_by == "clerk1" and first.acknowledged_at == clock.now
    clock.now += timedelta(minutes=5)
    again = service.acknowledge(reminder.id, "clerk2")
    assert again.acknowledged_by == "clerk1" and again.acknowledged_at == first.acknowledged_at
    assert service.listing() == []
    assert service.open_counts() == {"yellow": 0, "red": 0}
    with pytest.raises(NotFoundError):
        service.acknowledge(99_999, "clerk1")


async def test_a_finished_case_closes_its_reminders(
    township: NodeSettings, clock: Clock, database: NodeDatabase
) -> None:
    case_id = await open_case(township, clock)
    clock.to(date(2026, 5, 9))
    await run(township, clock)
    assert ReminderStore(database).open_counts()["red"] == 1
    async with opened(township) as replication:
        replication.replica._clock = clock
        await replication.replica.record(
            case_id, lambda tick: [decided(case_id, "zhen-shifan")(tick())]
        )
    report = await run(township, clock)
    assert report.resolved == 1
    assert ReminderStore(database).open_counts() == {"yellow": 0, "red": 0}


async def test_only_cases_with_new_events_or_a_new_day_are_folded_again(
    township: NodeSettings, clock: Clock
) -> None:
    for n in range(3):
        await open_case(township, clock, receipt=f"SFZ-20260430-000{n + 1}-X")
    assert (await run(township, clock)).folded == 3
    assert (await run(township, clock)).folded == 0
    clock.to(date(2026, 5, 6))
    assert (await run(township, clock)).folded == 3


async def test_a_row_changed_meanwhile_is_not_overwritten(
    township: NodeSettings, clock: Clock, database: NodeDatabase
) -> None:
    case_id = await open_case(township, clock)
    store = ReminderStore(database)
    async with opened(township) as replication:
        row = (await replication.replica.store.case_rows([case_id]))[case_id]
    # The refold read the row before the web process projected something new into it.
    stale = Refold(
        case_id=case_id,
        read_state_json=row.state_json + b" ",
        row=msgspec.structs.replace(row, light="red"),
        conditions=(),
    )
    assert store.apply([stale], date(2026, 5, 9), clock.now) == 0
    light, _ = row_of(database, case_id)
    assert light == "green"
    # Nor is the case marked as folded: the next run looks at it again.
    assert [c.case_id for c in store.candidates("zhen-shifan", date(2026, 4, 30), "", 10)] == [
        case_id
    ]


def base_state(**changes: Any) -> CaseState:
    state = CaseState(
        case_id="c1",
        status=CaseStatus.ACCEPTED,
        promised_due=Deadline(date(2026, 5, 8), False),
        light=Light.GREEN,
        remaining_working_days=3,
    )
    return msgspec.structs.replace(state, **changes)


def a_row() -> CaseRow:
    from shared.hlc import Hlc

    return CaseRow(
        case_id="c1",
        item_code="X19",
        catalog_version=1,
        origin_node="zhen-shifan",
        handling_node="zhen-shifan",
        status="accepted",
        receipt_no="SFZ-20260430-0001-X",
        applicant_name="王秀英",
        received_on=date(2026, 4, 30),
        accepted_on=date(2026, 4, 30),
        promised_due=date(2026, 5, 8),
        statutory_due=None,
        due_provisional=False,
        paused=False,
        finished=False,
        light="green",
        flags=(),
        events_count=2,
        last_hlc=Hlc(0, 0),
        state_json=b"{}",
    )


def test_deferred_material_overdue_is_red() -> None:
    material = DeferredMaterial(code="M02", name="户口簿复印件", due=date(2026, 5, 6))
    state = base_state(deferred_outstanding=(material,), deferred_overdue=("M02",))
    found = reminder_conditions(state, a_row(), official_calendar(), date(2026, 5, 7))
    assert [(c.kind, c.level, c.subject) for c in found] == [
        ("deferred_overdue", "red", "M02@2026-05-06")
    ]
    assert "户口簿复印件" in found[0].message
    # Not yet overdue: nothing.
    pending = base_state(deferred_outstanding=(material,))
    assert reminder_conditions(pending, a_row(), official_calendar(), date(2026, 5, 6)) == []


def test_urge_feedback_due_then_overdue() -> None:
    calendar = official_calendar()

    def urge(overdue: bool) -> OpenUrge:
        return OpenUrge(
            urge_id="u1",
            level=UrgeLevel.FORMAL,
            by_unit="县政务服务中心",
            feedback_due=date(2026, 5, 11),
            overdue=overdue,
            event_id="e1",
        )

    # Friday 8 May: feedback due Monday 11 May, but Saturday 9 May is a working day: two
    # working days away, not yet brought up.
    state = base_state(open_urges=(urge(False),))
    assert reminder_conditions(state, a_row(), calendar, date(2026, 5, 8)) == []
    found = reminder_conditions(state, a_row(), calendar, date(2026, 5, 9))
    assert [(c.kind, c.level) for c in found] == [("urge_due", "yellow")]
    late = base_state(open_urges=(urge(True),))
    found = reminder_conditions(late, a_row(), calendar, date(2026, 5, 12))
    assert [(c.kind, c.level, c.subject) for c in found] == [("urge_overdue", "red", "u1")]
    assert kind_label("urge_overdue") == "催办反馈逾期"


def test_finished_cases_call_for_nothing() -> None:
    state = base_state(finished=True, light=Light.RED)
    assert reminder_conditions(state, a_row(), official_calendar(), date(2026, 6, 1)) == []


async def test_reconciler_batches_cover_every_case(township: NodeSettings, clock: Clock) -> None:
    ids = [await open_case(township, clock, receipt=f"SFZ-20260430-000{n + 1}-X") for n in range(5)]
    clock.to(date(2026, 5, 9))
    async with opened(township) as replication:
        database = NodeDatabase(township.database_path)
        try:
            from node.identity import read_identity
            from node.services.catalog import NodeCatalogService
            from node.storage.catalog_store import NodeCatalogStore

            identity = read_identity(township.config_path)
            releases = NodeCatalogService(NodeCatalogStore(database), identity, clock)
            reconciler = DeadlineReconciler(
                ReminderStore(database),
                replication.replica.store,
                identity,
                releases,
                clock,
                batch=2,
            )
            report = await reconciler.run()
            assert (report.folded, report.created) == (5, 5)
            assert {r.case_id for r in ReminderStore(database).listing()} == set(ids)
        finally:
            database.close()
