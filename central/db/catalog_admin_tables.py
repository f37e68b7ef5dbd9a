"""Catalog administration in the county database: drafts, their audit trail, and the set-based
deadline rewrite that follows a calendar change.

A draft is one working copy of the catalog and calendar (JSON, as the services build it) plus
its workflow columns. Every change of a draft goes through :meth:`CatalogAdminStore.update_draft`
with the revision the caller read, so two administrators (or a double-clicked button) never
overwrite each other silently: the second write finds the revision moved and is refused.
"""

# ruff: noqa: S608 - SQL text is built from constant identifiers; values are always bound.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import msgspec
from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

from central.db.bulk_sql import Sql, marks
from central.db.sync_rows import ROW, case_row
from central.db.tables import CatalogRelease
from sync.store import CaseRow


class CatalogDraft(Table, tablename="catalog_draft"):
    """A working copy of the catalog on its way to a release."""

    id = Serial(primary_key=True)
    state = Varchar(length=20, index=True)
    revision = Integer()
    base_version = Integer(null=True, default=None)
    base_digest = Varchar(length=64)
    content = Text()
    created_by = Varchar(length=100)
    created_at = Timestamptz()
    updated_by = Varchar(length=100)
    updated_at = Timestamptz()
    submitted_by = Varchar(length=100, null=True, default=None)
    submitted_at = Timestamptz(null=True, default=None)
    reviewed_by = Varchar(length=100, null=True, default=None)
    reviewed_at = Timestamptz(null=True, default=None)
    review_comment = Text(default="")
    published_version = Integer(null=True, default=None)


class CatalogAudit(Table, tablename="catalog_audit"):
    """Who did what to the catalog and when, including deadlines moved by a calendar change."""

    id = Serial(primary_key=True)
    at = Timestamptz()
    actor = Varchar(length=100)
    action = Varchar(length=40, index=True)
    draft_id = Integer(null=True, default=None, index=True)
    subject = Text(default="")
    detail = Text(default="")


CATALOG_ADMIN_TABLES: tuple[type[Table], ...] = (CatalogDraft, CatalogAudit)

_DRAFT_COLUMNS = (
    "id",
    "state",
    "revision",
    "base_version",
    "base_digest",
    "content",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
    "submitted_by",
    "submitted_at",
    "reviewed_by",
    "reviewed_at",
    "review_comment",
    "published_version",
)
_UPDATABLE = frozenset(_DRAFT_COLUMNS) - {"id", "created_by", "created_at"}


@dataclass(frozen=True)
class DraftRecord:
    """A draft row as stored (``content`` is the services' JSON)."""

    id: int
    state: str
    revision: int
    base_version: int | None
    base_digest: str
    content: str
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    submitted_by: str | None
    submitted_at: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_comment: str
    published_version: int | None


@dataclass(frozen=True)
class AuditEntry:
    """One audit line; ``detail`` is JSON text."""

    at: datetime
    actor: str
    action: str
    draft_id: int | None
    subject: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ReleaseSummary:
    """A published release without its body."""

    version: int
    content_hash: str
    published_at: datetime
    published_by: str


@dataclass(frozen=True)
class OpenCase:
    """An unfinished case as projected: its row and its CRDT state."""

    row: CaseRow
    state: bytes


_T = TypeVar("_T")

_AUDIT_COLUMNS = ("at", "actor", "action", "draft_id", "subject", "detail")


