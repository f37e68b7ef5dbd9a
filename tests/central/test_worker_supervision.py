"""The worker's supervision passes: the hourly performance refresh (from a SQLite and a Redis
queue) and the reconciliation signing the escalations it owes with the county key."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from central.commands import opened
from central.db.reconcile_sql import run
from central.services.reconcile import supervise
from central.services.urges import URGE_NAMESPACE, escalation_key
from central.settings import CentralSettings
from central.tasks import register
from central.worker import make_huey
from shared.calendar import china_date, official_calendar
from shared.catalog import decode_catalog
from shared.event_parts import UrgeLevel
from shared.events import Accepted, Applicant, IdType, ReceiptChannel, Received, Urged
from sync.casedoc import events_of
from tests.central.test_worker import _settings
from tests.central.test_worker import county as county

CASE = "c-worker-1"


async def _urged_county_case(settings: CentralSettings, catalog: bytes) -> datetime:
    """A county case accepted and urged now (one working day to answer); the time used."""
    async with opened(settings) as central:
        await central.releases.publish(by="test", catalog=decode_catalog(catalog))
        now = datetime.now(UTC)
        due = official_calendar().add_working_days(china_date(now), 1).due
        base: dict[str, Any] = {"case_id": CASE, "node_id": "county", "actor": "w-1"}

        def events(tick: Any) -> list[Any]:
            return [
                Received(
                    id=str(uuid.uuid4()),
                    hlc=tick(),
                    item_code="X02",
                    catalog_version=1,
                    applicant=Applicant(
                        name="李四", id_type=IdType.RESIDENT_ID, id_number="110101199001011234"
                    ),
                    materials=("M01",),
                    channel=ReceiptChannel.WINDOW,
                    **base,
                ),
                Accepted(id=str(uuid.uuid4()), hlc=tick(), receipt_no="XZX-0001", **base),
                Urged(
                    id=str(uuid.uuid4()),
                    hlc=tick(),
                    urge_id="u-1",
                    level=UrgeLevel.REMINDER,
                    content="请说明办理进度",
                    feedback_due=due,
                    by_unit="县电子监察室",
                    **{**base, "actor": "supervisor"},
                ),
            ]

        await central.replica.record(CASE, events)
    return now


async def _rows(settings: CentralSettings, sql: str) -> list[dict[str, Any]]:
    async with opened(settings) as central:
        engine = central.replica.store._engine  # type: ignore[attr-defined]
        return [dict(r) for r in await run(engine, sql)]


def test_performance_is_refreshed_every_hour(tmp_path: Path) -> None:
    queue = make_huey(_settings(tmp_path, None))
    register(queue, _settings(tmp_path, None))
    due = {
        minute: [task.name for task in queue.read_periodic(datetime(2026, 3, 2, 2, minute))]
        for minute in (0, 5, 30)
    }
    assert "refresh_performance" in due[30]
    assert "refresh_performance" not in due[0] and "refresh_performance" not in due[5]


def test_refresh_performance_runs_from_the_queue(
    county: tuple[CentralSettings, Any], demo_catalog_bytes: bytes
) -> None:
    settings, queue = county
    asyncio.run(_urged_county_case(settings, demo_catalog_bytes))
    tasks = register(queue, settings)
    tasks["refresh_performance"]()
    errors: list[BaseException] = []
    queue.signal("error")(lambda signal, task, exc=None: errors.append(exc))
    task = queue.dequeue()
    assert task is not None and task.name == "refresh_performance"
    assert queue.execute(task) is None
    assert errors == []
    assert queue.pending_count() == 0
    stored = asyncio.run(
        _rows(settings, "SELECT p.case_id, a.accepted_by FROM perf_case p "
              "JOIN perf_actor a ON a.case_id = p.case_id")
    )  # fmt: skip
    assert stored == [{"case_id": CASE, "accepted_by": "w-1"}]


def test_supervision_pass_signs_the_escalation_it_owes(
    tmp_path: Path, demo_catalog_bytes: bytes
) -> None:
    settings = _settings(tmp_path, None)
    now = asyncio.run(_urged_county_case(settings, demo_catalog_bytes))
    later = now + timedelta(days=20)  # past the feedback day, whatever holidays come between

    done = asyncio.run(supervise(settings, lambda: later))

    assert done.reconcile.escalations == 1 and done.reconcile.escalation_urges == 1

    async def urges() -> list[Urged]:
        async with opened(settings) as central:
            state = (await central.replica.store.case_states([CASE]))[CASE]
            return [e for e in events_of(state) if isinstance(e, Urged)]

    escalated = str(uuid.uuid5(URGE_NAMESPACE, escalation_key(CASE, "u-1")))
    found = {u.urge_id: u for u in asyncio.run(urges())}
    assert set(found) == {"u-1", escalated}
    assert (found[escalated].by_unit, found[escalated].level) == (
        settings.site_name,
        UrgeLevel.FORMAL,
    )
    again = asyncio.run(supervise(settings, lambda: later + timedelta(minutes=5)))
    assert (again.reconcile.escalations, again.reconcile.escalation_urges) == (0, 0)
