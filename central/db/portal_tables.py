"""The resident portal's county tables and their SQL, on SQLite and PostgreSQL.

* ``portal_failure``: failed lookups per client address, for the rate limit;
* ``portal_serial``: yearly serials of county-issued certificates;
* ``portal_certificate``: the signed e-certificates the county issued, kept so a reprint shows
  the same signed bytes;
* ``portal_certificate_index`` and ``portal_complaint``: every certificate issued and every open
  complaint anywhere in the county, read from the projected cases after a cursor over the
  envelope log, so a certificate number or the open complaints are found by an indexed query
  rather than by reading every case;
* ``portal_mark`` / ``portal_setting``: the index cursor and configurable values.
"""

# ruff: noqa: S608 - statements are built from constant identifiers; values are always bound.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from piccolo.columns import BigInt, Bytea, Date, Text, Timestamptz
from piccolo.engine.base import Engine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from central.db.bulk_sql import Sql, chunks, insert_sql, marks, row_chunks


class PortalFailure(Table, tablename="portal_failure"):
    """One failed receipt/query-code or certificate lookup from a client address."""

    client = Text(index=True)
    at = Timestamptz()


class PortalSerial(Table, tablename="portal_serial"):
    """The last serial used under a name such as ``certificate:2026``."""

    name = Text(primary_key=True)
    serial = BigInt()


class PortalCertificate(Table, tablename="portal_certificate"):
    """A county-signed e-certificate exactly as first signed."""

    certificate_no = Text(primary_key=True)
    case_id = Text(unique=True)
    signed = Bytea()
    issued_at = Timestamptz()
    issued_by = Text()


class PortalCertificateIndex(Table, tablename="portal_certificate_index"):
    """A certificate recorded on a case anywhere in the county (CertificateIssued)."""

    certificate_no = Text(index=True)
    case_id = Text(index=True)


class PortalComplaint(Table, tablename="portal_complaint"):
    """An open complaint of a case, as the projected state shows it."""

    case_id = Text(index=True)
    complaint_id = Text()
    node = Text(null=True, default=None, index=True)
    filed_on = Date()
    answer_due = Date(null=True, default=None)
    reopens = Text(null=True, default=None)


class PortalMark(Table, tablename="portal_mark"):
    """Named bookkeeping values (the index cursor)."""

    name = Text(primary_key=True)
    value = Text()


class PortalSetting(Table, tablename="portal_setting"):
    """A configured value, e.g. the working days to answer a complaint."""

    name = Text(primary_key=True)
    value = BigInt()
    changed_by = Text(default="")
    changed_at = Timestamptz(null=True, default=None)


PORTAL_TABLES: tuple[type[Table], ...] = (
    PortalFailure,
    PortalSerial,
    PortalCertificate,
    PortalCertificateIndex,
    PortalComplaint,
    PortalMark,
    PortalSetting,
)

_SCHEMA = (
    "CREATE UNIQUE INDEX IF NOT EXISTS portal_certificate_index_key "
    "ON portal_certificate_index (certificate_no, case_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS portal_complaint_key "
    "ON portal_complaint (case_id, complaint_id)",
)


async def ensure_portal_schema(engine: Engine) -> None:  # type: ignore[type-arg]
    """Create the composite unique indexes (idempotent)."""
    for statement in _SCHEMA:
        await engine.run_ddl(statement)


@dataclass(frozen=True)
class StoredCertificate:
    """A county-signed certificate as kept."""

    certificate_no: str
    case_id: str
    signed: bytes
    issued_at: datetime
    issued_by: str


@dataclass(frozen=True)
class ComplaintRow:
    """An open complaint as indexed."""

    case_id: str
    complaint_id: str
    node: str | None
    filed_on: date
    answer_due: date | None
    reopens: str | None
    receipt_no: str | None
    item_code: str | None


