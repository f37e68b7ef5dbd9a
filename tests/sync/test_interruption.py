"""Interrupted replication: a receiver killed mid-batch, lost responses, a pull cut between pages.

The receiver's store is made to crash on its Nth commit after writing half of the write set
inside the transaction (a staged copy for :class:`MemoryStore`, an open SQLite transaction for
the node store), so a missing rollback would show. After each crash the store must hold exactly
what some whole number of commits wrote; after a restart and a resumed sync every origin's
records must be there once each and every row must equal a clean projection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

import node.storage.sync_store as node_sync_store
from node.storage.database import NodeDatabase
from node.storage.sync_store import NodeSyncStore
from shared.errors import UnavailableError
from sync.client import PULL_CURSOR, PUSH_CURSOR, SyncClient
from sync.memory_store import MemoryStore
from sync.reasons import Outcome
from sync.replica import Replica
from sync.store import LogEntry, SyncStore, WriteSet
from tests.sync.tree import (
    CATALOG,
    NOW,
    Member,
    Tree,
    accepted,
    build_tree,
    decided,
    forwarded,
    new_case_id,
    received,
    transport_to,
    urged,
)

pytestmark = pytest.mark.anyio

COMMUNITY, TOWN, COUNTY = "she-dongcun", "zhen-shifan", "county"
BATCH = 8


class CrashError(Exception):
    """The receiving process dies here."""


@dataclass
class Fuse:
    """Blows on the ``at``-th non-empty commit (counting from 1); None never blows."""

    at: int | None = None
    count: int = 0
    blown: bool = False

    def trips(self, writes: WriteSet) -> bool:
        if writes.is_empty():
            return False
        self.count += 1
        self.blown = self.blown or self.count == self.at
        return self.count == self.at


def half_of(writes: WriteSet) -> WriteSet:
    """What a process killed half way through writing ``writes`` would have written."""
    return WriteSet(
        entries=writes.entries[: (len(writes.entries) + 1) // 2],
        client_claims=dict(list(writes.client_claims.items())[: len(writes.client_claims) // 2]),
        rejections=writes.rejections[: len(writes.rejections) // 2],
        projections=writes.projections[: (len(writes.projections) + 1) // 2],
    )


class CrashingMemoryStore(MemoryStore):
    """Writes half of the doomed write set into the staged copy, then dies before the swap."""

    def __init__(self, fuse: Fuse) -> None:
        super().__init__()
        self.fuse = fuse  # shared by the staged copies, so the count survives commits

    def _apply(self, writes: WriteSet) -> None:
        if self.fuse.trips(writes):
            super()._apply(half_of(writes))
            raise CrashError(f"killed during commit {self.fuse.count}")
        super()._apply(writes)


@dataclass
class Backend:
    """Opens the store of the tier under test; ``reopen`` simulates a process restart."""

    name: str
    fuse: Fuse
    path: Path
    database: NodeDatabase | None = None
    store: SyncStore | None = None

    def open(self) -> SyncStore:
        if self.name == "memory":
            if self.store is None:
                self.store = CrashingMemoryStore(self.fuse)
            return self.store
        self.database = NodeDatabase(self.path)
        self.store = NodeSyncStore(self.database)
        return self.store

    def reopen(self) -> SyncStore:
        if self.database is not None:
            self.database.close()
            self.database = None
        return self.open()

    def close(self) -> None:
        if self.database is not None:
            self.database.close()


@pytest.fixture(params=["memory", "node"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Backend]:
    fuse = Fuse()
    if request.param == "node":
        real_apply = node_sync_store._apply

        def crashing_apply(conn: Any, writes: WriteSet) -> None:
            if fuse.trips(writes):
                # inside BEGIN IMMEDIATE: NodeDatabase.write must roll this half back
                real_apply(conn, half_of(writes))
                raise CrashError(f"killed during commit {fuse.count}")
            real_apply(conn, writes)

        monkeypatch.setattr(node_sync_store, "_apply", crashing_apply)
    opened = Backend(request.param, fuse, tmp_path / "node.sqlite")
    try:
        yield opened
    finally:
        opened.close()


def tree_with(backend: Backend, node_id: str) -> Tree:
    """The tree with the tier ``node_id`` on the backend under test."""

    def factory(name: str) -> SyncStore:
        return backend.open() if name == node_id else MemoryStore()

    return build_tree(factory, batch_size=BATCH)


def restart(tree: Tree, member: Member, store: SyncStore) -> None:
    """A new process for ``member`` over ``store``: fresh Replica and SyncClient."""
    old = member.replica
    member.store = store
    member.replica = Replica(
        store,
        node_id=member.node_id,
        key=member.key,
        registry=lambda: old.registry,
        catalog_for=lambda version: CATALOG if version == 1 else None,
        calendar=old._calendar,
        clock=lambda: NOW,
    )
    if member.parent is not None:
        member.client = client_for(member, transport_to(member, member.parent, lambda: NOW))


def client_for(member: Member, transport: httpx.AsyncBaseTransport) -> SyncClient:
    assert member.parent is not None
    return SyncClient(
        member.replica,
        parent_url=f"http://{member.parent.node_id}.test",
        key=member.key,
        clock=lambda: NOW,
        release_version=lambda: None,
        install_release=lambda raw: None,
        transport=transport,
        batch_size=BATCH,
        pull_limit=BATCH,
    )


# -- what every store must look like after any crash -------------------------------------------


async def whole_log(store: SyncStore) -> list[LogEntry]:
    return await store.log_after(0, 1_000_000)


async def clean_rows(tree: Tree, log: list[LogEntry], upto: int | None = None) -> dict[str, Any]:
    """Rows of a fresh receiver given ``log`` (up to a position) in one go."""
    registry = tree.registry
    assert registry is not None
    fresh = Replica(
        MemoryStore(),
        node_id=COUNTY,  # the county holds every case: no feeds get in the way
        key=None,
        registry=lambda: registry,
        catalog_for=lambda version: CATALOG if version == 1 else None,
        calendar=tree.county.replica._calendar,
        clock=lambda: NOW,
    )
    entries = [e for e in log if upto is None or e.pos <= upto]
    results = await fresh.receive([e.envelope for e in entries])
    assert {r.outcome for r in results} <= {Outcome.ACCEPTED}
    return await fresh.store.case_rows({e.case_id for e in entries})


def encoded(rows: dict[str, Any]) -> dict[str, bytes]:
    return {case_id: msgspec.msgpack.encode(row) for case_id, row in rows.items()}


async def assert_consistent(tree: Tree, store: SyncStore, node_id: str) -> list[LogEntry]:
    """Positions, heads and projection agree with each other and with a clean projection.

    Origins inside the receiver's subtree arrive whole (seqs 1..n, head at n); origins above it
    arrive only for the cases the receiver takes part in (each seq once, no head).
    """
    log = await whole_log(store)
    assert [e.pos for e in log] == list(range(1, len(log) + 1))
    assert await store.log_end() == len(log)
    seqs: dict[str, list[LogEntry]] = {}
    for entry in log:
        seqs.setdefault(entry.origin, []).append(entry)
    heads = await store.heads()
    subtree = tree[node_id].replica.registry.subtree(node_id)
    assert set(heads) == {o for o in seqs if o in subtree}
    for origin, entries in seqs.items():
        numbers = [e.seq for e in entries]
        assert len(numbers) == len(set(numbers)), origin
        if origin not in subtree:
            continue
        assert numbers == list(range(1, len(entries) + 1)), origin
        assert (heads[origin].seq, heads[origin].hash) == (entries[-1].seq, entries[-1].hash)
    assert await store.held() == []
    assert await store.rejections() == []
    watermark = await store.watermark()
    assert 0 <= watermark <= len(log)
    projected = await store.case_rows({e.case_id for e in log})
    assert encoded(projected) == encoded(await clean_rows(tree, log, watermark))
    return log


async def assert_same_records(store: SyncStore, reference: SyncStore) -> None:
    """Every origin's records exactly once, byte for byte those of ``reference``."""
    mine = {(e.origin, e.seq): e.envelope for e in await whole_log(store)}
    theirs = {(e.origin, e.seq): e.envelope for e in await whole_log(reference)}
    assert len(mine) == await store.log_end()
    assert mine == theirs


