"""The county's replication store (:class:`sync.store.SyncStore`) on SQLite or PostgreSQL.

Behaves exactly like :class:`sync.memory_store.MemoryStore` (the contract suite checks both).
Every ``commit`` is one transaction (``BEGIN IMMEDIATE`` on SQLite, so the write lock is taken
up front) with one bulk statement per table: multi-row INSERTs of at most 1000 rows on SQLite,
``unnest()`` of column arrays on PostgreSQL. Every read is one statement per call unless, on
SQLite, the keys exceed one statement's parameter limit.

Log positions are ``max(pos) + 1`` inside the write transaction. That is safe because writers are
serialised: in this process by a lock, across processes by SQLite's write lock or, on
PostgreSQL, by a transaction-level advisory lock taken first in every commit. A sequence would
not do: sequence values commit out of order, and a child pulling "after pos N" would skip an
entry that became visible late.
"""

# ruff: noqa: S608 - SQL text is built from constant identifiers; values are always bound.

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache
from typing import Any

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from central.db.bulk_sql import Sql, chunks, insert_sql, key_clauses, marks, row_chunks
from central.db.sync_rows import (
    ENTRY,
    HEAD,
    LOG,
    PG_TYPES,
    REJECTION,
    ROW,
    case_row,
    entry_values,
    head,
    log_entry,
    rejection_of,
    rejection_values,
    row_values,
)
from sync.store import CaseRow, Head, LogEntry, Rejection, WriteSet

_WRITER_LOCK_KEY = 0x7470_6E62_616E  # PostgreSQL advisory lock id ("tongban")

_SCHEMA = (
    "CREATE UNIQUE INDEX IF NOT EXISTS sync_log_origin_seq ON sync_log (origin, seq)",
    "CREATE INDEX IF NOT EXISTS sync_log_case_pos ON sync_log (case_id, pos)",
    "CREATE UNIQUE INDEX IF NOT EXISTS sync_held_origin_seq ON sync_held (origin, seq)",
    "CREATE UNIQUE INDEX IF NOT EXISTS case_party_case_node ON case_party (case_id, node)",
    "CREATE INDEX IF NOT EXISTS sync_feed_child_pos ON sync_feed (child, feed_pos)",
    # Client ownership is looked up in sync_client; an index on the log's random client ids only
    # slowed every ingest commit (databases created by 0.1.0 development builds had one).
    "DROP INDEX IF EXISTS sync_log_client_id",
)


def _forward_only(table: str, key: str, column: str) -> str:
    """ON CONFLICT clause for a value that only moves forward."""
    return (
        f"ON CONFLICT ({key}) DO UPDATE SET {column} = CASE WHEN excluded.{column} > "
        f"{table}.{column} THEN excluded.{column} ELSE {table}.{column} END"
    )


def _set_all(columns: Sequence[str], skip: int = 1) -> str:
    return ", ".join(f"{c} = excluded.{c}" for c in columns[skip:])


_HEAD_UPSERT = (
    "ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
    "hlc_wall = excluded.hlc_wall, hlc_counter = excluded.hlc_counter "
    "WHERE excluded.seq > sync_head.seq"
)
_HELD_UPSERT = f"ON CONFLICT (origin, seq) DO UPDATE SET {_set_all(ENTRY, skip=2)}"
_ROW_UPSERT = f"ON CONFLICT (case_id) DO UPDATE SET {_set_all(ROW)}"
_LOG_SELECT = f"SELECT {', '.join('l.' + c for c in LOG)} FROM sync_log l"
_PG_ARRAY = {str: "text", bytes: "bytea", int: "bigint"}


async def ensure_sync_schema(engine: Engine) -> None:  # type: ignore[type-arg]
    """Create the composite indexes Piccolo cannot declare (idempotent).

    Call after the tables exist (``open_database``); the upserts rely on these unique indexes.
    """
    for ddl in _SCHEMA:
        await engine.run_ddl(ddl)


