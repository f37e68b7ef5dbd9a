"""The county's Piccolo SyncStore on SQLite and PostgreSQL, checked against MemoryStore."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from central.db.bulk_sql import key_clauses
from central.db.engine import close_database, make_engine, open_database
from central.db.sync_store import PiccoloSyncStore, ensure_sync_schema
from shared.hlc import Hlc
from sync.envelope import Envelope
from sync.memory_store import MemoryStore
from sync.reasons import Reason
from sync.store import (
    CaseProjection,
    CaseRow,
    FeedEntry,
    Head,
    LogEntry,
    Rejection,
    SyncStore,
    WriteSet,
)

pytestmark = pytest.mark.anyio

BIG_CLIENT = 2**53 - 1


@pytest.fixture
async def store(
    tmp_path: Path, central_database_url: str | None
) -> AsyncIterator[PiccoloSyncStore]:
    engine = make_engine(central_database_url, tmp_path / "central.sqlite")
    await open_database(engine)
    await ensure_sync_schema(engine)
    await ensure_sync_schema(engine)  # idempotent
    yield PiccoloSyncStore(engine)
    await close_database(engine)


def entry(origin: str, seq: int, case_id: str = "c1", client_id: int = 7) -> LogEntry:
    body = f"{origin}/{seq}/{case_id}".encode()
    return LogEntry(
        origin=origin,
        seq=seq,
        hash=hashlib.sha256(body).digest(),
        prev=b"" if seq == 1 else hashlib.sha256(f"{origin}/{seq - 1}".encode()).digest(),
        case_id=case_id,
        hlc=Hlc(1_772_416_800_000 + seq, seq % 3),
        client_id=client_id,
        update_hash=hashlib.sha256(b"u" + body).digest(),
        envelope=Envelope(body=body, sig=b"s" * 64),
    )


def head(e: LogEntry) -> Head:
    return Head(origin=e.origin, seq=e.seq, hash=e.hash, hlc=e.hlc)


def projection(case_id: str, parties: frozenset[str], status: str = "received") -> CaseProjection:
    row = CaseRow(
        case_id=case_id,
        item_code="000101",
        catalog_version=3,
        origin_node="zhen-a",
        handling_node="county",
        status=status,
        receipt_no="XZX-0001",
        applicant_name="张三",
        received_on=date(2026, 3, 2),
        accepted_on=None,
        promised_due=date(2026, 3, 20),
        statutory_due=None,
        due_provisional=True,
        paused=False,
        finished=False,
        light="green",
        flags=("加急", "x"),
        events_count=2,
        last_hlc=Hlc(1_772_416_800_123, 4),
        state_json=b'{"status":"received"}',
    )
    return CaseProjection(
        case_id=case_id, state=b"\x01\x02" + case_id.encode(), row=row, parties=parties
    )


async def snapshot(store: SyncStore, cases: list[str], children: list[str]) -> dict[str, object]:
    end = await store.log_end()
    log = await store.log_after(0, end + 10)
    return {
        "log": log,
        "end": end,
        "heads": await store.heads(),
        "hashes": await store.hashes_at([(e.origin, e.seq) for e in log] + [("nobody", 1)]),
        "updates": await store.known_updates([e.update_hash for e in log] + [b"none"]),
        "clients": await store.client_owners([7, 8, BIG_CLIENT, 99]),
        "held": await store.held(),
        "quarantined": await store.quarantined(),
        "rejections": await store.rejections(),
        "case_log": await store.case_log([*cases, "none"]),
        "states": await store.case_states(cases),
        "parties": await store.case_parties(cases),
        "rows": await store.case_rows(cases),
        "watermark": await store.watermark(),
        "cursor": await store.cursor("pull:county"),
        "feeds": {c: await store.feed_after(c, 0, 100) for c in children},
    }


def scenario() -> list[WriteSet]:
    a1, a2, a3, b1 = entry("a", 1), entry("a", 2, "c2"), entry("a", 3), entry("b", 1, "c2", 8)
    a5 = entry("a", 5)
    received = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    bad = Rejection(
        origin="b",
        seq=2,
        hash=b"h" * 32,
        case_id="c2",
        reason=Reason.FORK,
        detail="同一序号两份记录",
        envelope=Envelope(body=b"bad", sig=b"sig"),
        received_at=received,
    )
    return [
        WriteSet(
            entries=[a1, a2, b1],
            heads={"a": head(a2), "b": head(b1)},
            client_claims={7: "a", 8: "b", BIG_CLIENT: "a"},
            held=[a5],
            feed=[FeedEntry("zhen-a", "b", 1), FeedEntry("she-x", "a", 2)],
            cursors={"pull:county": 5},
        ),
        WriteSet(
            entries=[a3],
            heads={"a": head(a3), "b": head(entry("b", 0))},  # b's head must not move back
            client_claims={7: "b"},  # first owner is kept
            held=[a5, entry("a", 6)],
            released=[("a", 6), ("zz", 1)],
            rejections=[bad, dataclasses.replace(bad, seq=3)],
            quarantines={"b": "fork"},
            projections=[
                projection("c1", frozenset({"a", "county"})),
                projection("c2", frozenset()),
                projection("c1", frozenset({"a"}), status="accepted"),  # later wins
            ],
            watermark=3,
            feed=[FeedEntry("zhen-a", "a", 1), FeedEntry("zhen-a", "a", 3)],
            cursors={"pull:county": 2},  # cursors never move back
        ),
        WriteSet(quarantines={"b": "other"}, watermark=2),
    ]


async def test_sync_store_matches_memory_store(store: PiccoloSyncStore) -> None:
    memory = MemoryStore()
    for writes in scenario():
        await memory.commit(writes)
        await store.commit(writes)
    cases, children = ["c1", "c2", "c3"], ["zhen-a", "she-x", "none"]
    expected = await snapshot(memory, cases, children)
    got = await snapshot(store, cases, children)
    for key, value in expected.items():
        assert got[key] == value, key
    assert [e.pos for e in got["log"]] == [1, 2, 3, 4]  # type: ignore[attr-defined]
    assert got["parties"] == {"c1": frozenset({"a"}), "c2": frozenset()}
    assert [p for p, _ in got["feeds"]["zhen-a"]] == [1, 3, 4]  # type: ignore[index]
    assert await store.heads(["b", "zz"]) == {"b": head(entry("b", 1, "c2", 8))}
    assert await store.log_after(1, 2) == got["log"][1:3]  # type: ignore[index]
    assert await store.feed_after("zhen-a", 1, 1) == got["feeds"]["zhen-a"][1:2]  # type: ignore[index]
    assert await store.held("a") == [entry("a", 5)]
    assert [r.seq for r in await store.rejections("b")] == [2, 3]
    assert await store.rejections("a") == []


async def test_sync_store_duplicate_entry_rolls_back_everything(store: PiccoloSyncStore) -> None:
    first = entry("a", 1)
    await store.commit(WriteSet(entries=[first], heads={"a": head(first)}, cursors={"x": 1}))
    for entries in ([entry("a", 2), entry("a", 1)], [entry("a", 2), entry("a", 2)]):
        with pytest.raises(ValueError, match="冲突"):
            await store.commit(
                WriteSet(entries=entries, heads={"a": head(entry("a", 2))}, cursors={"x": 9})
            )
    assert await store.log_end() == 1
    assert await store.cursor("x") == 1
    assert (await store.heads())["a"].seq == 1
    await store.commit(WriteSet(entries=[entry("a", 2)]))
    assert [e.pos for e in await store.log_after(0, 10)] == [1, 2]


async def test_sync_store_feed_naming_unlogged_entry_rolls_back(store: PiccoloSyncStore) -> None:
    with pytest.raises(ValueError, match="不存在"):
        await store.commit(
            WriteSet(entries=[entry("a", 1)], feed=[FeedEntry("zhen-a", "a", 2)], cursors={"x": 3})
        )
    assert await store.log_end() == 0
    assert await store.cursor("x") == 0
    assert await store.feed_after("zhen-a", 0, 10) == []


async def test_sync_store_reset_projection_keeps_log_feed_and_cursors(
    store: PiccoloSyncStore,
) -> None:
    for writes in scenario():
        await store.commit(writes)
    await store.reset_projection()
    assert await store.watermark() == 0
    assert await store.case_states(["c1", "c2"]) == {}
    assert await store.case_rows(["c1", "c2"]) == {}
    assert await store.case_parties(["c1", "c2"]) == {}
    assert await store.log_end() == 4
    assert await store.cursor("pull:county") == 5
    assert len(await store.feed_after("zhen-a", 0, 10)) == 3
    await store.commit(WriteSet(projections=[projection("c1", frozenset({"b"}))], watermark=1))
    assert await store.case_parties(["c1"]) == {"c1": frozenset({"b"})}
    assert await store.watermark() == 1


async def test_sync_store_bulk_batches_are_chunked_and_read_in_full(
    store: PiccoloSyncStore,
) -> None:
    entries = [entry(f"n{i % 3}", i // 3 + 1, f"c{i % 7}") for i in range(2_500)]
    await store.commit(
        WriteSet(
            entries=entries,
            heads={e.origin: head(e) for e in entries},
            feed=[FeedEntry("zhen-a", e.origin, e.seq) for e in entries],
        )
    )
    assert await store.log_end() == 2_500
    # Every second key of one origin (no runs), plus contiguous runs and unknown keys.
    keys = [("n0", s) for s in range(1, 834, 2)] + [
        (f"n{o}", s) for o in (1, 2) for s in range(1, 834)
    ]
    keys += [("n0", 9_999), ("ghost", 1)] + [("n1", s) for s in range(5_000, 12_000)]
    hashes = await store.hashes_at(keys)
    by_key = {(e.origin, e.seq): e.hash for e in entries}
    assert hashes == {k: by_key[k] for k in keys if k in by_key}
    assert len(hashes) == 417 + 2 * 833
    updates = [e.update_hash for e in entries] + [i.to_bytes(32, "big") for i in range(6_000)]
    assert await store.known_updates(updates) == {e.update_hash for e in entries}
    logged = await store.log_after(0, 10_000)
    assert [e.pos for e in logged] == list(range(1, 2_501))
    assert logged == [msgspec.structs.replace(e, pos=i) for i, e in enumerate(entries, 1)]
    case_log = await store.case_log([f"c{i}" for i in range(7)])
    assert sum(len(v) for v in case_log.values()) == 2_500
    assert all([e.pos for e in v] == sorted(e.pos for e in v) for v in case_log.values())
    feed = await store.feed_after("zhen-a", 2_000, 1_000)
    assert [p for p, _ in feed] == list(range(2_001, 2_501))
    assert [e for _, e in feed] == logged[2_000:]


async def test_sync_store_stores_extreme_values(store: PiccoloSyncStore) -> None:
    big = msgspec.structs.replace(
        entry("县/乡 'x'", 2**62, "案-1"), hlc=Hlc(2**62, 2**40), client_id=BIG_CLIENT
    )
    received = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    rejection = Rejection(
        origin="o",
        seq=1,
        hash=b"",
        case_id="",
        reason=Reason.MALFORMED,
        detail="",
        envelope=Envelope(body=b"\x00" * 300_000, sig=b""),
        received_at=received,
    )
    await store.commit(
        WriteSet(entries=[big], client_claims={BIG_CLIENT: "a"}, rejections=[rejection])
    )
    assert await store.log_after(0, 1) == [msgspec.structs.replace(big, pos=1)]
    assert await store.client_owners([BIG_CLIENT]) == {BIG_CLIENT: "a"}
    assert await store.rejections() == [rejection]
    assert (await store.rejections())[0].received_at.utcoffset() == timedelta(0)


async def test_sync_store_empty_queries_and_limits(store: PiccoloSyncStore) -> None:
    await store.commit(WriteSet())
    assert await store.log_end() == 0
    assert await store.heads([]) == {}
    assert await store.hashes_at([]) == {}
    assert await store.known_updates([]) == set()
    assert await store.client_owners([]) == {}
    assert await store.case_log([]) == {}
    assert await store.log_after(0, 0) == []
    assert await store.feed_after("x", 0, 0) == []
    assert await store.watermark() == 0


def test_key_clauses_use_ranges_for_runs_and_in_lists_for_the_rest() -> None:
    keys = [("a", s) for s in (1, 2, 3, 4, 9, 11, 12)] + [("b", 5)]
    assert key_clauses(keys) == [
        (
            "(origin = {} AND seq BETWEEN {} AND {}) OR (origin = {} AND seq IN ({}, {}, {}))"
            " OR (origin = {} AND seq IN ({}))",
            ["a", 1, 4, "a", 9, 11, 12, "b", 5],
        )
    ]
    assert key_clauses([]) == []
    many = key_clauses((f"o{i}", 1) for i in range(450))
    assert [len(params) for _, params in many] == [400, 400, 100]
