"""County storage for the window's case work: serial numbers, the query secret, request ids
and the notices the county window signed.

Serials are taken with one upsert (``INSERT ... ON CONFLICT ... RETURNING``), which SQLite and
PostgreSQL both run atomically, so two windows never get the same receipt number.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from central.db.tables import CaseRowRecord


class CaseworkCounter(Table, tablename="casework_counter"):
    """A named counter: ``receipt:<day>`` and ``certificate:<year>``."""

    name = Varchar(length=40, unique=True, index=True)
    value = Integer(default=0)


class CaseworkSecret(Table, tablename="casework_secret"):
    """The county window's secrets (hex), by name; only ``query`` so far."""

    name = Varchar(length=40, unique=True, index=True)
    value = Text()


class CaseworkRequest(Table, tablename="casework_request"):
    """The first answer given to a client's request id (a double submission gets it again)."""

    request_id = Varchar(length=100, unique=True, index=True)
    case_id = Varchar(length=36)
    result = Text()
    answered_at = Timestamptz()


class CaseworkDocument(Table, tablename="casework_document"):
    """A notice the county window signed, exactly as first signed: one per case and kind."""

    document_key = Text(unique=True, index=True)  # "<case id> <kind>"
    case_id = Text(index=True)
    kind = Varchar(length=40)
    document_no = Text()
    signed = Text()
    issued_at = Timestamptz()


CASEWORK_TABLES: tuple[type[Table], ...] = (
    CaseworkCounter,
    CaseworkSecret,
    CaseworkRequest,
    CaseworkDocument,
)


@dataclass(frozen=True)
class KeptDocument:
    """A signed document as the county keeps it."""

    case_id: str
    kind: str
    document_no: str
    signed: bytes
    issued_at: datetime


class _AlreadyIssuedError(Exception):
    """Rolls back the serial taken for a document another writer issued meanwhile."""


class PiccoloCaseworkStore:
    """The case-work ports (:mod:`casework.ports`) on the county database."""

    async def _next(self, name: str) -> int:
        rows = await CaseworkCounter.raw(
            "INSERT INTO casework_counter (name, value) VALUES ({}, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = casework_counter.value + 1 "
            "RETURNING value",
            name,
        )
        return int(rows[0]["value"])

    async def next_serial(self, day: date) -> int:
        """The day's next receipt serial at the county window."""
        return await self._next(f"receipt:{day.isoformat()}")

    async def next_certificate_serial(self, year: int) -> int:
        """The year's next certificate serial at the county window."""
        return await self._next(f"certificate:{year}")

    async def query_secret(self) -> bytes:
        """The county window's query-code secret, made on first use."""
        await CaseworkSecret.raw(
            "INSERT INTO casework_secret (name, value) VALUES ('query', {}) "
            "ON CONFLICT (name) DO NOTHING",
            secrets.token_hex(32),
        )
        row = (
            await CaseworkSecret.select(CaseworkSecret.value)
            .where(CaseworkSecret.name == "query")
            .first()
        )
        assert row is not None
        return bytes.fromhex(str(row["value"]))

    async def request_result(self, request_id: str) -> bytes | None:
        """The answer first given to ``request_id``, if any."""
        row = (
            await CaseworkRequest.select(CaseworkRequest.result)
            .where(CaseworkRequest.request_id == request_id)
            .first()
        )
        return None if row is None else str(row["result"]).encode()

    async def remember_request(
        self, request_id: str, case_id: str, result: bytes, at: datetime
    ) -> None:
        """Remember the first answer given to ``request_id``."""
        await CaseworkRequest.raw(
            "INSERT INTO casework_request (request_id, case_id, result, answered_at) "
            "VALUES ({}, {}, {}, {}) ON CONFLICT (request_id) DO NOTHING",
            request_id,
            case_id,
            result.decode(),
            at,
        )

    async def issued_document(self, case_id: str, kind: str) -> KeptDocument | None:
        """The document of ``kind`` the county window already issued for the case."""
        row = (
            await CaseworkDocument.select(
                CaseworkDocument.document_no, CaseworkDocument.signed, CaseworkDocument.issued_at
            )
            .where(CaseworkDocument.document_key == _document_key(case_id, kind))
            .first()
        )
        if row is None:
            return None
        issued_at = row["issued_at"]
        if isinstance(issued_at, str):  # SQLite may hand back the text it stored
            issued_at = datetime.fromisoformat(issued_at)
        return KeptDocument(
            case_id=case_id,
            kind=kind,
            document_no=str(row["document_no"]),
            signed=str(row["signed"]).encode(),
            issued_at=issued_at if issued_at.tzinfo else issued_at.replace(tzinfo=UTC),
        )

    async def issue_document(
        self,
        case_id: str,
        kind: str,
        *,
        year: int,
        numbered: bool,
        make: Callable[[int | None], tuple[str, bytes]],
        at: datetime,
    ) -> KeptDocument:
        """Issue a document once: take the next serial of ``(kind, year)`` when ``numbered``,
        let ``make`` build and sign it, and keep it, all in one transaction.

        When the document was issued already, the kept one is returned, ``make`` is not called
        and no serial is used up, so the numbers run without gaps.
        """
        kept = await self.issued_document(case_id, kind)
        if kept is not None:
            return kept
        try:
            async with _write_transaction():
                # The serial's row lock comes first: a concurrent writer waits here and then
                # finds the document the first one kept.
                serial = await self._next(f"document:{kind}:{year}") if numbered else None
                if await self.issued_document(case_id, kind) is not None:
                    raise _AlreadyIssuedError
                document_no, signed = make(serial)
                await CaseworkDocument.raw(
                    "INSERT INTO casework_document "
                    "(document_key, case_id, kind, document_no, signed, issued_at) "
                    "VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (document_key) DO NOTHING",
                    _document_key(case_id, kind),
                    case_id,
                    kind,
                    document_no,
                    signed.decode(),
                    at.astimezone(UTC),
                )
        except _AlreadyIssuedError:
            pass
        kept = await self.issued_document(case_id, kind)
        assert kept is not None
        return kept


def _document_key(case_id: str, kind: str) -> str:
    return f"{case_id} {kind}"


def _write_transaction() -> Any:
    engine = CaseworkDocument._meta.db
    if isinstance(engine, SQLiteEngine):
        # Take the write lock at once, so two prints of one document run one after the other.
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


async def window_case_rows(
    *, handling_nodes: frozenset[str] | None, open_only: bool, limit: int
) -> list[dict[str, object]]:
    """Case rows for a window queue: the cases handled at ``handling_nodes`` (None: any)."""
    query = CaseRowRecord.select(
        CaseRowRecord.case_id,
        CaseRowRecord.item_code,
        CaseRowRecord.origin_node,
        CaseRowRecord.handling_node,
        CaseRowRecord.status,
        CaseRowRecord.receipt_no,
        CaseRowRecord.applicant_name,
        CaseRowRecord.promised_due,
        CaseRowRecord.light,
    )
    if handling_nodes is not None:
        query = query.where(CaseRowRecord.handling_node.is_in(sorted(handling_nodes) or [""]))
    if open_only:
        query = query.where(CaseRowRecord.finished == False)  # noqa: E712 (Piccolo column test)
    rows = await query.order_by(CaseRowRecord.received_on, ascending=False).limit(limit)
    return [dict(r) for r in rows]