class PiccoloSyncStore:
    """:class:`sync.store.SyncStore` in the county database.

    Args:
        engine: an engine whose tables exist and on which :func:`ensure_sync_schema` ran.
    """

    def __init__(self, engine: Engine) -> None:  # type: ignore[type-arg]
        self._engine = engine
        self._postgres = isinstance(engine, PostgresEngine)
        self._lock = asyncio.Lock()

    # ---------------------------------------------------------------- writes

    async def commit(self, writes: WriteSet) -> None:
        """Apply ``writes`` in one transaction.

        Raises:
            ValueError: an entry is already logged (or logged twice), or a feed item names an
                entry that is not in the log; nothing is written.
        """
        if writes.is_empty():
            return
        async with self._lock:
            try:
                async with self._transaction():
                    await self._apply(writes)
            except (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError) as exc:
                raise ValueError(f"同步记录写入冲突，整批未保存：{exc}") from exc

    async def reset_projection(self) -> None:
        """Forget projected states, rows and parties; the watermark goes back to 0."""
        async with self._lock, self._transaction():
            for table in ("case_state", "case_row", "case_party", "projection_watermark"):
                await self._run(f"DELETE FROM {table}")

    async def _apply(self, w: WriteSet) -> None:
        if self._postgres:
            await self._run(f"SELECT pg_advisory_xact_lock({_WRITER_LOCK_KEY})")
        if w.entries:
            end = await self.log_end()
            await self._insert(
                "sync_log", LOG, [(end + i, *entry_values(e)) for i, e in enumerate(w.entries, 1)]
            )
        if w.heads:
            heads = [(o, h.seq, h.hash, h.hlc.wall_ms, h.hlc.counter) for o, h in w.heads.items()]
            await self._insert("sync_head", HEAD, heads, _HEAD_UPSERT)
        if w.client_claims:
            claims = list(w.client_claims.items())
            tail = "ON CONFLICT (client_id) DO NOTHING"
            await self._insert("sync_client", ("client_id", "node"), claims, tail)
        if w.held:
            # PostgreSQL refuses to upsert one key twice in a statement: the last one wins.
            held = {(e.origin, e.seq): entry_values(e) for e in w.held}
            await self._insert("sync_held", ENTRY, list(held.values()), _HELD_UPSERT)
        for where, params in key_clauses(w.released):
            await self._run(f"DELETE FROM sync_held WHERE {where}", params)
        if w.rejections:
            await self._insert(
                "sync_rejection", REJECTION, [rejection_values(r) for r in w.rejections]
            )
        if w.quarantines:
            tail = "ON CONFLICT (origin) DO NOTHING"
            await self._insert("sync_quarantine", ("origin", "reason"), w.quarantines.items(), tail)
        if w.projections:
            await self._project(w)
        if w.watermark is not None:
            tail = _forward_only("projection_watermark", "id", "watermark")
            await self._insert(
                "projection_watermark", ("id", "watermark"), [(1, w.watermark)], tail
            )
        if w.feed:
            await self._queue_feed(w)
        if w.cursors:
            tail = _forward_only("sync_cursor", "name", "value")
            await self._insert("sync_cursor", ("name", "value"), w.cursors.items(), tail)

    async def _project(self, w: WriteSet) -> None:
        latest = {p.case_id: p for p in w.projections}
        states = [(c, p.state) for c, p in latest.items()]
        tail = "ON CONFLICT (case_id) DO UPDATE SET state = excluded.state"
        await self._insert("case_state", ("case_id", "state"), states, tail)
        await self._insert(
            "case_row", ROW, [row_values(p.row) for p in latest.values()], _ROW_UPSERT
        )
        for match, params in self._in(list(latest)):
            await self._run(f"DELETE FROM case_party WHERE case_id {match}", params)
        parties = [(c, node) for c, p in latest.items() for node in sorted(p.parties)]
        await self._insert("case_party", ("case_id", "node"), parties)

    async def _queue_feed(self, w: WriteSet) -> None:
        named = {(f.origin, f.seq) for f in w.feed} - {(e.origin, e.seq) for e in w.entries}
        found: set[tuple[str, int]] = set()
        for where, params in key_clauses(named):
            rows = await self._run(f"SELECT origin, seq FROM sync_log WHERE {where}", params)
            found.update((r["origin"], r["seq"]) for r in rows)
        if missing := named - found:
            raise ValueError(f"分发队列引用了同步日志中不存在的记录：{sorted(missing)[:5]}")
        rows = await self._run("SELECT coalesce(max(feed_pos), 0) AS n FROM sync_feed")
        start = int(rows[0]["n"])
        items = [(start + i, f.child, f.origin, f.seq) for i, f in enumerate(w.feed, 1)]
        await self._insert("sync_feed", ("feed_pos", "child", "origin", "seq"), items)

    # ----------------------------------------------------------------- reads

    async def heads(self, origins: Collection[str] | None = None) -> dict[str, Head]:
        """Heads of these origins (all when None); unknown origins are absent."""
        select = f"SELECT {', '.join(HEAD)} FROM sync_head"
        if origins is None:
            rows = await self._run(select)
        else:
            rows = await self._select_in(f"{select} WHERE origin IN ({{}})", list(set(origins)))
        return {r["origin"]: head(r) for r in rows}

    async def hashes_at(self, keys: Collection[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
        """Hash of the logged envelope at each ``(origin, seq)``."""
        wanted = set(keys)
        found: dict[tuple[str, int], bytes] = {}
        for where, params in key_clauses(wanted):
            sql = f"SELECT origin, seq, hash FROM sync_log WHERE {where}"
            for r in await self._run(sql, params):
                found[(r["origin"], r["seq"])] = r["hash"]
        return found

    async def known_updates(self, update_hashes: Collection[bytes]) -> set[bytes]:
        """Which of these update hashes are already in the log."""
        sql = "SELECT DISTINCT update_hash FROM sync_log WHERE update_hash IN ({})"
        return {r["update_hash"] for r in await self._select_in(sql, list(set(update_hashes)))}

    async def client_owners(self, client_ids: Collection[int]) -> dict[int, str]:
        """Owning node of each known client id."""
        sql = "SELECT client_id, node FROM sync_client WHERE client_id IN ({})"
        return {
            r["client_id"]: r["node"] for r in await self._select_in(sql, list(set(client_ids)))
        }

    async def quarantined(self) -> dict[str, str]:
        """Quarantined origins and why."""
        rows = await self._run("SELECT origin, reason FROM sync_quarantine")
        return {r["origin"]: r["reason"] for r in rows}

    async def held(self, origin: str | None = None) -> list[LogEntry]:
        """Held envelopes (of one origin, or all), ordered by origin then seq."""
        select = f"SELECT 0 AS pos, {', '.join(ENTRY)} FROM sync_held"
        if origin is None:
            rows = await self._run(f"{select} ORDER BY origin, seq")
        else:
            rows = await self._run(f"{select} WHERE origin = {{}} ORDER BY seq", [origin])
        return [log_entry(r) for r in rows]

    async def log_after(self, pos: int, limit: int) -> list[LogEntry]:
        """Log entries with ``pos`` greater than ``pos``, ascending, at most ``limit``."""
        if limit <= 0:
            return []
        sql = f"{_LOG_SELECT} WHERE l.pos > {{}} ORDER BY l.pos LIMIT {{}}"
        return [log_entry(r) for r in await self._run(sql, [pos, limit])]

    async def log_end(self) -> int:
        """The highest ``pos`` in the log (0 when empty)."""
        rows = await self._run("SELECT coalesce(max(pos), 0) AS n FROM sync_log")
        return int(rows[0]["n"])

    async def case_log(self, case_ids: Collection[str]) -> dict[str, list[LogEntry]]:
        """Every log entry of each case, ordered by ``pos``."""
        sql = f"{_LOG_SELECT} WHERE l.case_id IN ({{}}) ORDER BY l.pos"
        found: dict[str, list[LogEntry]] = {}
        for r in await self._select_in(sql, list(set(case_ids))):
            found.setdefault(r["case_id"], []).append(log_entry(r))
        return found

    async def case_states(self, case_ids: Collection[str]) -> dict[str, bytes]:
        """Projected CRDT state of each case."""
        sql = "SELECT case_id, state FROM case_state WHERE case_id IN ({})"
        return {r["case_id"]: r["state"] for r in await self._select_in(sql, list(set(case_ids)))}

    async def case_parties(self, case_ids: Collection[str]) -> dict[str, frozenset[str]]:
        """Nodes taking part in each projected case (empty for a case with none)."""
        sql = (
            "SELECT s.case_id, p.node FROM case_state s "
            "LEFT JOIN case_party p ON p.case_id = s.case_id WHERE s.case_id IN ({})"
        )
        found: dict[str, set[str]] = {}
        for r in await self._select_in(sql, list(set(case_ids))):
            nodes = found.setdefault(r["case_id"], set())
            if r["node"] is not None:
                nodes.add(r["node"])
        return {case_id: frozenset(nodes) for case_id, nodes in found.items()}

    async def case_rows(self, case_ids: Collection[str]) -> dict[str, CaseRow]:
        """Projected rows."""
        sql = f"SELECT {', '.join(ROW)} FROM case_row WHERE case_id IN ({{}})"
        return {r["case_id"]: case_row(r) for r in await self._select_in(sql, list(set(case_ids)))}

    async def watermark(self) -> int:
        """Log position up to which every entry is projected."""
        rows = await self._run("SELECT watermark FROM projection_watermark WHERE id = 1")
        return int(rows[0]["watermark"]) if rows else 0

    async def cursor(self, name: str) -> int:
        """A named cursor (0 when never set)."""
        rows = await self._run("SELECT value FROM sync_cursor WHERE name = {}", [name])
        return int(rows[0]["value"]) if rows else 0

    async def feed_after(self, child: str, after: int, limit: int) -> list[tuple[int, LogEntry]]:
        """Feed of ``child`` after feed position ``after``: ``(feed_pos, entry)`` ascending."""
        if limit <= 0:
            return []
        sql = (
            f"{_LOG_SELECT.replace('SELECT ', 'SELECT f.feed_pos, ', 1)} "
            "JOIN sync_feed f ON l.origin = f.origin AND l.seq = f.seq "
            "WHERE f.child = {} AND f.feed_pos > {} ORDER BY f.feed_pos LIMIT {}"
        )
        rows = await self._run(sql, [child, after, limit])
        return [(int(r["feed_pos"]), log_entry(r)) for r in rows]

    async def rejections(self, origin: str | None = None) -> list[Rejection]:
        """Rejected envelopes (of one origin, or all), oldest first."""
        select = f"SELECT {', '.join(REJECTION)} FROM sync_rejection"
        if origin is None:
            rows = await self._run(f"{select} ORDER BY id")
        else:
            rows = await self._run(f"{select} WHERE origin = {{}} ORDER BY id", [origin])
        return [rejection_of(r) for r in rows]

    # --------------------------------------------------------------- plumbing

    def _transaction(self) -> Any:
        if isinstance(self._engine, SQLiteEngine):
            return self._engine.transaction(transaction_type=TransactionType.immediate)
        return self._engine.transaction()

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self._engine.run_querystring(Sql(sql, params)))

    async def _select_in(self, sql: str, values: list[Any]) -> list[Any]:
        """Run ``sql`` whose one ``IN ({})`` takes ``values``, in as few statements as possible."""
        rows: list[Any] = []
        for match, params in self._in(values):
            rows.extend(await self._run(sql.replace("IN ({})", match), params))
        return rows

    def _in(self, values: list[Any]) -> Iterable[tuple[str, list[Any]]]:
        """``IN (…)`` conditions for ``values``: one array parameter on PostgreSQL (one cached
        statement for any count), chunked placeholder lists on SQLite."""
        if not values:
            return
        if self._postgres:
            yield f"= ANY({{}}::{_PG_ARRAY[type(values[0])]}[])", [values]
            return
        for part in chunks(values):
            yield f"IN ({marks(len(part))})", list(part)

    async def _insert(
        self, table: str, columns: tuple[str, ...], rows: Collection[Sequence[Any]], tail: str = ""
    ) -> None:
        listed = list(rows)
        if not listed:
            return
        if self._postgres:
            # One statement whatever the row count: a column array per parameter.
            arrays = [list(column) for column in zip(*listed, strict=True)]
            await self._run(_unnest_sql(table, columns, tail), arrays)
            return
        for part in row_chunks(listed, len(columns)):
            sql = insert_sql(table, columns, len(part), tail)
            await self._run(sql, [value for row in part for value in row])


@lru_cache(maxsize=64)
def _unnest_sql(table: str, columns: tuple[str, ...], tail: str) -> str:
    types = PG_TYPES[table]
    arrays = ", ".join(f"{{}}::{types[column]}[]" for column in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) {tail}"