# -- workloads ---------------------------------------------------------------------------------


async def community_backlog(tree: Tree, cases: int = 24) -> list[str]:
    """Cases received offline at the community; every other one forwarded (36 envelopes)."""
    ids = []
    for n in range(cases):
        case_id = new_case_id()
        ids.append(case_id)
        receipt = f"DCS-20260302-{n + 1:04d}-X"
        await tree.community.record(
            case_id, received(case_id, COMMUNITY), accepted(case_id, COMMUNITY, receipt)
        )
        if n % 2:
            await tree.community.record(case_id, forwarded(case_id, COMMUNITY, TOWN, "township"))
    return ids


async def upper_backlog(tree: Tree, ids: list[str]) -> None:
    """Decisions at the township and urges from the county on the community's cases."""
    await tree.community.sync()
    await tree.township.sync()
    for n, case_id in enumerate(ids):
        if n % 3 == 0:
            await tree.county.record(case_id, urged(case_id, COUNTY, f"u{n}"))
    await tree.township.sync()
    for case_id in ids:
        await tree.township.record(case_id, decided(case_id, TOWN))


# -- a receiver killed mid-push ----------------------------------------------------------------


@pytest.mark.parametrize("crash_at", [1, 2, 3, 4, 5, 6])
async def test_interruption_township_killed_during_a_large_push(
    backend: Backend, crash_at: int
) -> None:
    tree = tree_with(backend, TOWN)
    ids = await community_backlog(tree)
    backend.fuse.count, backend.fuse.at = 0, crash_at
    with pytest.raises(CrashError):
        await tree.community.sync()
    assert backend.fuse.blown
    backend.fuse.at = None

    store = backend.reopen()
    log = await assert_consistent(tree, store, TOWN)
    assert len(log) < 36 or await store.watermark() < len(log)
    restart(tree, tree.township, store)

    report = await tree.community.sync()
    assert report.rejected == []
    assert report.accepted + report.duplicates == report.pushed
    await tree.township.sync()
    await assert_consistent(tree, store, TOWN)
    await assert_same_records(store, tree.community.store)
    await assert_same_records(tree.county.store, tree.community.store)
    expected = encoded(await tree.community.store.case_rows(ids))
    assert len(expected) == 24
    assert encoded(await store.case_rows(ids)) == expected
    assert encoded(await tree.county.store.case_rows(ids)) == expected


