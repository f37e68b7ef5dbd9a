"""The county's replication store (:class:`sync.store.SyncStore`) on SQLite or PostgreSQL.

Behaves exactly like :class:`sync.memory_store.MemoryStore` (the contract suite checks both).
Every ``commit`` is one transaction (``BEGIN IMMEDIATE`` on SQLite, so the write lock is taken
up front) with one bulk statement per table: multi-row INSERTs of at most 1000 rows on SQLite;
on PostgreSQL a binary COPY for plain inserts and ``unnest()`` of column arrays for upserts
(projected states and rows are replaced: deleted, then copied). Every read is one statement per
call unless, on SQLite, the keys exceed one statement's parameter limit.

Each operation is written once, as a *plan*: a generator that yields its statements and is sent
each statement's rows, and runs on one connection. On PostgreSQL that is a connection of the
engine's pool (a commit in its own transaction, never the caller's). On SQLite it is one of this
store's long-lived connections (see :class:`_SqliteFile`), in a worker thread, each operation in
one thread hop and one transaction, so reads see one snapshot. Piccolo's SQLite engine would open
a new connection, with a cold page cache, for every statement outside a transaction and convert
every INTEGER through ``Decimal``; replication runs a dozen statements per batch and reads tens
of thousands of rows. Values are stored in Piccolo's formats, so other code reads these tables
through Piccolo as before.

Log positions are ``max(pos) + 1`` inside the write transaction. That is safe because writers are
serialised: in this process by a lock, across processes by SQLite's write lock or, on
PostgreSQL, by a transaction-level advisory lock taken first in every commit. A sequence would
not do: sequence values commit out of order, and a child pulling "after pos N" would skip an
entry that became visible late.
"""

# ruff: noqa: S608 - SQL text is built from constant identifiers; values are always bound.

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Collection, Generator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

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

T = TypeVar("T")


@dataclass(frozen=True)
class _Copy:
    """A plain INSERT of many rows, which PostgreSQL loads fastest with a binary COPY."""

    table: str
    columns: tuple[str, ...]
    rows: Sequence[Sequence[Any]]


Statement = tuple[str, Sequence[Any]] | _Copy
Plan = Generator[Statement, list[Any], T]
"""An operation: yields each statement (``{}`` placeholders) and is sent its rows."""

logger = logging.getLogger(__name__)

_WRITER_LOCK_KEY = 0x7470_6E62_616E  # PostgreSQL advisory lock id ("tongban")
_CACHE_KIB = 32 * 1024
"""Page cache of each of the store's SQLite connections: the log's random-key indexes (hash,
update hash, case) stay in memory instead of being read again for every batch."""

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


def _one(sql: str, params: Sequence[Any] = ()) -> Plan[list[Any]]:
    rows = yield sql, params
    return rows


