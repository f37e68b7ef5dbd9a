"""The case-handling desk's table (migration m009): certificate serials per year.

Like receipt serials, a serial is taken before the certificate is recorded, so a failed
recording leaves a gap in the year's numbers but never hands one number out twice.
"""

from __future__ import annotations

from sqlite_utils import Database

from node.storage.database import NodeDatabase


class HandlingStore:
    """Reads and writes the handling tables through the node's single-writer database."""

    def __init__(self, database: NodeDatabase) -> None:
        self._database = database

    def next_certificate_serial(self, year: int) -> int:
        """Take the next certificate serial of ``year`` (1 for the year's first)."""

        def take(db: Database) -> int:
            row = db.execute(
                "INSERT INTO certificate_serial (year, serial) VALUES (?, 1) "
                "ON CONFLICT (year) DO UPDATE SET serial = serial + 1 RETURNING serial",
                [year],
            ).fetchone()
            return int(row[0])

        return self._database.write(take)