class PortalStore:
    """Reads and writes the portal tables (and reads the projected ``case_row``)."""

    def __init__(self, engine: Engine) -> None:  # type: ignore[type-arg]
        self._engine = engine

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self._engine.run_querystring(Sql(sql, params)))

    def transaction(self) -> Any:
        """A write transaction; on SQLite it takes the write lock at once."""
        if isinstance(self._engine, SQLiteEngine):
            return self._engine.transaction(transaction_type=TransactionType.immediate)
        return self._engine.transaction()

    # -- rate limit ------------------------------------------------------------------------

    async def record_failure(self, client: str, at: datetime, *, forget_before: datetime) -> None:
        """Count one failed lookup and forget the ones that left the window."""
        async with self.transaction():
            await self._run("DELETE FROM portal_failure WHERE at < {}", [forget_before])
            await self._run("INSERT INTO portal_failure (client, at) VALUES ({}, {})", [client, at])

    async def failures_since(self, client: str, since: datetime) -> list[datetime]:
        """Failed lookups of ``client`` at or after ``since``, oldest first."""
        rows = await self._run(
            "SELECT at FROM portal_failure WHERE client = {} AND at >= {} ORDER BY at",
            [client, since],
        )
        return [_instant(r["at"]) for r in rows]

    # -- case lookups ----------------------------------------------------------------------

    async def case_for_receipt(self, receipt_no: str) -> str | None:
        """The case holding this receipt number, if the county has it."""
        rows = await self._run(
            "SELECT case_id FROM case_row WHERE receipt_no = {} ORDER BY case_id LIMIT 1",
            [receipt_no],
        )
        return str(rows[0]["case_id"]) if rows else None

    # -- certificates ----------------------------------------------------------------------

    async def next_serial(self, name: str) -> int:
        """The next serial under ``name`` (1 first); never hands out a number twice."""
        rows = await self._run(
            "INSERT INTO portal_serial (name, serial) VALUES ({}, 1) "
            "ON CONFLICT (name) DO UPDATE SET serial = portal_serial.serial + 1 "
            "RETURNING serial",
            [name],
        )
        return int(rows[0]["serial"])

    async def add_certificate(self, certificate: StoredCertificate) -> StoredCertificate:
        """Keep a signed certificate; the one already kept for the case wins a race."""
        await self._run(
            "INSERT INTO portal_certificate (certificate_no, case_id, signed, issued_at, "
            "issued_by) VALUES ({}, {}, {}, {}, {}) ON CONFLICT DO NOTHING",
            [
                certificate.certificate_no,
                certificate.case_id,
                certificate.signed,
                certificate.issued_at,
                certificate.issued_by,
            ],
        )
        kept = await self.certificate_of_case(certificate.case_id)
        assert kept is not None
        return kept

    async def certificate_of_case(self, case_id: str) -> StoredCertificate | None:
        """The county-signed certificate of a case, if issued."""
        return await self._certificate("case_id", case_id)

    async def certificate(self, certificate_no: str) -> StoredCertificate | None:
        """A county-signed certificate by its number."""
        return await self._certificate("certificate_no", certificate_no)

    async def _certificate(self, column: str, value: str) -> StoredCertificate | None:
        rows = await self._run(
            "SELECT certificate_no, case_id, signed, issued_at, issued_by "
            f"FROM portal_certificate WHERE {column} = {{}}",
            [value],
        )
        if not rows:
            return None
        r = rows[0]
        return StoredCertificate(
            certificate_no=r["certificate_no"],
            case_id=r["case_id"],
            signed=bytes(r["signed"]),
            issued_at=_instant(r["issued_at"]),
            issued_by=r["issued_by"],
        )

    async def cases_with_certificate(self, certificate_no: str) -> list[str]:
        """Cases on which this certificate number was recorded (normally one)."""
        rows = await self._run(
            "SELECT case_id FROM portal_certificate_index WHERE certificate_no = {} "
            "ORDER BY case_id",
            [certificate_no],
        )
        return [str(r["case_id"]) for r in rows]

    # -- the index -------------------------------------------------------------------------

    async def get_mark(self, name: str) -> int:
        """A numeric bookkeeping value (0 when never set)."""
        rows = await self._run("SELECT value FROM portal_mark WHERE name = {}", [name])
        return int(rows[0]["value"]) if rows else 0

    async def set_mark(self, name: str, value: int) -> None:
        """Store a numeric bookkeeping value."""
        await self._run(
            "INSERT INTO portal_mark (name, value) VALUES ({}, {}) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [name, str(value)],
        )

    async def projected_up_to(self) -> int:
        """The log position up to which every entry is projected."""
        rows = await self._run("SELECT watermark FROM projection_watermark WHERE id = 1")
        return int(rows[0]["watermark"]) if rows else 0

    async def cases_logged(self, after: int, upto: int) -> list[str]:
        """Cases with an envelope logged at positions ``after < pos <= upto``."""
        rows = await self._run(
            "SELECT DISTINCT case_id FROM sync_log WHERE pos > {} AND pos <= {}", [after, upto]
        )
        return [str(r["case_id"]) for r in rows]

    async def replace_index(
        self,
        case_ids: Sequence[str],
        certificates: Sequence[tuple[str, str]],
        complaints: Sequence[tuple[str, str, str | None, date, date | None, str | None]],
    ) -> None:
        """Forget the indexed rows of ``case_ids`` and store their current ones."""
        for part in chunks(list(case_ids), 500):
            where = f"case_id IN ({marks(len(part))})"
            await self._run(f"DELETE FROM portal_certificate_index WHERE {where}", part)
            await self._run(f"DELETE FROM portal_complaint WHERE {where}", part)
        cert_columns = ("certificate_no", "case_id")
        for rows in row_chunks(certificates, len(cert_columns)):
            sql = insert_sql("portal_certificate_index", cert_columns, len(rows))
            await self._run(sql, [value for row in rows for value in row])
        complaint_columns = ("case_id", "complaint_id", "node", "filed_on", "answer_due", "reopens")
        for rows in row_chunks(complaints, len(complaint_columns)):
            sql = insert_sql("portal_complaint", complaint_columns, len(rows))
            await self._run(sql, [value for row in rows for value in row])

    async def open_complaints(
        self, where: str, params: Sequence[Any], *, limit: int
    ) -> list[ComplaintRow]:
        """Open complaints with their case's receipt and item, soonest deadline first.

        ``where`` is a filter over ``case_row`` (see central.services.accounts.case_filter).
        """
        rows = await self._run(
            "SELECT c.case_id, c.complaint_id, c.node, c.filed_on, c.answer_due, c.reopens, "
            "case_row.receipt_no, case_row.item_code FROM portal_complaint c "
            "JOIN case_row ON case_row.case_id = c.case_id "
            f"WHERE {where} ORDER BY c.answer_due, c.filed_on, c.case_id, c.complaint_id "
            f"LIMIT {max(1, min(int(limit), 5000))}",
            params,
        )
        return [
            ComplaintRow(
                case_id=r["case_id"],
                complaint_id=r["complaint_id"],
                node=r["node"],
                filed_on=_day(r["filed_on"]),
                answer_due=None if r["answer_due"] is None else _day(r["answer_due"]),
                reopens=r["reopens"],
                receipt_no=r["receipt_no"],
                item_code=r["item_code"],
            )
            for r in rows
        ]

    # -- settings --------------------------------------------------------------------------

    async def setting(self, name: str) -> int | None:
        """A configured value, or None when never set."""
        rows = await self._run("SELECT value FROM portal_setting WHERE name = {}", [name])
        return int(rows[0]["value"]) if rows else None

    async def set_setting(self, name: str, value: int, *, by: str, at: datetime) -> None:
        """Store a configured value."""
        await self._run(
            "INSERT INTO portal_setting (name, value, changed_by, changed_at) "
            "VALUES ({}, {}, {}, {}) ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
            "changed_by = excluded.changed_by, changed_at = excluded.changed_at",
            [name, value, by, at],
        )


def _instant(value: Any) -> datetime:
    # SQLite hands back ISO text; PostgreSQL a datetime.
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
