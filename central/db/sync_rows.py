"""Columns of the replication tables and the conversions between them and sync/store.py values.

Rows come back from either driver (``sqlite3.Row``, asyncpg records); both are read by column
name. SQLite rows come without Piccolo's converters: dates and timestamps are the ISO text
Piccolo's adapters stored, and are parsed here as Piccolo would.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import msgspec
from piccolo.columns import BigInt, Boolean, Bytea, Date, Integer, Text, Timestamptz

from central.db.tables import SYNC_TABLES
from shared.hlc import Hlc
from sync.envelope import Envelope
from sync.reasons import Reason
from sync.store import CaseRow, Head, LogEntry, Rejection

ENTRY = (
    "origin",
    "seq",
    "hash",
    "prev",
    "case_id",
    "hlc_wall",
    "hlc_counter",
    "client_id",
    "update_hash",
    "body",
    "sig",
)
LOG = ("pos", *ENTRY)
HEAD = ("origin", "seq", "hash", "hlc_wall", "hlc_counter")
ROW = (
    "case_id",
    "item_code",
    "catalog_version",
    "origin_node",
    "handling_node",
    "status",
    "receipt_no",
    "applicant_name",
    "received_on",
    "accepted_on",
    "promised_due",
    "statutory_due",
    "due_provisional",
    "paused",
    "finished",
    "light",
    "flags",
    "events_count",
    "last_hlc_wall",
    "last_hlc_counter",
    "state_json",
)
REJECTION = ("origin", "seq", "hash", "case_id", "reason", "detail", "body", "sig", "received_at")

# PostgreSQL type of each column, for the unnest() array casts of bulk inserts; derived from
# tables.py so the two cannot drift apart.
_PG_COLUMN = {
    BigInt: "bigint",
    Integer: "integer",
    Text: "text",
    Bytea: "bytea",
    Date: "date",
    Boolean: "boolean",
    Timestamptz: "timestamptz",
}
PG_TYPES = {
    table._meta.tablename: {
        column._meta.db_column_name: _PG_COLUMN[type(column)]
        for column in table._meta.columns
        if type(column) in _PG_COLUMN
    }
    for table in SYNC_TABLES
}


_FLAGS = msgspec.json.Decoder(tuple[str, ...])


def entry_values(e: LogEntry) -> tuple[Any, ...]:
    """Values of an entry in ``ENTRY`` column order."""
    return (
        e.origin,
        e.seq,
        e.hash,
        e.prev,
        e.case_id,
        e.hlc.wall_ms,
        e.hlc.counter,
        e.client_id,
        e.update_hash,
        e.envelope.body,
        e.envelope.sig,
    )


def log_entry(r: Any, at: int = 0) -> LogEntry:
    """An entry from a row holding the ``LOG`` columns in order from index ``at`` (``pos`` 0 for
    held rows). Read by position: a log read returns tens of thousands of rows."""
    return LogEntry(
        origin=r[at + 1],
        seq=r[at + 2],
        hash=r[at + 3],
        prev=r[at + 4],
        case_id=r[at + 5],
        hlc=Hlc(r[at + 6], r[at + 7]),
        client_id=r[at + 8],
        update_hash=r[at + 9],
        envelope=Envelope(body=r[at + 10], sig=r[at + 11]),
        pos=r[at],
    )


def head(r: Any) -> Head:
    """A head from a row with the ``HEAD`` columns."""
    return Head(
        origin=r["origin"], seq=r["seq"], hash=r["hash"], hlc=Hlc(r["hlc_wall"], r["hlc_counter"])
    )


def rejection_values(r: Rejection) -> tuple[Any, ...]:
    """Values of a rejection in ``REJECTION`` column order."""
    body, sig = r.envelope.body, r.envelope.sig
    return (r.origin, r.seq, r.hash, r.case_id, r.reason.value, r.detail, body, sig, r.received_at)


def rejection_of(r: Any) -> Rejection:
    """A rejection from a row with the ``REJECTION`` columns."""
    return Rejection(
        origin=r["origin"],
        seq=r["seq"],
        hash=r["hash"],
        case_id=r["case_id"],
        reason=Reason(r["reason"]),
        detail=r["detail"],
        envelope=Envelope(body=r["body"], sig=r["sig"]),
        received_at=_moment(r["received_at"]),
    )


def row_values(row: CaseRow) -> tuple[Any, ...]:
    """Values of a case row in ``ROW`` column order (flags as JSON text)."""
    return (
        row.case_id,
        row.item_code,
        row.catalog_version,
        row.origin_node,
        row.handling_node,
        row.status,
        row.receipt_no,
        row.applicant_name,
        row.received_on,
        row.accepted_on,
        row.promised_due,
        row.statutory_due,
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


def case_row(r: Any) -> CaseRow:
    """A case row from a row with the ``ROW`` columns."""
    return CaseRow(
        case_id=r["case_id"],
        item_code=r["item_code"],
        catalog_version=r["catalog_version"],
        origin_node=r["origin_node"],
        handling_node=r["handling_node"],
        status=r["status"],
        receipt_no=r["receipt_no"],
        applicant_name=r["applicant_name"],
        received_on=_day(r["received_on"]),
        accepted_on=_day(r["accepted_on"]),
        promised_due=_day(r["promised_due"]),
        statutory_due=_day(r["statutory_due"]),
        due_provisional=bool(r["due_provisional"]),
        paused=bool(r["paused"]),
        finished=bool(r["finished"]),
        light=r["light"],
        flags=_FLAGS.decode(r["flags"]),
        events_count=r["events_count"],
        last_hlc=Hlc(r["last_hlc_wall"], r["last_hlc_counter"]),
        state_json=r["state_json"],
    )


def _day(value: date | str | None) -> date | None:
    """A DATE column: a date from asyncpg, ISO text from SQLite."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _moment(value: datetime | str) -> datetime:
    """A TIMESTAMPTZ column: from asyncpg as is; from SQLite, UTC text (naive for the column's
    ``current_timestamp`` default)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value
