"""Two writers on one case at once: a clerk recording events in the web process while the
worker's tick makes that process pull the county's events for the same case, and the worker's
own deadline reconciliation rewriting the case row from another connection. Nothing may be
lost: every event in the envelope log is in the case's CRDT state and in its row, and the
county ends with the same events."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import date
from typing import Any

import pytest
from litestar.di import Provide
from litestar.testing import TestClient

from node.app import create_app
from node.services.replication import INTERNAL_HEADER, INTERNAL_LINK, NodeReplication
from node.settings import NodeSettings
from node.tasks import reconcile
from shared.catalog import Catalog
from shared.events import UrgeAnswered, Urged, UrgeLevel
from shared.hlc import Hlc
from shared.registry import COUNTY_NODE_ID
from shared.signing import SigningKey
from sync.casedoc import CaseDoc, events_of
from sync.envelope import open_body
from sync.keys import load_private_key
from sync.replica import Replica
from tests.conftest import FIXED_NOW
from tests.node.conftest import parent_down
from tests.node.test_offline import County, make_case
from tests.node.test_reminders import Clock, beijing

ROUNDS = 25


@pytest.fixture
def county(township: NodeSettings, county_key: SigningKey, demo_catalog: Catalog) -> County:
    return County(county_key, load_private_key(township.key_path), demo_catalog)


def urge(case_id: str, n: int, hlc: Hlc) -> Urged:
    return Urged(
        id=str(uuid.uuid4()),
        case_id=case_id,
        node_id=COUNTY_NODE_ID,
        actor="county-supervisor",
        hlc=hlc,
        urge_id=f"u{n}",
        level=UrgeLevel.REMINDER,
        content="请尽快办理",
        feedback_due=date(2026, 3, 6),
        by_unit="县政务服务中心",
    )


def answer(case_id: str, n: int, hlc: Hlc) -> UrgeAnswered:
    return UrgeAnswered(
        id=str(uuid.uuid4()),
        case_id=case_id,
        node_id="zhen-shifan",
        actor="clerk1",
        hlc=hlc,
        urge_id=f"local{n}",
        answer=f"已处理（第{n}次）",
    )


async def log_event_ids(replica: Replica, case_id: str) -> set[str]:
    """Every event in the case's envelopes, applied afresh in log order."""
    doc = CaseDoc.load(None)
    for entry in (await replica.store.case_log([case_id]))[case_id]:
        body = open_body(entry.envelope)
        check = doc.apply_checked(
            body.update, origin=entry.origin, client_id=body.client_id, case_id=case_id
        )
        assert check.ok, check.detail
    events, undecodable = doc.events()
    assert undecodable == []
    return {e.id for e in events}


async def state_event_ids(replica: Replica, case_id: str) -> set[str]:
    state = (await replica.store.case_states([case_id]))[case_id]
    return {e.id for e in events_of(state)}


@pytest.mark.anyio
async def test_clerk_and_worker_writing_one_case_at_once_lose_nothing(
    township: NodeSettings, county: County
) -> None:
    case_id = await make_case(township)
    app = create_app(
        township, clock=lambda: FIXED_NOW, prober=parent_down, parent_transport=county.transport()
    )
    with TestClient(app) as client:
        provider = app.dependencies["node_replication"]
        assert isinstance(provider, Provide)
        replication: NodeReplication = provider.dependency()
        token = json.loads((township.data_dir / INTERNAL_LINK).read_text())["token"]

        def worker_tick() -> Any:
            response = client.post("/internal/sync", headers={INTERNAL_HEADER: token})
            assert response.status_code == 200, response.text
            return response.json()

        assert worker_tick()["ok"] is True  # the county now knows the case

        async def county_urges(n: int) -> None:
            await county.replica.record(case_id, lambda tick: [urge(case_id, n, tick())])

        async def clerk_writes(n: int) -> None:
            await replication.replica.record(case_id, lambda tick: [answer(case_id, n, tick())])

        errors: list[BaseException] = []

        def guarded(fn: Any) -> Any:
            def run() -> None:
                try:
                    fn()
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            return run

        def clerk() -> None:
            for n in range(ROUNDS):
                client.blocking_portal.call(clerk_writes, n)

        def county_and_worker() -> None:
            for n in range(ROUNDS):
                client.blocking_portal.call(county_urges, n)
                worker_tick()

        def reminders() -> None:
            # A new day each time, so every pass folds the case again and rewrites its row.
            clock = Clock(beijing(date(2026, 3, 2)))
            for n in range(ROUNDS):
                clock.to(date(2026, 3, 2 + n))
                asyncio.run(reconcile(township, clock=clock))

        threads = [
            threading.Thread(target=guarded(target))
            for target in (clerk, county_and_worker, reminders)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert errors == []
        final = worker_tick()
        assert final["ok"] is True and final["waiting"] == 0

        replica = replication.replica
        in_log = await log_event_ids(replica, case_id)
        in_state = await state_event_ids(replica, case_id)
        row = (await replica.store.case_rows([case_id]))[case_id]

    # Received + Accepted, the clerk's answers and the county's urges, each exactly once.
    assert len(in_log) == 2 + 2 * ROUNDS
    assert in_state == in_log
    assert row.events_count == len(in_log)
    assert await state_event_ids(county.replica, case_id) == in_log
