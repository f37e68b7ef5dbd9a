"""A background projection beside ingest: it gives way to sync calls, never to a deadlock, and
ends exactly where projecting everything one step after the other ends."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any, cast

import pytest

from sync.memory_store import MemoryStore
from sync.reasons import Outcome
from sync.replica import Replica
from sync.store import LogEntry, SyncStore, WriteSet
from tests.sync.test_verify import EAST, WEST, Writer, make_net, rated
from tests.sync.tree import accepted, forwarded, new_case_id, received

pytestmark = pytest.mark.anyio

CASES = 40


def backlog(writer: Writer, count: int = CASES) -> list[Any]:
    """``count`` new cases of the community, one envelope each."""
    envelopes = []
    for _ in range(count):
        case_id = new_case_id()
        envelopes.append(writer.write(case_id, received(case_id, EAST), accepted(case_id, EAST)))
    return envelopes


async def logged(replica: Replica, envelopes: list[Any]) -> None:
    results = await replica.receive(envelopes, project=False)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}


async def turns(count: int = 50) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def finished(replica: Replica) -> None:
    task = replica._projector
    assert task is not None
    await asyncio.wait_for(task, timeout=10)


async def started(replica: Replica) -> None:
    """Start a background projection and let it into its first chunk (it holds the lock)."""
    waiting = await replica.backlog()
    replica.project_soon()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert await replica.backlog() == waiting


class ReadCount:
    """The receiver's store, counting log reads."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.reads = 0

    async def log_after(self, pos: int, limit: int) -> list[LogEntry]:
        self.reads += 1
        return await self._store.log_after(pos, limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_background_projection_waits_while_a_call_is_answered() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    await logged(replica, backlog(east))
    counted = ReadCount(cast(MemoryStore, replica.store))
    replica.store = cast(SyncStore, counted)
    async with replica.answering():
        replica.project_soon()  # started by the call: not even its reads go first
        await turns()
        assert await replica.backlog() == CASES and counted.reads == 0
    await finished(replica)
    assert await replica.backlog() == 0
    await logged(replica, backlog(east))
    await started(replica)
    async with replica.answering():  # a call arrives in the middle of a chunk
        await turns()
        assert await replica.backlog() == CASES
    await finished(replica)
    assert await replica.backlog() == 0


async def test_background_projection_under_endless_calls_still_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sync.replica.GIVE_WAY_SECONDS", 0.05)
    net = make_net()
    replica = net.replica()
    await logged(replica, backlog(net.writer(EAST)))
    async with replica.answering():  # calls back to back, never a moment without one
        replica.project_soon()
        await finished(replica)
        assert await replica.backlog() == 0


async def test_background_projection_does_not_hold_up_ingest() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    await logged(replica, backlog(east))
    await started(replica)
    async with replica.answering():
        await turns()
        more = backlog(east, 5)
        results = await asyncio.wait_for(replica.receive(more, project=False), timeout=10)
        assert {r.outcome for r in results} == {Outcome.ACCEPTED}
        assert await replica.store.watermark() == 0
    await finished(replica)
    await replica.project()
    assert await replica.backlog() == 0


async def test_inline_projection_during_a_call_is_not_stuck_behind_a_paused_one() -> None:
    net = make_net()
    replica = net.replica()
    await logged(replica, backlog(net.writer(EAST)))
    await started(replica)
    async with replica.answering():
        await turns()
        assert await replica.store.watermark() == 0  # paused, in the middle of its chunk
        # What the last round of a short push does: project before answering.
        await asyncio.wait_for(replica.project(), timeout=10)
        assert await replica.backlog() == 0
    await finished(replica)


async def test_background_projection_beside_ingest_ends_like_one_step_after_the_other() -> None:
    net = make_net()
    east = net.writer(EAST)
    first, second = backlog(east), backlog(east, 12)
    concurrent, serial = net.replica(), net.replica()
    await logged(concurrent, first)
    async with concurrent.answering():
        concurrent.project_soon()
        await turns(5)
        await concurrent.receive(second, project=False)
    await finished(concurrent)
    await concurrent.project()
    await serial.receive(first)
    await serial.receive(second)
    log = await serial.store.log_after(0, 1_000)
    cases = {e.case_id for e in log}
    assert len(cases) == CASES + 12
    assert await concurrent.store.case_rows(cases) == await serial.store.case_rows(cases)
    assert await concurrent.store.log_after(0, 1_000) == log


class LateIngest:
    """The receiver's store, except that the first whole-case read comes just after another
    push was logged: what a concurrent ingest does while a projection chunk is being fed."""

    def __init__(self, store: MemoryStore, late: list[Any]) -> None:
        self._store = store
        self._late = late
        self.replica: Replica | None = None

    async def case_log(self, case_ids: Collection[str]) -> dict[str, list[LogEntry]]:
        if self._late:
            late, self._late = self._late, []
            assert self.replica is not None
            await self.replica.receive(late, project=False)
        return await self._store.case_log(case_ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_projection_feeds_a_new_party_only_entries_up_to_its_chunk() -> None:
    net = make_net()
    east = net.writer(EAST)
    case_id = new_case_id()
    opened = east.write(case_id, received(case_id, EAST), accepted(case_id, EAST))
    handed = east.write(case_id, forwarded(case_id, EAST, WEST, "community"))
    rating = east.write(case_id, rated(case_id, EAST))
    store = LateIngest(MemoryStore(), [rating])
    replica = net.replica()
    replica.store = cast(SyncStore, store)
    store.replica = replica
    await replica.receive([opened])
    # WEST becomes a party with this chunk; the rating is logged while the chunk is fed.
    await replica.receive([handed])
    await replica.project()
    feed = [(e.origin, e.seq) for _, e in await replica.store.feed_after(WEST, 0, 100)]
    assert sorted(feed) == [(EAST, 1), (EAST, 2), (EAST, 3)]
    assert await replica.backlog() == 0


class SlowCommits:
    """The receiver's store, with commits that land a moment late, as a database's do."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def commit(self, writes: WriteSet) -> None:
        await asyncio.sleep(0.002)
        await self._store.commit(writes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.mark.parametrize("chunk", [3, 7, 1_000])
async def test_chunked_projection_ends_like_one_pass(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    # Cases interleaved so that they straddle chunks, and a violation half-way that bars its
    # origin's later records: each chunk must start from what the one before it projected.
    net = make_net()
    east, west = net.writer(EAST), net.writer(WEST)
    cases = [new_case_id() for _ in range(6)]
    envelopes = []
    for number, case_id in enumerate(cases):
        writer, node = (east, EAST) if number % 2 else (west, WEST)
        envelopes.append(writer.write(case_id, received(case_id, node)))
    for number, case_id in enumerate(cases):
        writer, node = (east, EAST) if number % 2 else (west, WEST)
        envelopes.append(writer.write(case_id, accepted(case_id, node)))
        if number == 3:
            bad = east.forge(case_id, lambda _doc, array: array.append("不是事件"))
            envelopes.append(bad)
    for number, case_id in enumerate(cases):
        writer, node = (east, EAST) if number % 2 else (west, WEST)
        envelopes.append(writer.write(case_id, rated(case_id, node)))
    chunked, whole = net.replica(), net.replica()
    chunked.store = cast(SyncStore, SlowCommits(cast(MemoryStore, chunked.store)))
    await logged(chunked, envelopes)
    await logged(whole, envelopes)
    monkeypatch.setattr("sync.replica.PROJECTION_CHUNK", chunk)
    report = await chunked.project()
    monkeypatch.setattr("sync.replica.PROJECTION_CHUNK", 10_000)
    await whole.project()
    assert report.entries == len(envelopes) and await chunked.backlog() == 0
    assert await chunked.store.case_rows(cases) == await whole.store.case_rows(cases)
    assert await chunked.store.quarantined() == await whole.store.quarantined() != {}
    # Found in another order, the same rejections.
    assert sorted(
        (r.origin, r.seq, r.reason, r.detail) for r in await chunked.store.rejections()
    ) == sorted((r.origin, r.seq, r.reason, r.detail) for r in await whole.store.rejections())
    for child in (EAST, WEST):
        assert [e for _, e in await chunked.store.feed_after(child, 0, 1_000)] == [
            e for _, e in await whole.store.feed_after(child, 0, 1_000)
        ]