class CatalogAdminStore:
    """Drafts, audit and the deadline rewrite, on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:  # type: ignore[type-arg]
        self._engine = engine
        self._postgres = isinstance(engine, PostgresEngine)

    # ------------------------------------------------------------------ drafts

    async def insert_draft(self, record: DraftRecord) -> int:
        """Store a new draft; its id is assigned here."""
        values = {c: getattr(record, c) for c in _DRAFT_COLUMNS if c != "id"}
        rows = await CatalogDraft.insert(CatalogDraft(**values)).returning(CatalogDraft.id).run()
        return int(rows[0]["id"])

    async def draft(self, draft_id: int) -> DraftRecord | None:
        """One draft by id."""
        row = await CatalogDraft.select().where(CatalogDraft.id == draft_id).first().run()
        return _draft(row) if row else None

    async def drafts_in(self, states: Sequence[str]) -> list[DraftRecord]:
        """Drafts in any of these states, newest first."""
        rows = (
            await CatalogDraft.select()
            .where(CatalogDraft.state.is_in(list(states)))
            .order_by(CatalogDraft.id, ascending=False)
            .run()
        )
        return [_draft(r) for r in rows]

    async def recent_drafts(self, limit: int = 20) -> list[DraftRecord]:
        """The newest drafts whatever their state."""
        rows = (
            await CatalogDraft.select()
            .order_by(CatalogDraft.id, ascending=False)
            .limit(limit)
            .run()
        )
        return [_draft(r) for r in rows]

    async def update_draft(self, draft_id: int, revision: int, **changes: Any) -> bool:
        """Apply ``changes`` if the draft is still at ``revision``; the revision then moves on.

        Returns:
            False when someone else changed the draft first (nothing is written).
        """
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"unknown draft columns: {sorted(unknown)}")
        values = {getattr(CatalogDraft, k): v for k, v in changes.items()}
        values[CatalogDraft.revision] = revision + 1
        rows = (
            await CatalogDraft.update(values)
            .where((CatalogDraft.id == draft_id) & (CatalogDraft.revision == revision))
            .returning(CatalogDraft.id)
            .run()
        )
        return bool(rows)

    # ------------------------------------------------------------------- audit

    async def add_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append audit lines (one statement per thousand)."""
        await self._insert_audit(entries)

    async def audit(
        self, *, draft_id: int | None = None, action: str | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        """Audit lines, newest first, optionally of one draft or one action."""
        query = CatalogAudit.select()
        if draft_id is not None:
            query = query.where(CatalogAudit.draft_id == draft_id)
        if action is not None:
            query = query.where(CatalogAudit.action == action)
        rows = await query.order_by(CatalogAudit.id, ascending=False).limit(limit).run()
        return [
            AuditEntry(
                at=r["at"],
                actor=r["actor"],
                action=r["action"],
                draft_id=r["draft_id"],
                subject=r["subject"],
                detail=r["detail"],
            )
            for r in rows
        ]

    # ----------------------------------------------------------------- history

    async def release_history(self) -> list[ReleaseSummary]:
        """Every published release, newest first, without the bodies."""
        rows = (
            await CatalogRelease.select(
                CatalogRelease.version,
                CatalogRelease.content_hash,
                CatalogRelease.published_at,
                CatalogRelease.published_by,
            )
            .order_by(CatalogRelease.version, ascending=False)
            .run()
        )
        return [
            ReleaseSummary(
                version=int(r["version"]),
                content_hash=str(r["content_hash"]),
                published_at=r["published_at"],
                published_by=str(r["published_by"]),
            )
            for r in rows
        ]

    # -------------------------------------------------- deadlines of open cases

    async def open_cases_touching(self, first: date, last: date) -> list[OpenCase]:
        """Unfinished cases whose deadlines may depend on a day in ``[first, last]``.

        A prefilter in one statement: a case received after ``last`` counts only later days,
        and one whose deadlines all fall before ``first`` never reached a changed day; cases
        with an open pause, a provisional or a missing due day are always looked at again.
        """
        columns = ", ".join(f"r.{c}" for c in ROW)
        sql = (
            f"SELECT {columns}, s.state AS doc_state FROM case_row r "
            "JOIN case_state s ON s.case_id = r.case_id "
            "WHERE r.finished = {} AND (r.received_on IS NULL OR r.received_on <= {}) "
            "AND (r.paused = {} OR r.due_provisional = {} "
            "OR r.promised_due IS NULL OR r.statutory_due IS NULL "
            "OR r.promised_due >= {} OR r.statutory_due >= {}) ORDER BY r.case_id"
        )
        rows = await self._run(sql, [False, last, True, True, first, first])
        return [OpenCase(row=case_row(r), state=bytes(r["doc_state"])) for r in rows]

    async def quarantined_origins(self) -> dict[str, str]:
        """Origins whose records are no longer trusted (see the sync store)."""
        rows = await self._run("SELECT origin, reason FROM sync_quarantine")
        return {r["origin"]: r["reason"] for r in rows}

    async def rewrite_deadlines(
        self, rows: Sequence[tuple[CaseRow, CaseRow]], audit: Sequence[AuditEntry]
    ) -> set[str]:
        """Write re-folded rows ``(before, after)`` and their audit lines in one transaction.

        A row is written only if the case is still as ``before`` was read (same number of
        events and same last stamp): a case projected again meanwhile already used the new
        calendar and must not be overwritten with this older fold. Audit lines whose subject
        is a case that was not written are left out.

        Returns:
            The ids of the cases written.
        """
        written: set[str] = set()
        async with self._engine.transaction():
            for part in _parts(rows, 1000):
                written |= await self._update_rows(part)
            await self._insert_audit([a for a in audit if a.subject in written])
        return written

    async def _update_rows(self, rows: Sequence[tuple[CaseRow, CaseRow]]) -> set[str]:
        cast = _PG_CASTS if self._postgres else dict.fromkeys(_PG_CASTS, "")
        row = "(" + ", ".join("{}" + cast[c] for c in _REWRITE) + ")"
        sets = ", ".join(f"{c} = v.{c}" for c in _REWRITE[1:-3])
        sql = (
            f"WITH v ({', '.join(_REWRITE)}) AS (VALUES {', '.join([row] * len(rows))}) "
            f"UPDATE case_row SET {sets} FROM v WHERE case_row.case_id = v.case_id "
            "AND case_row.events_count = v.events_count "
            "AND case_row.last_hlc_wall = v.last_hlc_wall "
            "AND case_row.last_hlc_counter = v.last_hlc_counter RETURNING case_row.case_id"
        )
        params: list[Any] = []
        for before, after in rows:
            params += [
                after.case_id,
                after.promised_due,
                after.statutory_due,
                after.due_provisional,
                after.light,
                _flags(after.flags),
                after.state_json,
                before.events_count,
                before.last_hlc.wall_ms,
                before.last_hlc.counter,
            ]
        return {r["case_id"] for r in await self._run(sql, params)}

    async def _insert_audit(self, entries: Sequence[AuditEntry]) -> None:
        for part in _parts(entries, 1000):
            row = "(" + marks(len(_AUDIT_COLUMNS)) + ")"
            sql = (
                f"INSERT INTO catalog_audit ({', '.join(_AUDIT_COLUMNS)}) "
                f"VALUES {', '.join([row] * len(part))}"
            )
            params: list[Any] = []
            for e in part:
                params += [e.at, e.actor, e.action, e.draft_id, e.subject, e.detail]
            await self._run(sql, params)

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self._engine.run_querystring(Sql(sql, params)))


_REWRITE = (
    "case_id",
    "promised_due",
    "statutory_due",
    "due_provisional",
    "light",
    "flags",
    "state_json",
    "events_count",
    "last_hlc_wall",
    "last_hlc_counter",
)
_PG_CASTS = {
    "case_id": "::text",
    "promised_due": "::date",
    "statutory_due": "::date",
    "due_provisional": "::boolean",
    "light": "::text",
    "flags": "::text",
    "state_json": "::bytea",
    "events_count": "::bigint",
    "last_hlc_wall": "::bigint",
    "last_hlc_counter": "::bigint",
}


def _flags(flags: tuple[str, ...]) -> str:
    return msgspec.json.encode(flags).decode()


def _parts(values: Sequence[_T], size: int) -> list[Sequence[_T]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _draft(row: dict[str, Any]) -> DraftRecord:
    return DraftRecord(**{c: row[c] for c in _DRAFT_COLUMNS})
