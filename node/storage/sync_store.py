"""The node's replication store: :class:`sync.store.SyncStore` on the node's SQLite file.

The methods are ``async`` to fit the protocol but run their SQLite work inline: a fast SQLite
call on the event loop is cheaper than a hop to a worker thread. Each :meth:`commit` is one
``BEGIN IMMEDIATE … COMMIT`` through :meth:`NodeDatabase.write` with one ``executemany`` per
table, so a write set is applied entirely or not at all. Schema: migration ``m002_replication``.

Across processes: :class:`~sync.replica.Replica` reads a case's CRDT state, the heads and the log
end, computes, and commits; two processes doing that on one file would lose each other's writes.
So one process at a time owns the replica, marked by :class:`WriterLock` (an exclusive ``flock``
that the kernel drops when its holder dies, even on ``kill -9``): the web process holds it while
it runs, and the worker syncs by itself only when it can take it (see
:mod:`node.services.replication`).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from sqlite_utils import Database

from node.storage.database import NodeDatabase
from shared.hlc import Hlc
from sync.envelope import Envelope
from sync.reasons import Reason
from sync.store import CaseProjection, CaseRow, Head, LogEntry, Rejection, WriteSet

T = TypeVar("T")
Row = tuple[Any, ...]

_CHUNK = 900
"""Bound parameters per ``IN (…)`` list, well under SQLite's variable limit."""

