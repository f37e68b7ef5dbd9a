"""Helpers (no tests) for the reconciliation and signal tests: a county database, case rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from central.db.bulk_sql import insert_sql
from central.db.catalog_store import CatalogStore
from central.db.engine import close_database, make_engine, open_database
from central.db.reconcile_sql import Dialect, lights_clock, run, supervised_sql
from central.db.registry_store import RegistryStore
from central.db.sync_rows import ROW, row_values
from central.services.reconcile import Reconciler
from central.services.releases import ReleaseService
from central.services.supervision_rules import RuleService
from shared.calendar import CHINA_TZ, official_calendar
from shared.case_state import CaseState
from shared.events import (
    Accepted,
    Applicant,
    CaseEvent,
    IdType,
    ReceiptChannel,
    Received,
)
from shared.fold import fold_case
from shared.hlc import Hlc
from shared.signing import SigningKey
from shared.terms import CaseTerms
from sync.projection import CaseView
from sync.store import CaseRow

CAL = official_calendar()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VERSION = 7


def at(day: date, hh: int = 10, mm: int = 0) -> datetime:
    """An instant in China time."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=CHINA_TZ)


def event(cls: Any, case_id: str, when: datetime, *, node: str = "zhen-a", **fields: Any) -> Any:
    """An event of ``cls`` recorded at ``when``."""
    wall = (when - EPOCH) // timedelta(milliseconds=1)
    return cls(
        id=str(uuid.uuid4()),
        case_id=case_id,
        node_id=node,
        actor="clerk-1",
        hlc=Hlc(wall, 0),
        **fields,
    )


def received(case_id: str, when: datetime, item: str, **fields: Any) -> Received:
    """A receipt of ``item`` under catalog version :data:`VERSION`."""
    result: Received = event(
        Received,
        case_id,
        when,
        item_code=item,
        catalog_version=VERSION,
        applicant=Applicant(name="李四", id_type=IdType.RESIDENT_ID, id_number="1101"),
        materials=("M1",),
        channel=ReceiptChannel.WINDOW,
        **fields,
    )
    return result


def accepted_case(case_id: str, day: date, item: str) -> list[CaseEvent]:
    """A case received and accepted on ``day``."""
    return [
        received(case_id, at(day, 9), item),
        event(Accepted, case_id, at(day, 10), receipt_no=f"R-{case_id}"),
    ]


def row_of(case_id: str, state: CaseState, *, flags: Sequence[str] = ()) -> CaseRow:
    """The case row projection would write for ``state``."""
    return CaseRow(
        case_id=case_id,
        item_code=state.item_code,
        catalog_version=state.catalog_version,
        origin_node=state.origin_node,
        handling_node=state.handling_node,
        status=state.status.value,
        receipt_no=state.receipt_no,
        applicant_name="李四",
        received_on=state.received_on,
        accepted_on=state.accepted_on,
        promised_due=state.promised_due.due if state.promised_due else None,
        statutory_due=state.statutory_due.due if state.statutory_due else None,
        due_provisional=False,
        paused=state.open_pause is not None,
        finished=state.finished,
        light=state.light.value,
        flags=tuple(sorted({f.code.value for f in state.flags} | set(flags))),
        events_count=state.events_count,
        last_hlc=Hlc(0, state.events_count),
        state_json=msgspec.json.encode(CaseView(state=state)),
    )


def project(
    case_id: str, events: Sequence[CaseEvent], terms: CaseTerms, now: datetime
) -> tuple[CaseState, CaseRow]:
    """Fold as projection does at ``now``, and the row it would store."""
    state = fold_case(events, terms=terms, calendar=CAL, now=now)
    return state, row_of(case_id, state)


@dataclass
class County:
    """An opened county database with the supervision services."""

    engine: Any
    releases: ReleaseService
    rules: RuleService
    reconciler: Reconciler

    async def put_rows(self, rows: Sequence[CaseRow]) -> None:
        """Insert or replace case rows."""
        ids = [r.case_id for r in rows]
        for case_id in ids:
            await run(self.engine, "DELETE FROM case_row WHERE case_id = {}", [case_id])
        for r in rows:
            await run(self.engine, insert_sql("case_row", ROW, 1), list(row_values(r)))

    async def put_terms(self, item: str, warning_days: int, unit: str = "WD") -> None:
        """The warning window of ``item`` under :data:`VERSION`."""
        await run(
            self.engine,
            "INSERT INTO supervision_term (catalog_version, item_code, warning_days, unit) "
            "VALUES ({}, {}, {}, {}) ON CONFLICT (catalog_version, item_code) "
            "DO UPDATE SET warning_days = excluded.warning_days",
            [VERSION, item, warning_days, unit],
        )

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as plain dicts."""
        return [dict(r) for r in await run(self.engine, sql, params)]

    async def supervised(self) -> dict[str, dict[str, Any]]:
        """``supervision_case`` by case id, with the days left and overdue readers derive."""
        clock = await lights_clock(self.engine)
        found = await self.rows(supervised_sql(Dialect(self.engine), clock))
        return {r["case_id"]: r for r in found}

    async def actions(self) -> list[tuple[str, str, str, str | None]]:
        """Recorded actions as (case, kind, subject, target), sorted."""
        found = await self.rows(
            "SELECT case_id, kind, subject, target_node FROM supervision_action"
        )
        return sorted((r["case_id"], r["kind"], r["subject"], r["target_node"]) for r in found)


def as_date(value: Any) -> date | None:
    """A date column from either driver."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


@asynccontextmanager
async def county(tmp_path: Path, url: str | None) -> AsyncIterator[County]:
    """A fresh county database (SQLite in ``tmp_path`` or the PostgreSQL ``url``)."""
    engine = make_engine(url, tmp_path / "central.sqlite")
    await open_database(engine)
    key = SigningKey.generate()

    def clock() -> datetime:
        return datetime(2026, 3, 2, 2, tzinfo=UTC)

    releases = ReleaseService(CatalogStore(), RegistryStore(), lambda: key, clock)
    rules = RuleService(engine, clock)
    try:
        yield County(engine, releases, rules, Reconciler(engine, releases, rules, clock))
    finally:
        await close_database(engine)
