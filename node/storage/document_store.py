"""Issued window documents (migration m008): number serials and the exact signed bytes.

A document is issued once per case and kind. The first issue takes a serial and stores the
signed bytes; every later print reads them back, so a reprint carries the same number, date
and signature as the original.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlite_utils import Database

from node.storage.database import NodeDatabase


@dataclass(frozen=True, slots=True)
class IssuedDocument:
    """One issued document as stored."""

    case_id: str
    kind: str
    document_no: str
    signed: bytes
    issued_at: datetime


_SELECT = (
    "SELECT case_id, kind, document_no, signed, issued_at FROM issued_document "
    "WHERE case_id = ? AND kind = ?"
)


class DocumentStore:
    """Reads and writes issued documents through the node's single-writer database."""

    def __init__(self, database: NodeDatabase) -> None:
        self._database = database

    def issued(self, case_id: str, kind: str) -> IssuedDocument | None:
        """The document of ``kind`` already issued for the case, if any."""
        row = self._database.read(lambda db: db.execute(_SELECT, [case_id, kind]).fetchone())
        return None if row is None else _document(row)

    def issued_kinds(self, case_id: str) -> list[str]:
        """Kinds of document already issued for the case."""
        sql = "SELECT kind FROM issued_document WHERE case_id = ? ORDER BY issued_at"
        rows = self._database.read(lambda db: db.execute(sql, [case_id]).fetchall())
        return [str(r[0]) for r in rows]

    def issue(
        self,
        case_id: str,
        kind: str,
        *,
        prefix: str | None,
        year: int,
        make: Callable[[int | None], tuple[str, bytes]],
        at: datetime,
    ) -> IssuedDocument:
        """Issue a document once: take the next serial of ``(prefix, year)``, let ``make``
        build and sign it, and store it, all in one transaction.

        ``prefix`` None means the document carries a number of its own (a certificate) and
        takes no serial; ``make`` then receives None. When the document was issued already,
        the stored one is returned and ``make`` is not called.
        """

        def run(db: Database) -> IssuedDocument:
            row = db.execute(_SELECT, [case_id, kind]).fetchone()
            if row is not None:
                return _document(row)
            serial = None
            if prefix is not None:
                serial = int(
                    db.execute(
                        "INSERT INTO document_serial (prefix, year, serial) VALUES (?, ?, 1) "
                        "ON CONFLICT (prefix, year) DO UPDATE SET serial = serial + 1 "
                        "RETURNING serial",
                        [prefix, year],
                    ).fetchone()[0]
                )
            document_no, signed = make(serial)
            stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
            db.execute(
                "INSERT INTO issued_document (case_id, kind, document_no, signed, issued_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [case_id, kind, document_no, signed, stamp],
            )
            return IssuedDocument(case_id, kind, document_no, signed, at.astimezone(UTC))

        return self._database.write(run)


def _document(row: tuple[object, ...]) -> IssuedDocument:
    return IssuedDocument(
        case_id=str(row[0]),
        kind=str(row[1]),
        document_no=str(row[2]),
        signed=bytes(row[3]),  # type: ignore[call-overload]
        issued_at=datetime.fromisoformat(str(row[4])),
    )