async def test_interruption_push_commit_count_covers_every_crash_point() -> None:
    # 36 envelopes in batches of 8: five ingest commits and one projection. The crash tests
    # above kill the township at each of them; if this count changes, extend their crash_at.
    fuse = Fuse()
    tree = build_tree(
        lambda name: CrashingMemoryStore(fuse) if name == TOWN else MemoryStore(),
        batch_size=BATCH,
    )
    await community_backlog(tree)
    before = fuse.count
    await tree.community.sync()
    assert fuse.count - before == 6


# -- a receiver killed mid-pull ----------------------------------------------------------------


@pytest.mark.parametrize("crash_at", [1, 2, 3, 4, 5, 6])
async def test_interruption_community_killed_while_pulling_pages(
    backend: Backend, crash_at: int
) -> None:
    tree = tree_with(backend, COMMUNITY)
    ids = await community_backlog(tree)
    await upper_backlog(tree, ids)
    backend.fuse.count, backend.fuse.at = 0, crash_at
    with pytest.raises(CrashError):
        await tree.community.sync()
    assert backend.fuse.blown
    backend.fuse.at = None

    store = backend.reopen()
    await assert_consistent(tree, store, COMMUNITY)
    # the pull cursor covers exactly what was stored
    cursor = await store.cursor(PULL_CURSOR)
    fed = await tree.township.store.feed_after(COMMUNITY, 0, 10_000)
    stored = {(e.origin, e.seq) for e in await whole_log(store)}
    assert {(e.origin, e.seq) for pos, e in fed if pos <= cursor} <= stored
    assert {(e.origin, e.seq) for pos, e in fed if pos > cursor}.isdisjoint(stored)
    restart(tree, tree.community, store)

    report = await tree.community.sync()
    assert report.rejected == []
    await assert_consistent(tree, store, COMMUNITY)
    await assert_same_records(store, tree.township.store)
    await tree.township.sync()
    expected = encoded(await tree.township.store.case_rows(ids))
    assert set(expected) == set(ids)
    assert encoded(await store.case_rows(ids)) == expected
    assert encoded(await tree.county.store.case_rows(ids)) == expected
    for row in (await store.case_rows(ids)).values():
        assert row.status == "approved"


async def test_interruption_pull_commit_count_covers_every_crash_point() -> None:
    fuse = Fuse()
    tree = build_tree(
        lambda name: CrashingMemoryStore(fuse) if name == COMMUNITY else MemoryStore(),
        batch_size=BATCH,
    )
    ids = await community_backlog(tree)
    await upper_backlog(tree, ids)
    before = fuse.count
    report = await tree.community.sync()
    # 32 fed envelopes in pages of 8: four pages, the final empty one, then one projection
    # (the crash tests above kill the community at each; extend their crash_at if this changes)
    assert report.pulled == 32
    assert fuse.count - before == 6


# -- lost responses and a pull cut between pages -----------------------------------------------


