"""The county store's own SQLite connections: shared with Piccolo's, safe under cancellation,
and the WAL kept small although the commit connection never checkpoints it itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from central.db.bulk_sql import Sql
from central.db.engine import close_database, make_engine, open_database
from central.db.sync_store import PiccoloSyncStore, ensure_sync_schema
from sync.store import Head, WriteSet
from tests.sync.test_store_contract import chain

pytestmark = pytest.mark.anyio


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[tuple[PiccoloSyncStore, object, Path]]:
    path = tmp_path / "central.sqlite"
    engine = make_engine(None, path)
    await open_database(engine)
    await ensure_sync_schema(engine)
    try:
        yield PiccoloSyncStore(engine), engine, path
    finally:
        await close_database(engine)


def batch(origin: str, count: int, start: int = 1) -> WriteSet:
    entries = chain(origin, count, start=start, cases=tuple(f"case-{n}" for n in range(50)))
    last = entries[-1]
    return WriteSet(entries=entries, heads={origin: Head(origin, last.seq, last.hash, last.hlc)})


async def test_county_store_sees_piccolo_writes_and_piccolo_sees_its_commits(
    opened: tuple[PiccoloSyncStore, object, Path],
) -> None:
    store, engine, _ = opened
    assert await store.quarantined() == {}
    sql = "INSERT INTO sync_quarantine (origin, reason) VALUES ({}, {})"
    await engine.run_querystring(Sql(sql, ["town-a", "分叉"]))  # type: ignore[attr-defined]
    assert await store.quarantined() == {"town-a": "分叉"}
    await store.commit(batch("town-b", 3))
    rows = await engine.run_querystring(  # type: ignore[attr-defined]
        Sql("SELECT count(*) AS n FROM sync_log WHERE origin = {}", ["town-b"])
    )
    assert rows[0]["n"] == 3


async def test_county_store_commit_cancelled_midway_is_all_or_nothing_and_store_goes_on(
    opened: tuple[PiccoloSyncStore, object, Path],
) -> None:
    store, _, _ = opened
    first = batch("town-a", 3_000)
    task = asyncio.ensure_future(store.commit(first))
    await asyncio.sleep(0.002)  # the commit is running in its worker thread by now
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    follow = batch("town-b", 10)
    await store.commit(follow)
    log = await store.log_after(0, 10_000)
    assert len(log) in {10, 3_010}
    assert [e.pos for e in log] == list(range(1, len(log) + 1))
    assert [(e.origin, e.seq) for e in log[-10:]] == [("town-b", n) for n in range(1, 11)]


async def test_county_store_keeps_the_wal_small_over_many_commits(
    opened: tuple[PiccoloSyncStore, object, Path],
) -> None:
    store, _, path = opened
    for start in range(1, 30 * 400, 400):
        await store.commit(batch("town-a", 400, start))
    await asyncio.sleep(0.2)  # the last background checkpoint
    wal = path.with_name(path.name + "-wal")
    database = path.stat().st_size
    # Every commit wrote about as much as a tenth of the database; without checkpoints the WAL
    # would hold all of them.
    assert wal.stat().st_size < database / 2
    assert await store.log_end() == 30 * 400
