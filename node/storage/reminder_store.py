"""Deadline reminders and what the offline reconciliation reads and writes (migration m007).

The reconciliation runs in the worker process while the web process projects cases into the same
file, so it never writes a case row from a stale read: a refreshed row is written only while the
row still holds exactly the ``state_json`` the refold started from (one ``UPDATE … WHERE``,
atomic in SQLite). If the web process changed the case meanwhile, the update matches nothing,
the case's watch is left as it was and the next run folds it again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import msgspec
from sqlite_utils import Database

from node.storage.database import NodeDatabase
from sync.store import CaseRow

_REMINDER_COLUMNS = (
    "id, case_id, kind, subject, level, message, due, receipt_no, item_code, applicant_name,"
    " created_at, acknowledged_at, acknowledged_by, resolved_at"
)


@dataclass(frozen=True)
class Reminder:
    """One reminder as stored."""

    id: int
    case_id: str
    kind: str
    subject: str
    level: str
    message: str
    due: date | None
    receipt_no: str | None
    item_code: str | None
    applicant_name: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class NewReminder:
    """A condition the reconciliation found on a case; stored once per (case, kind, subject)."""

    case_id: str
    kind: str
    subject: str
    level: str
    message: str
    due: date | None
    receipt_no: str | None
    item_code: str | None
    applicant_name: str | None


@dataclass(frozen=True)
class Candidate:
    """An open case whose fold may be out of date: new events, or a new day."""

    case_id: str
    events_count: int
    hlc_wall: int
    hlc_counter: int


@dataclass(frozen=True)
class Refold:
    """The outcome of folding one case again: its fresh row and the conditions it shows."""

    case_id: str
    read_state_json: bytes
    row: CaseRow
    conditions: Sequence[NewReminder]


class ReminderStore:
    """Reminders, the reconciliation watch, and the few case-row reads the banner needs."""

    def __init__(self, database: NodeDatabase) -> None:
        self._database = database

    # -- reconciliation -------------------------------------------------------------------

    def candidates(self, node_id: str, today: date, after: str, limit: int) -> list[Candidate]:
        """Open cases handled here, after ``after`` by id, not yet folded today at their events."""
        sql = (
            "SELECT r.case_id, r.events_count, r.last_hlc_wall, r.last_hlc_counter"
            " FROM case_row AS r LEFT JOIN reminder_watch AS w ON w.case_id = r.case_id"
            " WHERE r.handling_node = ? AND r.finished = 0 AND r.case_id > ?"
            " AND (w.case_id IS NULL OR w.folded_on <> ? OR w.events_count <> r.events_count"
            " OR w.hlc_wall <> r.last_hlc_wall OR w.hlc_counter <> r.last_hlc_counter)"
            " ORDER BY r.case_id LIMIT ?"
        )
        rows = self._database.read(
            lambda db: db.conn.execute(sql, (node_id, after, today.isoformat(), limit)).fetchall()
        )
        return [Candidate(r[0], r[1], r[2], r[3]) for r in rows]

    def apply(self, refolds: Sequence[Refold], today: date, now: datetime) -> int:
        """Write a batch of refolds in one transaction; returns how many reminders are new.

        A case whose row changed since it was read is skipped entirely (row, reminders and
        watch), so the next run sees it as a candidate again.
        """

        def write(db: Database) -> int:
            conn = db.conn
            created = 0
            for refold in refolds:
                row = refold.row
                changed = conn.execute(
                    "UPDATE case_row SET light = ?, promised_due = ?, statutory_due = ?,"
                    " due_provisional = ?, paused = ?, flags = ?, state_json = ?"
                    " WHERE case_id = ? AND state_json = ?",
                    (
                        row.light,
                        _iso(row.promised_due),
                        _iso(row.statutory_due),
                        row.due_provisional,
                        row.paused,
                        msgspec.json.encode(row.flags).decode(),
                        row.state_json,
                        refold.case_id,
                        refold.read_state_json,
                    ),
                ).rowcount
                if not changed:
                    continue
                created += _record_conditions(conn, refold, now)
                conn.execute(
                    "INSERT INTO reminder_watch (case_id, events_count, hlc_wall, hlc_counter,"
                    " folded_on) VALUES (?, ?, ?, ?, ?) ON CONFLICT (case_id) DO UPDATE SET"
                    " events_count = excluded.events_count, hlc_wall = excluded.hlc_wall,"
                    " hlc_counter = excluded.hlc_counter, folded_on = excluded.folded_on",
                    (
                        refold.case_id,
                        row.events_count,
                        row.last_hlc.wall_ms,
                        row.last_hlc.counter,
                        today.isoformat(),
                    ),
                )
            return created

        return self._database.write(write) if refolds else 0

    def resolve_gone(self, node_id: str, now: datetime) -> int:
        """Close the reminders of cases that finished here or moved to another node."""
        sql = (
            "UPDATE reminder SET resolved_at = ? WHERE resolved_at IS NULL AND case_id IN"
            " (SELECT case_id FROM case_row WHERE finished = 1 OR handling_node IS NOT ?)"
        )
        return int(
            self._database.write(
                lambda db: db.conn.execute(sql, (now.isoformat(), node_id)).rowcount
            )
        )

    # -- clerks ---------------------------------------------------------------------------

    def listing(self, *, include_done: bool = False, limit: int = 500) -> list[Reminder]:
        """Open reminders (red first, newest first); with ``include_done`` also handled ones."""
        where = "" if include_done else " WHERE resolved_at IS NULL AND acknowledged_at IS NULL"
        sql = (
            f"SELECT {_REMINDER_COLUMNS} FROM reminder{where}"  # noqa: S608 - fixed fragments
            " ORDER BY (resolved_at IS NULL AND acknowledged_at IS NULL) DESC,"
            " CASE level WHEN 'red' THEN 0 ELSE 1 END, id DESC LIMIT ?"
        )
        rows = self._database.read(lambda db: db.conn.execute(sql, (limit,)).fetchall())
        return [_reminder(r) for r in rows]

    def get(self, reminder_id: int) -> Reminder | None:
        """One reminder by id."""
        sql = f"SELECT {_REMINDER_COLUMNS} FROM reminder WHERE id = ?"  # noqa: S608
        row = self._database.read(lambda db: db.conn.execute(sql, (reminder_id,)).fetchone())
        return None if row is None else _reminder(row)

    def acknowledge(self, reminder_id: int, by: str, now: datetime) -> bool:
        """Mark a reminder as seen; False when it was already acknowledged (first one wins)."""
        sql = (
            "UPDATE reminder SET acknowledged_at = ?, acknowledged_by = ?"
            " WHERE id = ? AND acknowledged_at IS NULL"
        )
        changed = self._database.write(
            lambda db: db.conn.execute(sql, (now.isoformat(), by, reminder_id)).rowcount
        )
        return bool(changed)

    def open_counts(self) -> dict[str, int]:
        """Unacknowledged, unresolved reminders per level (``yellow``, ``red``)."""
        sql = (
            "SELECT level, count(*) FROM reminder"
            " WHERE resolved_at IS NULL AND acknowledged_at IS NULL GROUP BY level"
        )
        rows = self._database.read(lambda db: db.conn.execute(sql).fetchall())
        counts = {"yellow": 0, "red": 0}
        counts.update({level: int(n) for level, n in rows})
        return counts

    def waiting_records(self, origins: Collection[str], push_cursor: str) -> int:
        """Log entries of ``origins`` the parent has not acknowledged (the banner's count)."""
        if not origins:
            return 0
        marks = ",".join("?" * len(origins))
        sql = (
            "SELECT count(*) FROM sync_log WHERE pos > coalesce("  # noqa: S608 - placeholders
            f"(SELECT value FROM sync_cursor WHERE name = ?), 0) AND origin IN ({marks})"
        )
        return int(
            self._database.read(
                lambda db: db.conn.execute(sql, (push_cursor, *origins)).fetchone()[0]
            )
        )


def _record_conditions(conn: sqlite3.Connection, refold: Refold, now: datetime) -> int:
    """Insert what is new and resolve this case's reminders whose condition has passed."""
    created = 0
    for c in refold.conditions:
        created += conn.execute(
            "INSERT INTO reminder (case_id, kind, subject, level, message, due, receipt_no,"
            " item_code, applicant_name, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (case_id, kind, subject) DO NOTHING",
            (
                c.case_id,
                c.kind,
                c.subject,
                c.level,
                c.message,
                _iso(c.due),
                c.receipt_no,
                c.item_code,
                c.applicant_name,
                now.isoformat(),
            ),
        ).rowcount
    live = [(c.kind, c.subject) for c in refold.conditions]
    open_rows = conn.execute(
        "SELECT id, kind, subject FROM reminder WHERE case_id = ? AND resolved_at IS NULL",
        (refold.case_id,),
    ).fetchall()
    passed = [(now.isoformat(), r[0]) for r in open_rows if (r[1], r[2]) not in live]
    conn.executemany("UPDATE reminder SET resolved_at = ? WHERE id = ?", passed)
    return created


def _reminder(r: tuple[object, ...]) -> Reminder:
    return Reminder(
        id=int(r[0]),  # type: ignore[call-overload]
        case_id=str(r[1]),
        kind=str(r[2]),
        subject=str(r[3]),
        level=str(r[4]),
        message=str(r[5]),
        due=_date(r[6]),
        receipt_no=_text(r[7]),
        item_code=_text(r[8]),
        applicant_name=_text(r[9]),
        created_at=datetime.fromisoformat(str(r[10])),
        acknowledged_at=_moment(r[11]),
        acknowledged_by=_text(r[12]),
        resolved_at=_moment(r[13]),
    )


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: object) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


def _moment(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _text(value: object) -> str | None:
    return None if value is None else str(value)
