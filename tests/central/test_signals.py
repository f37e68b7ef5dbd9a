"""Tamper and health signals, each produced by a crafted scenario, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from central.db.reconcile_sql import run
from central.services.signals import SignalService
from shared.case_state import CaseState, CaseStatus
from shared.errors import InvalidError
from sync.projection import CaseView, UnauthorizedAction
from tests.central.test_reconcile_support import County, county, row_of

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
POS = itertools.count(1)


@pytest.fixture
async def c(tmp_path: Path, central_database_url: str | None) -> Any:
    async with county(tmp_path, central_database_url) as opened:
        yield opened


def service(c: County) -> SignalService:
    return SignalService(c.engine, c.rules, lambda: NOW)


async def log(c: County, origin: str, seq: int, written: datetime, received: datetime) -> bytes:
    digest = hashlib.sha256(f"{origin}{seq}".encode()).digest()
    await run(
        c.engine,
        "INSERT INTO sync_log (pos, origin, seq, hash, prev, case_id, hlc_wall, hlc_counter, "
        "client_id, update_hash, body, sig, received_at) "
        "VALUES ({}, {}, {}, {}, {}, {}, {}, 0, 1, {}, {}, {}, {})",
        [
            next(POS),
            origin,
            seq,
            digest,
            b"",
            "case-x",
            (written - EPOCH) // MS,
            digest,
            b"b",
            b"s",
            received,
        ],
    )
    return digest


async def node(c: County, node_id: str, enrolled: datetime, code: str) -> None:
    await run(
        c.engine,
        "INSERT INTO node_entry (node_id, name, tier, parent, short_code, public_key, status, "
        "status_reason, created_at, enrolled_at) "
        "VALUES ({}, {}, 'township', 'county', {}, 'k', 'active', '', {}, {})",
        [node_id, node_id, code, enrolled, enrolled],
    )


async def kinds(c: County, **filters: Any) -> set[tuple[str, str | None, str]]:
    found = await service(c).signals(**filters)
    return {(s.kind, s.node, s.evidence) for s in found}


async def test_backdated_envelope_beyond_the_offline_window(c: County) -> None:
    late = await log(c, "zhen-a", 1, NOW - timedelta(days=10), NOW)
    await log(c, "zhen-a", 2, NOW - timedelta(hours=2), NOW)
    await service(c).refresh()
    assert await kinds(c, kind="backdated") == {("backdated", "zhen-a", late.hex())}
    signal = (await service(c).signals(kind="backdated"))[0]
    assert signal.severity == "high" and signal.case_id == "case-x"
    assert signal.first_seen == NOW


async def test_flags_of_projected_cases_become_signals(c: County) -> None:
    state = CaseState(
        case_id="k1", status=CaseStatus.ACCEPTED, origin_node="she-b", handling_node="zhen-a"
    )
    late = row_of("k1", state, flags=("late_registration",))
    conflict = row_of("k2", msgspec.structs.replace(state, case_id="k2"), flags=("conflict",))
    view = CaseView(
        state=msgspec.structs.replace(state, case_id="k3"),
        unauthorized=(
            UnauthorizedAction(event_id="e9", node_id="she-b", kind="decided", reason="未授权"),
        ),
    )
    rogue = msgspec.structs.replace(
        row_of("k3", view.state, flags=("unauthorized_action",)),
        state_json=msgspec.json.encode(view),
    )
    await c.put_rows([late, conflict, rogue])
    await service(c).refresh()
    assert await kinds(c) == {
        ("late_registration", "she-b", "k1"),
        ("conflict", "zhen-a", "k2"),
        ("unauthorized_action", "she-b", "k3/e9"),
    }


async def test_forks_and_rejections_link_to_their_rejection_row(c: County) -> None:
    for reason in ("fork", "replay"):
        await run(
            c.engine,
            "INSERT INTO sync_rejection (origin, seq, hash, case_id, reason, detail, body, sig, "
            "received_at) VALUES ('zhen-a', 3, {}, 'k1', {}, '细节', {}, {}, {})",
            [b"h", reason, b"b", b"s", NOW],
        )
    await service(c).refresh()
    found = {(s.kind, s.severity, s.evidence_kind) for s in await service(c).signals()}
    assert found == {("fork", "high", "rejection"), ("rejected_record", "medium", "rejection")}


async def test_chain_gap_and_quarantine_resolve_when_they_end(c: County) -> None:
    await run(
        c.engine,
        "INSERT INTO sync_held (origin, seq, hash, prev, case_id, hlc_wall, hlc_counter, "
        "client_id, update_hash, body, sig) "
        "VALUES ('zhen-a', 9, {}, {}, 'k1', 1, 0, 1, {}, {}, {})",
        [b"h", b"p", b"u", b"b", b"s"],
    )
    await run(c.engine, "INSERT INTO sync_quarantine (origin, reason) VALUES ('she-b', 'fork')")
    await service(c).refresh()
    assert await kinds(c) == {
        ("chain_gap", "zhen-a", "zhen-a"),
        ("quarantined_origin", "she-b", "she-b"),
    }
    await run(c.engine, "DELETE FROM sync_held")
    later = SignalService(c.engine, c.rules, lambda: NOW + timedelta(minutes=5))
    await later.refresh()
    assert await kinds(c) == {("quarantined_origin", "she-b", "she-b")}
    resolved = await later.signals(kind="chain_gap", include_resolved=True)
    assert resolved[0].resolved_at is not None


async def test_silent_node_after_the_configured_hours(c: County) -> None:
    await node(c, "zhen-quiet", NOW - timedelta(days=5), "ZQ")
    await node(c, "zhen-busy", NOW - timedelta(days=5), "ZB")
    await node(c, "zhen-new", NOW - timedelta(hours=1), "ZN")
    await log(c, "zhen-busy", 1, NOW - timedelta(hours=3), NOW - timedelta(hours=3))
    await run(
        c.engine,
        "INSERT INTO sync_head (origin, seq, hash, hlc_wall, hlc_counter) "
        "VALUES ('zhen-busy', 1, {}, 1, 0)",
        [b"h"],
    )
    await service(c).refresh()
    assert await kinds(c, kind="silent_node") == {("silent_node", "zhen-quiet", "zhen-quiet")}
    await c.rules.set("silent_hours", 2, by="admin")
    await service(c).refresh()
    assert {n for _, n, _ in await kinds(c, kind="silent_node")} == {"zhen-quiet", "zhen-busy"}


async def test_growing_backlog_of_a_node(c: County) -> None:
    await run(
        c.engine,
        "INSERT INTO supervision_backlog (node, day, open_count, overdue_count) "
        "VALUES ('zhen-a', {}, 20, 0), ('zhen-b', {}, 30, 0)",
        [date(2026, 3, 6), date(2026, 3, 6)],
    )
    for i in range(31):
        for n in ("zhen-a", "zhen-b"):
            if n == "zhen-a" or i < 31:
                await run(
                    c.engine,
                    "INSERT INTO supervision_case (case_id, node, light) VALUES ({}, {}, 'green')",
                    [f"{n}-{i}", n],
                )
    await service(c).refresh()
    # zhen-a grew 20 -> 31 (55 %), zhen-b 30 -> 31
    assert await kinds(c, kind="backlog") == {("backlog", "zhen-a", "zhen-a")}
    assert await kinds(c, node="zhen-b") == set()


async def test_filters_and_unknown_kind(c: County) -> None:
    await log(c, "zhen-a", 1, NOW - timedelta(days=10), NOW)
    await service(c).refresh()
    assert await kinds(c, nodes=frozenset({"zhen-b"})) == set()
    assert len(await kinds(c, nodes=frozenset({"zhen-a"}))) == 1
    with pytest.raises(InvalidError):
        await service(c).signals(kind="nonsense")
    # refreshing again keeps one signal per piece of evidence
    await service(c).refresh()
    assert len(await service(c).signals()) == 1
