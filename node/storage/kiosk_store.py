"""The resident kiosk's tables (migration m006): pre-applications and failed lookups.

Times are stored as UTC ISO-8601 text of one fixed width, so comparing the text compares the
instants. Each method is one short transaction through the node's single-writer database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlite_utils import Database

from node.storage.database import NodeDatabase

WAITING = "waiting"
PICKED_UP = "picked_up"
LIST_LIMIT = 200

_SELECT_ONE = (
    "SELECT number, item_code, applicant, materials, created_at, status, case_id, picked_up_at "
    "FROM kiosk_preapplication WHERE number = ?"
)
_SELECT_WAITING = (
    "SELECT number, item_code, applicant, materials, created_at, status, case_id, picked_up_at "
    "FROM kiosk_preapplication WHERE status = ? ORDER BY created_at, number LIMIT ?"
)


@dataclass(frozen=True)
class PreApplicationRow:
    """One stored pre-application; ``applicant`` is the encoded applicant as stored."""

    number: str
    item_code: str
    applicant: bytes
    materials: tuple[str, ...]
    created_at: datetime
    status: str
    case_id: str | None
    picked_up_at: datetime | None


def stamp(moment: datetime) -> str:
    """The stored text of an instant."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _row(raw: tuple[object, ...]) -> PreApplicationRow:
    materials = json.loads(str(raw[3]))
    return PreApplicationRow(
        number=str(raw[0]),
        item_code=str(raw[1]),
        applicant=bytes(raw[2]) if isinstance(raw[2], bytes | bytearray) else str(raw[2]).encode(),
        materials=tuple(str(m) for m in materials),
        created_at=datetime.fromisoformat(str(raw[4])),
        status=str(raw[5]),
        case_id=None if raw[6] is None else str(raw[6]),
        picked_up_at=None if raw[7] is None else datetime.fromisoformat(str(raw[7])),
    )


class KioskStore:
    """Reads and writes the kiosk tables."""

    def __init__(self, database: NodeDatabase) -> None:
        self._database = database

    def add_preapplication(
        self,
        *,
        day: date,
        number_for: Callable[[int], str],
        request_id: str | None,
        item_code: str,
        applicant: bytes,
        materials: tuple[str, ...],
        at: datetime,
    ) -> str:
        """Store a pre-application under the day's next number and return that number.

        A ``request_id`` seen before returns the number it got the first time and stores
        nothing, so a double submit makes one pre-application.
        """

        def add(db: Database) -> str:
            if request_id is not None:
                earlier = db.execute(
                    "SELECT number FROM kiosk_preapplication WHERE request_id = ?", [request_id]
                ).fetchone()
                if earlier is not None:
                    return str(earlier[0])
            serial = db.execute(
                "INSERT INTO kiosk_serial (day, serial) VALUES (?, 1) "
                "ON CONFLICT (day) DO UPDATE SET serial = serial + 1 RETURNING serial",
                [day.isoformat()],
            ).fetchone()[0]
            number = number_for(int(serial))
            db.execute(
                "INSERT INTO kiosk_preapplication (number, request_id, item_code, applicant, "
                "materials, created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    number,
                    request_id,
                    item_code,
                    applicant,
                    json.dumps(list(materials)),
                    stamp(at),
                    WAITING,
                ],
            )
            return number

        return self._database.write(add)

    def preapplication(self, number: str) -> PreApplicationRow | None:
        """The pre-application of ``number``, if there is one."""
        raw = self._database.read(lambda db: db.execute(_SELECT_ONE, [number]).fetchone())
        return None if raw is None else _row(raw)

    def waiting(self, limit: int = LIST_LIMIT) -> list[PreApplicationRow]:
        """Pre-applications no clerk has picked up yet, oldest first."""
        params = [WAITING, limit]
        rows = self._database.read(lambda db: db.execute(_SELECT_WAITING, params).fetchall())
        return [_row(r) for r in rows]

    def mark_picked_up(self, number: str, case_id: str, at: datetime) -> PreApplicationRow | None:
        """Mark a waiting pre-application as picked up for ``case_id``.

        Returns:
            The row as it stands afterwards (unchanged when it was already picked up), or
            None when there is no such number.
        """

        def mark(db: Database) -> PreApplicationRow | None:
            db.execute(
                "UPDATE kiosk_preapplication SET status = ?, case_id = ?, picked_up_at = ? "
                "WHERE number = ? AND status = ?",
                [PICKED_UP, case_id, stamp(at), number, WAITING],
            )
            raw = db.execute(_SELECT_ONE, [number]).fetchone()
            return None if raw is None else _row(raw)

        return self._database.write(mark)

    def record_failure(self, client: str, at: datetime, *, forget_before: datetime) -> None:
        """Count one failed lookup by ``client``; drop failures too old to matter to anyone."""

        def record(db: Database) -> None:
            db.execute(
                "DELETE FROM kiosk_lookup_failure WHERE failed_at < ?", [stamp(forget_before)]
            )
            db.execute(
                "INSERT INTO kiosk_lookup_failure (client, failed_at) VALUES (?, ?)",
                [client, stamp(at)],
            )

        self._database.write(record)

    def failures_since(self, client: str, since: datetime) -> list[datetime]:
        """Times of ``client``'s failed lookups after ``since``, oldest first."""
        sql = (
            "SELECT failed_at FROM kiosk_lookup_failure WHERE client = ? AND failed_at > ? "
            "ORDER BY failed_at"
        )
        rows = self._database.read(lambda db: db.execute(sql, [client, stamp(since)]).fetchall())
        return [datetime.fromisoformat(str(r[0])) for r in rows]

    def case_id_for_receipt(self, receipt_no: str) -> str | None:
        """The case holding ``receipt_no`` in this node's projection."""
        sql = "SELECT case_id FROM case_row WHERE receipt_no = ? LIMIT 1"
        raw = self._database.read(lambda db: db.execute(sql, [receipt_no]).fetchone())
        return None if raw is None else str(raw[0])