class PiccoloSyncStore:
    """:class:`sync.store.SyncStore` in the county database.

    Args:
        engine: an engine whose tables exist and on which :func:`ensure_sync_schema` ran.
    """

    def __init__(self, engine: Engine) -> None:  # type: ignore[type-arg]
        self._engine = engine
        self._postgres = isinstance(engine, PostgresEngine)
        self._pg_engine = engine if isinstance(engine, PostgresEngine) else None
        self._file = _SqliteFile(engine.path) if isinstance(engine, SQLiteEngine) else None
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
                await self._write(self._apply(writes))
            except (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError) as exc:
                raise ValueError(f"同步记录写入冲突，整批未保存：{exc}") from exc

    async def reset_projection(self) -> None:
        """Forget projected states, rows and parties; the watermark goes back to 0."""

        def reset() -> Plan[None]:
            for table in ("case_state", "case_row", "case_party", "projection_watermark"):
                yield f"DELETE FROM {table}", ()

        async with self._lock:
            await self._write(reset())

    def _apply(self, w: WriteSet) -> Plan[None]:
        if self._postgres:
            yield f"SELECT pg_advisory_xact_lock({_WRITER_LOCK_KEY})", ()
        if w.entries:
            end = yield from self._log_end()
            yield from self._insert(
                "sync_log", LOG, [(end + i, *entry_values(e)) for i, e in enumerate(w.entries, 1)]
            )
        if w.heads:
            heads = [(o, h.seq, h.hash, h.hlc.wall_ms, h.hlc.counter) for o, h in w.heads.items()]
            yield from self._insert("sync_head", HEAD, heads, _HEAD_UPSERT)
        if w.client_claims:
            claims = list(w.client_claims.items())
            tail = "ON CONFLICT (client_id) DO NOTHING"
            yield from self._insert("sync_client", ("client_id", "node"), claims, tail)
        if w.held:
            # PostgreSQL refuses to upsert one key twice in a statement: the last one wins.
            held = {(e.origin, e.seq): entry_values(e) for e in w.held}
            yield from self._insert("sync_held", ENTRY, list(held.values()), _HELD_UPSERT)
        for where, params in key_clauses(w.released):
            yield f"DELETE FROM sync_held WHERE {where}", params
        if w.rejections:
            yield from self._insert(
                "sync_rejection", REJECTION, [rejection_values(r) for r in w.rejections]
            )
        if w.quarantines:
            tail = "ON CONFLICT (origin) DO NOTHING"
            quarantines = list(w.quarantines.items())
            yield from self._insert("sync_quarantine", ("origin", "reason"), quarantines, tail)
        if w.projections:
            yield from self._project(w)
        if w.watermark is not None:
            tail = _forward_only("projection_watermark", "id", "watermark")
            yield from self._insert(
                "projection_watermark", ("id", "watermark"), [(1, w.watermark)], tail
            )
        if w.feed:
            yield from self._queue_feed(w)
        if w.cursors:
            tail = _forward_only("sync_cursor", "name", "value")
            cursors = list(w.cursors.items())
            yield from self._insert("sync_cursor", ("name", "value"), cursors, tail)

    def _project(self, w: WriteSet) -> Plan[None]:
        latest = {p.case_id: p for p in w.projections}
        states = [(c, p.state) for c, p in latest.items()]
        rows = [row_values(p.row) for p in latest.values()]
        replaced = ["case_party"]
        if self._postgres:
            # Replacing beats upserting there: the new rows then go in by COPY.
            replaced = ["case_state", "case_row", "case_party"]
        for table in replaced:
            for match, params in self._in(list(latest)):
                yield f"DELETE FROM {table} WHERE case_id {match}", params
        if self._postgres:
            yield from self._insert("case_state", ("case_id", "state"), states)
            yield from self._insert("case_row", ROW, rows)
        else:
            tail = "ON CONFLICT (case_id) DO UPDATE SET state = excluded.state"
            yield from self._insert("case_state", ("case_id", "state"), states, tail)
            yield from self._insert("case_row", ROW, rows, _ROW_UPSERT)
        parties = [(c, node) for c, p in latest.items() for node in sorted(p.parties)]
        yield from self._insert("case_party", ("case_id", "node"), parties)

    def _queue_feed(self, w: WriteSet) -> Plan[None]:
        named = {(f.origin, f.seq) for f in w.feed} - {(e.origin, e.seq) for e in w.entries}
        found: set[tuple[str, int]] = set()
        for where, params in key_clauses(named):
            rows = yield f"SELECT origin, seq FROM sync_log WHERE {where}", params
            found.update((r["origin"], r["seq"]) for r in rows)
        if missing := named - found:
            raise ValueError(f"分发队列引用了同步日志中不存在的记录：{sorted(missing)[:5]}")
        rows = yield "SELECT coalesce(max(feed_pos), 0) AS n FROM sync_feed", ()
        start = int(rows[0]["n"])
        items = [(start + i, f.child, f.origin, f.seq) for i, f in enumerate(w.feed, 1)]
        yield from self._insert("sync_feed", ("feed_pos", "child", "origin", "seq"), items)

    # ----------------------------------------------------------------- reads

    async def heads(self, origins: Collection[str] | None = None) -> dict[str, Head]:
        """Heads of these origins (all when None); unknown origins are absent."""
        select = f"SELECT {', '.join(HEAD)} FROM sync_head"
        if origins is None:
            rows = await self._read(_one(select))
        else:
            sql = f"{select} WHERE origin IN ({{}})"
            rows = await self._read(self._select_in(sql, list(set(origins))))
        return {r["origin"]: head(r) for r in rows}

    async def hashes_at(self, keys: Collection[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
        """Hash of the logged envelope at each ``(origin, seq)``."""

        def plan() -> Plan[list[Any]]:
            rows: list[Any] = []
            for where, params in key_clauses(set(keys)):
                rows.extend((yield f"SELECT origin, seq, hash FROM sync_log WHERE {where}", params))
            return rows

        return {(r["origin"], r["seq"]): r["hash"] for r in await self._read(plan())}

    async def known_updates(self, update_hashes: Collection[bytes]) -> set[bytes]:
        """Which of these update hashes are already in the log."""
        sql = "SELECT DISTINCT update_hash FROM sync_log WHERE update_hash IN ({})"
        rows = await self._read(self._select_in(sql, list(set(update_hashes))))
        return {r["update_hash"] for r in rows}

    async def client_owners(self, client_ids: Collection[int]) -> dict[int, str]:
        """Owning node of each known client id."""
        sql = "SELECT client_id, node FROM sync_client WHERE client_id IN ({})"
        rows = await self._read(self._select_in(sql, list(set(client_ids))))
        return {r["client_id"]: r["node"] for r in rows}

    async def quarantined(self) -> dict[str, str]:
        """Quarantined origins and why."""
        rows = await self._read(_one("SELECT origin, reason FROM sync_quarantine"))
        return {r["origin"]: r["reason"] for r in rows}

    async def held(self, origin: str | None = None) -> list[LogEntry]:
        """Held envelopes (of one origin, or all), ordered by origin then seq."""
        select = f"SELECT 0 AS pos, {', '.join(ENTRY)} FROM sync_held"
        if origin is None:
            rows = await self._read(_one(f"{select} ORDER BY origin, seq"))
        else:
            rows = await self._read(_one(f"{select} WHERE origin = {{}} ORDER BY seq", [origin]))
        return [log_entry(r) for r in rows]

    async def log_after(self, pos: int, limit: int) -> list[LogEntry]:
        """Log entries with ``pos`` greater than ``pos``, ascending, at most ``limit``."""
        if limit <= 0:
            return []
        sql = f"{_LOG_SELECT} WHERE l.pos > {{}} ORDER BY l.pos LIMIT {{}}"
        return [log_entry(r) for r in await self._read(_one(sql, [pos, limit]))]

    async def log_end(self) -> int:
        """The highest ``pos`` in the log (0 when empty)."""
        return await self._read(self._log_end())

    def _log_end(self) -> Plan[int]:
        rows = yield "SELECT coalesce(max(pos), 0) AS n FROM sync_log", ()
        return int(rows[0]["n"])

    async def case_log(self, case_ids: Collection[str]) -> dict[str, list[LogEntry]]:
        """Every log entry of each case, ordered by ``pos``."""
        sql = f"{_LOG_SELECT} WHERE l.case_id IN ({{}}) ORDER BY l.pos"
        found: dict[str, list[LogEntry]] = {}
        for r in await self._read(self._select_in(sql, list(set(case_ids)))):
            found.setdefault(r["case_id"], []).append(log_entry(r))
        return found

    async def case_states(self, case_ids: Collection[str]) -> dict[str, bytes]:
        """Projected CRDT state of each case."""
        sql = "SELECT case_id, state FROM case_state WHERE case_id IN ({})"
        rows = await self._read(self._select_in(sql, list(set(case_ids))))
        return {r["case_id"]: r["state"] for r in rows}

    async def case_parties(self, case_ids: Collection[str]) -> dict[str, frozenset[str]]:
        """Nodes taking part in each projected case (empty for a case with none)."""
        sql = (
            "SELECT s.case_id, p.node FROM case_state s "
            "LEFT JOIN case_party p ON p.case_id = s.case_id WHERE s.case_id IN ({})"
        )
        found: dict[str, set[str]] = {}
        for r in await self._read(self._select_in(sql, list(set(case_ids)))):
            nodes = found.setdefault(r["case_id"], set())
            if r["node"] is not None:
                nodes.add(r["node"])
        return {case_id: frozenset(nodes) for case_id, nodes in found.items()}

    async def case_rows(self, case_ids: Collection[str]) -> dict[str, CaseRow]:
        """Projected rows."""
        sql = f"SELECT {', '.join(ROW)} FROM case_row WHERE case_id IN ({{}})"
        rows = await self._read(self._select_in(sql, list(set(case_ids))))
        return {r["case_id"]: case_row(r) for r in rows}

    async def watermark(self) -> int:
        """Log position up to which every entry is projected."""
        rows = await self._read(_one("SELECT watermark FROM projection_watermark WHERE id = 1"))
        return int(rows[0]["watermark"]) if rows else 0

    async def cursor(self, name: str) -> int:
        """A named cursor (0 when never set)."""
        rows = await self._read(_one("SELECT value FROM sync_cursor WHERE name = {}", [name]))
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
        rows = await self._read(_one(sql, [child, after, limit]))
        return [(int(r["feed_pos"]), log_entry(r, 1)) for r in rows]

    async def rejections(self, origin: str | None = None) -> list[Rejection]:
        """Rejected envelopes (of one origin, or all), oldest first."""
        select = f"SELECT {', '.join(REJECTION)} FROM sync_rejection"
        if origin is None:
            rows = await self._read(_one(f"{select} ORDER BY id"))
        else:
            rows = await self._read(_one(f"{select} WHERE origin = {{}} ORDER BY id", [origin]))
        return [rejection_of(r) for r in rows]

    # --------------------------------------------------------------- plumbing

    async def _read(self, plan: Plan[T]) -> T:
        if self._file is not None:
            return await self._file.read(plan)
        async with self._connection() as connection:
            return await _drive_postgres(connection, plan)

    async def _write(self, plan: Plan[T]) -> T:
        """Run ``plan`` as one transaction (callers hold ``self._lock``)."""
        if self._file is not None:
            return await self._file.write(plan)
        async with self._connection() as connection, connection.transaction():
            return await _drive_postgres(connection, plan)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of the engine's pool (PostgreSQL), for one whole operation."""
        engine = self._pg_engine
        assert engine is not None
        if engine.pool is not None:
            async with engine.pool.acquire() as pooled:
                yield pooled
            return
        connection = await engine.get_new_connection()
        try:
            yield connection
        finally:
            await connection.close()

    def _select_in(self, sql: str, values: list[Any]) -> Plan[list[Any]]:
        """``sql`` whose one ``IN ({})`` takes ``values``, in as few statements as possible."""
        rows: list[Any] = []
        for match, params in self._in(values):
            rows.extend((yield sql.replace("IN ({})", match), params))
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

    def _insert(
        self, table: str, columns: tuple[str, ...], rows: Sequence[Sequence[Any]], tail: str = ""
    ) -> Plan[None]:
        if not rows:
            return
        if self._postgres:
            if not tail:
                yield _Copy(table, columns, rows)
                return
            # One statement whatever the row count: a column array per parameter.
            arrays = [list(column) for column in zip(*rows, strict=True)]
            yield _unnest_sql(table, columns, tail), arrays
            return
        for part in row_chunks(rows, len(columns)):
            sql = insert_sql(table, columns, len(part), tail)
            yield sql, [value for row in part for value in row]


class _SqliteFile:
    """The store's connections to the county's SQLite file, used from worker threads.

    Each operation (a whole plan) runs in one thread hop, inside one transaction of its
    connection: reads on one connection, commits on another. The commit connection does not
    checkpoint the WAL itself: copying a large batch's pages into the database file (and
    syncing it) would nearly double the time before the batch is acknowledged. A third
    connection does it after each commit, in the background, and the next commit waits for it
    (it is normally long done) so that SQLite can start the WAL over instead of growing it. The
    WAL is synced at every commit all the same.
    """

    def __init__(self, path: str) -> None:
        self._reader = _Connection(path)
        # FULL: an acknowledged batch survives a power cut, not only a killed process.
        self._writer = _Connection(
            path, "PRAGMA synchronous = FULL", "PRAGMA wal_autocheckpoint = 0"
        )
        self._checkpointer = _Connection(path)
        self._checkpoint: asyncio.Task[None] | None = None

    async def read(self, plan: Plan[T]) -> T:
        """Run a read-only plan on one snapshot."""
        return await self._reader.run(plan, "BEGIN")

    async def write(self, plan: Plan[T]) -> T:
        """Run a plan in one write transaction, the write lock taken first."""
        if self._checkpoint is not None:
            await asyncio.wait([self._checkpoint])
        result = await self._writer.run(plan, "BEGIN IMMEDIATE")
        self._checkpoint = asyncio.get_running_loop().create_task(self._checkpointed())
        return result

    async def _checkpointed(self) -> None:
        try:
            await self._checkpointer.run(_one("PRAGMA wal_checkpoint(PASSIVE)"), None)
        except sqlite3.Error:
            # Nothing is lost: the WAL keeps every commit; the next commit tries again.
            logger.warning("WAL checkpoint failed", exc_info=True)


class _Connection:
    """One long-lived sqlite3 connection, opened on first use.

    An asyncio lock keeps one operation on it at a time; a thread lock keeps it so even when
    the awaiting task was cancelled while its operation still runs in the worker thread.
    """

    def __init__(self, path: str, *setup: str) -> None:
        self._path = path
        self._setup = setup
        self._connection: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._thread_lock = threading.Lock()

    async def run(self, plan: Plan[T], begin: str | None) -> T:
        """Run ``plan`` in a worker thread, inside ``begin`` … COMMIT unless ``begin`` is None."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, self._run, plan, begin)

    def _run(self, plan: Plan[T], begin: str | None) -> T:
        with self._thread_lock:
            connection = self._connection or self._open()
            if begin is None:
                return _drive_sqlite(connection, plan)
            connection.execute(begin)
            try:
                result = _drive_sqlite(connection, plan)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            return result

    def _open(self) -> sqlite3.Connection:
        # Rows are read by column name; values arrive as stored (dates as ISO text), and
        # central.db.sync_rows converts them as Piccolo's own converters would.
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        for pragma in (
            "PRAGMA foreign_keys = 1",
            f"PRAGMA cache_size = -{_CACHE_KIB}",
            *self._setup,
        ):
            connection.execute(pragma)
        self._connection = connection
        return connection


def _drive_sqlite(connection: sqlite3.Connection, plan: Plan[T]) -> T:
    rows: list[Any] | None = None
    try:
        while True:
            statement = plan.send(rows)  # type: ignore[arg-type]
            assert not isinstance(statement, _Copy)  # plans copy on PostgreSQL only
            query, args = Sql(*statement).compile_string("sqlite")
            rows = connection.execute(query, args).fetchall()
    except StopIteration as done:
        result: T = done.value
        return result


async def _drive_postgres(connection: asyncpg.Connection, plan: Plan[T]) -> T:
    rows: list[Any] | None = None
    try:
        while True:
            statement = plan.send(rows)  # type: ignore[arg-type]
            if isinstance(statement, _Copy):
                columns = list(statement.columns)
                await connection.copy_records_to_table(
                    statement.table, records=statement.rows, columns=columns
                )
                rows = []
                continue
            query, args = Sql(*statement).compile_string("postgres")
            rows = await connection.fetch(query, *args)
    except StopIteration as done:
        result: T = done.value
        return result


@lru_cache(maxsize=64)
def _unnest_sql(table: str, columns: tuple[str, ...], tail: str) -> str:
    types = PG_TYPES[table]
    arrays = ", ".join(f"{{}}::{types[column]}[]" for column in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) {tail}"