class Flaky(httpx.AsyncBaseTransport):
    """Counts calls; loses the response of the calls in ``lose``; refuses calls after ``cut``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls = 0
        self.lose: set[int] = set()
        self.cut: int | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.cut is not None and self.calls > self.cut:
            raise httpx.ConnectError("link down", request=request)
        response = await self.inner.handle_async_request(request)
        if self.calls in self.lose:
            await response.aread()
            raise httpx.ReadError("connection reset after the parent answered", request=request)
        return response


def flaky_community(tree: Tree) -> Flaky:
    community = tree.community
    assert community.parent is not None
    transport = Flaky(transport_to(community, community.parent, lambda: NOW))
    community.client = client_for(community, transport)
    return transport


@pytest.mark.parametrize("lost", [1, 2, 3, 5])
async def test_interruption_lost_push_response_is_retried_as_duplicates(
    backend: Backend, lost: int
) -> None:
    tree = tree_with(backend, TOWN)
    ids = await community_backlog(tree)
    transport = flaky_community(tree)
    transport.lose = {lost}
    with pytest.raises(UnavailableError):
        await tree.community.sync()
    committed = await tree.township.store.log_end()
    assert committed == min(lost * BATCH, 36)
    assert await tree.community.store.cursor(PUSH_CURSOR) == (lost - 1) * BATCH

    report = await tree.community.sync()
    assert report.duplicates == min(BATCH, 36 - (lost - 1) * BATCH)
    assert report.accepted == 36 - committed
    assert report.rejected == []
    store = tree.township.store
    await assert_consistent(tree, store, TOWN)
    await assert_same_records(store, tree.community.store)
    assert encoded(await store.case_rows(ids)) == encoded(await tree.community.store.case_rows(ids))


@pytest.mark.parametrize("lost", [1, 2, 4])
async def test_interruption_lost_pull_response_is_pulled_again(backend: Backend, lost: int) -> None:
    tree = tree_with(backend, COMMUNITY)
    ids = await community_backlog(tree)
    await upper_backlog(tree, ids)
    transport = flaky_community(tree)
    transport.lose = {lost}
    with pytest.raises(UnavailableError):
        await tree.community.sync()
    store = tree.community.store
    log = await assert_consistent(tree, store, COMMUNITY)
    assert len(log) == 36 + (lost - 1) * BATCH

    report = await tree.community.sync()
    assert report.pulled == 32 - (lost - 1) * BATCH
    await assert_consistent(tree, store, COMMUNITY)
    await assert_same_records(store, tree.township.store)
    assert encoded(await store.case_rows(ids)) == encoded(await tree.township.store.case_rows(ids))


@pytest.mark.parametrize("pages", [1, 2, 3])
async def test_interruption_pull_cut_between_pages_resumes_where_it_stopped(
    backend: Backend, pages: int
) -> None:
    tree = tree_with(backend, COMMUNITY)
    ids = await community_backlog(tree)
    await upper_backlog(tree, ids)
    before = encoded(await tree.community.store.case_rows(ids))
    transport = flaky_community(tree)
    transport.cut = pages
    with pytest.raises(UnavailableError):
        await tree.community.sync()
    store = tree.community.store
    log = await assert_consistent(tree, store, COMMUNITY)
    assert len(log) == 36 + pages * BATCH
    # pages with more to come are logged but not projected until the pull completes
    assert await store.watermark() == 36
    assert encoded(await store.case_rows(ids)) == before

    transport.cut = None
    report = await tree.community.sync()
    assert report.pulled == 32 - pages * BATCH
    await assert_consistent(tree, store, COMMUNITY)
    await assert_same_records(store, tree.township.store)
    assert encoded(await store.case_rows(ids)) == encoded(await tree.township.store.case_rows(ids))


async def test_interruption_the_same_push_sent_twice_applies_once(backend: Backend) -> None:
    tree = tree_with(backend, TOWN)
    ids = await community_backlog(tree)
    entries, _ = await tree.community.replica.outgoing(0, 1_000)
    first = await tree.township.replica.receive([e.envelope for e in entries])
    second = await tree.township.replica.receive([e.envelope for e in entries])
    assert {r.outcome for r in first} == {Outcome.ACCEPTED}
    assert {r.outcome for r in second} == {Outcome.DUPLICATE}
    store = tree.township.store
    await assert_consistent(tree, store, TOWN)
    assert await store.log_end() == 36
    assert encoded(await store.case_rows(ids)) == encoded(await tree.community.store.case_rows(ids))
