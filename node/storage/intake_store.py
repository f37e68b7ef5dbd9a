"""The intake desk's tables (migration m005): receipt serials, the query-code secret, request ids.

Each call is its own short transaction. The serial is taken before the case is recorded, so a
failed recording leaves a gap in the day's numbers but never hands one number out twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlite_utils import Database

from node.storage.database import NodeDatabase
from shared.errors import NotFoundError

LIST_LIMIT = 100

# Empty filters match everything, so the statement is fixed text with bound parameters only.
_FIND_SQL = """
    SELECT case_id FROM case_row
    WHERE (? = '' OR receipt_no LIKE ? ESCAPE '\\' OR applicant_name LIKE ? ESCAPE '\\'
           OR item_code LIKE ? ESCAPE '\\')
      AND (? = '' OR status = ?)
    ORDER BY received_on DESC, last_hlc_wall DESC, last_hlc_counter DESC
    LIMIT ?
"""


class IntakeStore:
    """Reads and writes the intake tables through the node's single-writer database."""

    def __init__(self, database: NodeDatabase) -> None:
        self._database = database

    def next_serial(self, day: date) -> int:
        """Take the next receipt serial of China-time ``day`` (1 for the day's first)."""

        def take(db: Database) -> int:
            row = db.execute(
                "INSERT INTO receipt_serial (day, serial) VALUES (?, 1) "
                "ON CONFLICT (day) DO UPDATE SET serial = serial + 1 RETURNING serial",
                [day.isoformat()],
            ).fetchone()
            return int(row[0])

        return self._database.write(take)

    def query_secret(self) -> bytes:
        """The HMAC key of this node's query codes.

        Raises:
            NotFoundError: the secret row is missing (a damaged database).
        """
        sql = "SELECT value FROM intake_secret WHERE name = 'query_code'"
        row = self._database.read(lambda db: db.execute(sql).fetchone())
        if row is None:
            raise NotFoundError("本节点缺少查询码密钥，数据库可能已损坏。", code="secret_missing")
        return bytes(row[0])

    def request_result(self, request_id: str) -> bytes | None:
        """The answer stored for a client request id, if that request was already done."""
        sql = "SELECT result FROM intake_request WHERE request_id = ?"
        row = self._database.read(lambda db: db.execute(sql, [request_id]).fetchone())
        return None if row is None else bytes(row[0])

    def remember_request(self, request_id: str, case_id: str, result: bytes, at: datetime) -> None:
        """Keep the first answer to a request id (a later one for the same id is ignored)."""
        sql = (
            "INSERT OR IGNORE INTO intake_request (request_id, case_id, result, created_at) "
            "VALUES (?, ?, ?, ?)"
        )
        stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
        self._database.write(lambda db: db.execute(sql, [request_id, case_id, result, stamp]))

    def find_case_ids(
        self, query: str = "", status: str = "", limit: int = LIST_LIMIT
    ) -> list[str]:
        """Projected cases, newest receipt first, matching ``query`` (receipt number,
        applicant name or item code) and ``status`` when given."""
        like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params = [query, like, like, like, status, status, limit]
        rows = self._database.read(lambda db: db.execute(_FIND_SQL, params).fetchall())
        return [str(r[0]) for r in rows]