# Statements are plain literals; "{}" marks where an IN list of "?" placeholders goes.
_LOG_SELECT = (
    "SELECT pos, origin, seq, hash, prev, case_id, hlc_wall, hlc_counter, client_id,"
    " update_hash, body, sig FROM sync_log"
)
_HELD_SELECT = (
    "SELECT pos, origin, seq, hash, prev, case_id, hlc_wall, hlc_counter, client_id,"
    " update_hash, body, sig FROM sync_held"
)
_FEED_SELECT = (
    "SELECT f.feed_pos, l.pos, l.origin, l.seq, l.hash, l.prev, l.case_id, l.hlc_wall,"
    " l.hlc_counter, l.client_id, l.update_hash, l.body, l.sig"
    " FROM sync_feed AS f JOIN sync_log AS l ON l.origin = f.origin AND l.seq = f.seq"
    " WHERE f.child = ? AND f.feed_pos > ? ORDER BY f.feed_pos LIMIT ?"
)
_HEADS_SELECT = "SELECT origin, seq, hash, hlc_wall, hlc_counter FROM sync_head"
_HEADS_IN = "SELECT origin, seq, hash, hlc_wall, hlc_counter FROM sync_head WHERE origin IN ({})"
_HASHES_IN = "SELECT seq, hash FROM sync_log WHERE origin = ? AND seq IN ({})"
_CASE_LOG_IN = (
    "SELECT pos, origin, seq, hash, prev, case_id, hlc_wall, hlc_counter, client_id,"
    " update_hash, body, sig FROM sync_log WHERE case_id IN ({}) ORDER BY pos"
)
_ROWS_IN = (
    "SELECT case_id, item_code, catalog_version, origin_node, handling_node, status,"
    " receipt_no, applicant_name, received_on, accepted_on, promised_due, statutory_due,"
    " due_provisional, paused, finished, light, flags, events_count, last_hlc_wall,"
    " last_hlc_counter, state_json FROM case_row WHERE case_id IN ({})"
)
_REJECTIONS_SELECT = (
    "SELECT origin, seq, hash, case_id, reason, detail, body, sig, received_at FROM sync_rejection"
)
_INSERT_LOG = (
    "INSERT INTO sync_log (origin, seq, hash, prev, case_id, hlc_wall, hlc_counter,"
    " client_id, update_hash, body, sig) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_HELD = (
    "INSERT OR REPLACE INTO sync_held (pos, origin, seq, hash, prev, case_id, hlc_wall,"
    " hlc_counter, client_id, update_hash, body, sig) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
_UPSERT_ROW = (
    "INSERT INTO case_row (case_id, item_code, catalog_version, origin_node, handling_node,"
    " status, receipt_no, applicant_name, received_on, accepted_on, promised_due,"
    " statutory_due, due_provisional, paused, finished, light, flags, events_count,"
    " last_hlc_wall, last_hlc_counter, state_json)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (case_id) DO UPDATE SET item_code = excluded.item_code,"
    " catalog_version = excluded.catalog_version, origin_node = excluded.origin_node,"
    " handling_node = excluded.handling_node, status = excluded.status,"
    " receipt_no = excluded.receipt_no, applicant_name = excluded.applicant_name,"
    " received_on = excluded.received_on, accepted_on = excluded.accepted_on,"
    " promised_due = excluded.promised_due, statutory_due = excluded.statutory_due,"
    " due_provisional = excluded.due_provisional, paused = excluded.paused,"
    " finished = excluded.finished, light = excluded.light, flags = excluded.flags,"
    " events_count = excluded.events_count, last_hlc_wall = excluded.last_hlc_wall,"
    " last_hlc_counter = excluded.last_hlc_counter, state_json = excluded.state_json"
)
_FLAGS_DECODER = msgspec.json.Decoder(tuple[str, ...])


class NodeSyncStore:
    """:class:`~sync.store.SyncStore` backed by the tables of migration ``m002_replication``."""

    def __init__(self, database: NodeDatabase) -> None:
        self._database = database

    async def commit(self, writes: WriteSet) -> None:
        """Apply ``writes`` in one transaction.

        Raises:
            ValueError: an entry is already in the log (or repeated in ``writes``), or a feed
                item names an entry that is not in the log; nothing of ``writes`` is kept.
        """
        if writes.is_empty():
            return
        self._database.write(lambda db: _apply(db.conn, writes))

    async def heads(self, origins: Collection[str] | None = None) -> dict[str, Head]:
        """Heads of these origins (all when None); unknown origins are absent."""
        if origins is None:
            rows = self._read(lambda conn: conn.execute(_HEADS_SELECT).fetchall())
        else:
            rows = self._read_in(_HEADS_IN, origins)
        return {r[0]: Head(origin=r[0], seq=r[1], hash=r[2], hlc=Hlc(r[3], r[4])) for r in rows}

    async def hashes_at(self, keys: Collection[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
        """Hash of the logged envelope at each ``(origin, seq)``; absent when not logged."""
        seqs_of: dict[str, list[int]] = {}
        for origin, seq in dict.fromkeys(keys):
            seqs_of.setdefault(origin, []).append(seq)

        # Keys come in runs per origin, so one query per origin and chunk of seqs.
        def query(conn: sqlite3.Connection) -> dict[tuple[str, int], bytes]:
            found: dict[tuple[str, int], bytes] = {}
            for origin, seqs in seqs_of.items():
                for chunk in _chunks(seqs, _CHUNK - 1):
                    sql = _HASHES_IN.format(_marks(len(chunk)))
                    for seq, digest in conn.execute(sql, (origin, *chunk)):
                        found[(origin, seq)] = digest
            return found

        return self._read(query)

    async def known_updates(self, update_hashes: Collection[bytes]) -> set[bytes]:
        """Which of these update hashes are already in the log."""
        sql = "SELECT DISTINCT update_hash FROM sync_log WHERE update_hash IN ({})"
        return {r[0] for r in self._read_in(sql, update_hashes)}

    async def client_owners(self, client_ids: Collection[int]) -> dict[int, str]:
        """Owning node of each known client id."""
        sql = "SELECT client_id, node FROM sync_client WHERE client_id IN ({})"
        return {r[0]: r[1] for r in self._read_in(sql, client_ids)}

    async def quarantined(self) -> dict[str, str]:
        """Quarantined origins and why."""
        sql = "SELECT origin, reason FROM sync_quarantine"
        return {r[0]: r[1] for r in self._read(lambda conn: conn.execute(sql).fetchall())}

    async def held(self, origin: str | None = None) -> list[LogEntry]:
        """Held envelopes (of one origin, or all), ordered by origin then seq."""
        if origin is None:
            sql = _HELD_SELECT + " ORDER BY origin, seq"
            rows = self._read(lambda conn: conn.execute(sql).fetchall())
        else:
            sql = _HELD_SELECT + " WHERE origin = ? ORDER BY seq"
            rows = self._read(lambda conn: conn.execute(sql, (origin,)).fetchall())
        return [_entry(r) for r in rows]

    async def log_after(self, pos: int, limit: int) -> list[LogEntry]:
        """Log entries with ``pos`` greater than ``pos``, ascending, at most ``limit``."""
        if limit <= 0:
            return []
        sql = _LOG_SELECT + " WHERE pos > ? ORDER BY pos LIMIT ?"
        return [_entry(r) for r in self._read(lambda c: c.execute(sql, (pos, limit)).fetchall())]

    async def log_end(self) -> int:
        """The highest ``pos`` in the log (0 when empty)."""
        sql = "SELECT coalesce(max(pos), 0) FROM sync_log"
        return int(self._read(lambda conn: conn.execute(sql).fetchone()[0]))

    async def case_log(self, case_ids: Collection[str]) -> dict[str, list[LogEntry]]:
        """Every log entry of each case, ordered by ``pos``; cases without entries absent."""
        found: dict[str, list[LogEntry]] = {}
        # Each case falls in one chunk, so per-case order by pos survives the chunking.
        for row in self._read_in(_CASE_LOG_IN, case_ids):
            found.setdefault(row[5], []).append(_entry(row))
        return found

    async def case_states(self, case_ids: Collection[str]) -> dict[str, bytes]:
        """Projected CRDT state of each case."""
        sql = "SELECT case_id, state FROM case_state WHERE case_id IN ({})"
        return {r[0]: r[1] for r in self._read_in(sql, case_ids)}

    async def case_parties(self, case_ids: Collection[str]) -> dict[str, frozenset[str]]:
        """Nodes taking part in each projected case (empty for a projected case without any)."""
        sql = (
            "SELECT s.case_id, p.node_id FROM case_state AS s"
            " LEFT JOIN case_party AS p ON p.case_id = s.case_id WHERE s.case_id IN ({})"
        )
        nodes: dict[str, set[str]] = {}
        for case_id, node_id in self._read_in(sql, case_ids):
            members = nodes.setdefault(case_id, set())
            if node_id is not None:
                members.add(node_id)
        return {case_id: frozenset(members) for case_id, members in nodes.items()}

    async def case_rows(self, case_ids: Collection[str]) -> dict[str, CaseRow]:
        """Projected rows."""
        return {r[0]: _case_row(r) for r in self._read_in(_ROWS_IN, case_ids)}

    async def watermark(self) -> int:
        """Log position up to which every entry is projected."""
        sql = "SELECT watermark FROM sync_meta WHERE id = 1"
        return int(self._read(lambda conn: conn.execute(sql).fetchone()[0]))

    async def cursor(self, name: str) -> int:
        """A named cursor (0 when never set)."""
        sql = "SELECT value FROM sync_cursor WHERE name = ?"
        row = self._read(lambda conn: conn.execute(sql, (name,)).fetchone())
        return 0 if row is None else int(row[0])

    async def feed_after(self, child: str, after: int, limit: int) -> list[tuple[int, LogEntry]]:
        """Feed of ``child`` after feed position ``after``: ``(feed_pos, entry)`` ascending."""
        if limit <= 0:
            return []
        rows = self._read(lambda conn: conn.execute(_FEED_SELECT, (child, after, limit)).fetchall())
        return [(r[0], _entry(r[1:])) for r in rows]

    async def rejections(self, origin: str | None = None) -> list[Rejection]:
        """Rejected envelopes (of one origin, or all), oldest first."""
        if origin is None:
            sql = _REJECTIONS_SELECT + " ORDER BY id"
            rows = self._read(lambda conn: conn.execute(sql).fetchall())
        else:
            sql = _REJECTIONS_SELECT + " WHERE origin = ? ORDER BY id"
            rows = self._read(lambda conn: conn.execute(sql, (origin,)).fetchall())
        return [
            Rejection(
                origin=r[0],
                seq=r[1],
                hash=r[2],
                case_id=r[3],
                reason=Reason(r[4]),
                detail=r[5],
                envelope=Envelope(body=r[6], sig=r[7]),
                received_at=datetime.fromisoformat(r[8]),
            )
            for r in rows
        ]

    async def reset_projection(self) -> None:
        """Forget every projected state, row and party and set the watermark to 0."""

        def reset(db: Database) -> None:
            db.conn.execute("DELETE FROM case_state")
            db.conn.execute("DELETE FROM case_row")
            db.conn.execute("DELETE FROM case_party")
            db.conn.execute("UPDATE sync_meta SET watermark = 0 WHERE id = 1")

        self._database.write(reset)

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._database.read(lambda db: fn(db.conn))

    def _read_in(self, sql: str, values: Iterable[Any]) -> list[Row]:
        """Run ``sql`` (with one ``{}`` for the IN list) over ``values`` in bounded chunks."""
        unique = list(dict.fromkeys(values))

        def query(conn: sqlite3.Connection) -> list[Row]:
            rows: list[Row] = []
            for chunk in _chunks(unique, _CHUNK):
                rows.extend(conn.execute(sql.format(_marks(len(chunk))), chunk).fetchall())
            return rows

        return self._read(query) if unique else []


def _apply(conn: sqlite3.Connection, writes: WriteSet) -> None:
    """Write everything in ``writes``; the caller's transaction rolls back on any error."""
    if writes.entries:
        try:
            conn.executemany(_INSERT_LOG, [_entry_params(e)[1:] for e in writes.entries])
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"日志中已有这批记录中的某一条（{exc}），整批未写入。") from exc
    if writes.heads:
        conn.executemany(
            "INSERT INTO sync_head (origin, seq, hash, hlc_wall, hlc_counter) VALUES (?,?,?,?,?)"
            " ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
            " hlc_wall = excluded.hlc_wall, hlc_counter = excluded.hlc_counter"
            " WHERE excluded.seq > sync_head.seq",
            [(o, h.seq, h.hash, h.hlc.wall_ms, h.hlc.counter) for o, h in writes.heads.items()],
        )
    if writes.client_claims:
        conn.executemany(
            "INSERT INTO sync_client (client_id, node) VALUES (?, ?)"
            " ON CONFLICT (client_id) DO NOTHING",
            list(writes.client_claims.items()),
        )
    if writes.held:
        conn.executemany(_INSERT_HELD, [_entry_params(e) for e in writes.held])
    if writes.released:
        conn.executemany("DELETE FROM sync_held WHERE origin = ? AND seq = ?", writes.released)
    if writes.rejections:
        conn.executemany(
            "INSERT INTO sync_rejection (origin, seq, hash, case_id, reason, detail, body, sig,"
            " received_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [_rejection_params(r) for r in writes.rejections],
        )
    if writes.quarantines:
        conn.executemany(
            "INSERT INTO sync_quarantine (origin, reason) VALUES (?, ?)"
            " ON CONFLICT (origin) DO NOTHING",
            list(writes.quarantines.items()),
        )
    if writes.projections:
        _apply_projections(conn, writes.projections)
    if writes.watermark is not None:
        conn.execute(
            "UPDATE sync_meta SET watermark = max(watermark, ?) WHERE id = 1", (writes.watermark,)
        )
    if writes.feed:
        _apply_feed(conn, writes)
    if writes.cursors:
        conn.executemany(
            "INSERT INTO sync_cursor (name, value) VALUES (?, max(?, 0))"
            " ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
            list(writes.cursors.items()),
        )


def _apply_projections(conn: sqlite3.Connection, projections: list[CaseProjection]) -> None:
    # The last projection of a case wins, and its parties replace the old set entirely.
    latest = {p.case_id: p for p in projections}
    conn.executemany(
        "INSERT INTO case_state (case_id, state) VALUES (?, ?)"
        " ON CONFLICT (case_id) DO UPDATE SET state = excluded.state",
        [(p.case_id, p.state) for p in latest.values()],
    )
    conn.executemany(_UPSERT_ROW, [_row_params(p.case_id, p.row) for p in latest.values()])
    conn.executemany("DELETE FROM case_party WHERE case_id = ?", [(c,) for c in latest])
    conn.executemany(
        "INSERT INTO case_party (case_id, node_id) VALUES (?, ?)",
        [(p.case_id, node) for p in latest.values() for node in sorted(p.parties)],
    )


def _apply_feed(conn: sqlite3.Connection, writes: WriteSet) -> None:
    # Copying the key from the log both checks the entry exists and keeps list order.
    cursor = conn.executemany(
        "INSERT INTO sync_feed (child, origin, seq)"
        " SELECT ?, origin, seq FROM sync_log WHERE origin = ? AND seq = ?",
        [(f.child, f.origin, f.seq) for f in writes.feed],
    )
    if cursor.rowcount != len(writes.feed):
        raise ValueError("待发往下级的记录不在日志中，整批未写入。")


def _chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _entry_params(entry: LogEntry) -> Row:
    return (
        entry.pos,
        entry.origin,
        entry.seq,
        entry.hash,
        entry.prev,
        entry.case_id,
        entry.hlc.wall_ms,
        entry.hlc.counter,
        entry.client_id,
        entry.update_hash,
        entry.envelope.body,
        entry.envelope.sig,
    )


def _entry(row: Row) -> LogEntry:
    return LogEntry(
        origin=row[1],
        seq=row[2],
        hash=row[3],
        prev=row[4],
        case_id=row[5],
        hlc=Hlc(row[6], row[7]),
        client_id=row[8],
        update_hash=row[9],
        envelope=Envelope(body=row[10], sig=row[11]),
        pos=row[0],
    )


def _rejection_params(rejection: Rejection) -> Row:
    return (
        rejection.origin,
        rejection.seq,
        rejection.hash,
        rejection.case_id,
        rejection.reason.value,
        rejection.detail,
        rejection.envelope.body,
        rejection.envelope.sig,
        rejection.received_at.isoformat(),
    )


def _row_params(case_id: str, row: CaseRow) -> Row:
    return (
        case_id,
        row.item_code,
        row.catalog_version,
        row.origin_node,
        row.handling_node,
        row.status,
        row.receipt_no,
        row.applicant_name,
        _iso(row.received_on),
        _iso(row.accepted_on),
        _iso(row.promised_due),
        _iso(row.statutory_due),
        row.due_provisional,
        row.paused,
        row.finished,
        row.light,
        msgspec.json.encode(row.flags).decode(),
        row.events_count,
        row.last_hlc.wall_ms,
        row.last_hlc.counter,
        row.state_json,
    )


def _case_row(r: Row) -> CaseRow:
    return CaseRow(
        case_id=r[0],
        item_code=r[1],
        catalog_version=r[2],
        origin_node=r[3],
        handling_node=r[4],
        status=r[5],
        receipt_no=r[6],
        applicant_name=r[7],
        received_on=_date(r[8]),
        accepted_on=_date(r[9]),
        promised_due=_date(r[10]),
        statutory_due=_date(r[11]),
        due_provisional=bool(r[12]),
        paused=bool(r[13]),
        finished=bool(r[14]),
        light=r[15],
        flags=_FLAGS_DECODER.decode(r[16]),
        events_count=r[17],
        last_hlc=Hlc(r[18], r[19]),
        state_json=r[20],
    )


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


class WriterLock:
    """An exclusive, process-wide claim on a lock file (``flock``; released by the kernel when
    the holder exits in any way)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def acquire(self, timeout: float, poll: float = 0.05) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds without blocking the event loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.try_acquire():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(poll)
        return True

    def release(self) -> None:
        """Give the lock back (closing the descriptor drops the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def held_elsewhere(self) -> bool:
        """Whether another holder has the lock now (probes by taking and dropping it)."""
        if self._fd is not None:
            return False
        if self.try_acquire():
            self.release()
            return False
        return True
