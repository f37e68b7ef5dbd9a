"""County reconciliation (对账): lights, warnings, cards and escalations for every open case.

A run copies the working calendar in force into ``supervision_day`` when it changed, records
the warning windows of any newly published catalog version, and then recomputes every open case
in a handful of set-based statements (:mod:`central.db.reconcile_sql`), recording the transitions
it causes: a warning (预警) when a case enters yellow, a yellow or red card (黄牌/红牌) as it
stays overdue, and an escalation to the next level up when an urge's feedback day passes
without an answer. Running it again the same day records nothing new.

An escalation is also a signed urge that must reach the handling node. The statements above
only record it; once they have committed, the run hands every escalation still owed to the urge
service (:meth:`central.services.urges.UrgeService.escalate`), which signs them through the
county replica, one envelope per case, since signing cannot happen inside SQL. What the run
recorded but could not sign (a crash, a concurrent write) stays owed and is signed next time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from central.commands import county_key_path
from central.db.catalog_store import CatalogStore
from central.db.engine import close_database, make_engine, open_database
from central.db.reconcile_sql import (
    CLOSE_FINISHED_SQL,
    LIGHTS_TODAY,
    LIGHTS_W_TODAY,
    URGES_MARKER,
    Dialect,
    RunConstants,
    actions_sql,
    count_actions_sql,
    escalation_sql,
    get_mark,
    insert_rows,
    paused_due_sql,
    run,
    set_mark,
    transaction,
    upsert_cases_sql,
    urges_sql,
    working_ordinal,
)
from central.db.registry_store import RegistryStore
from central.db.sync_store import PiccoloSyncStore
from central.services.releases import ReleaseService
from central.services.replication import county_replica
from central.services.signals import SignalService
from central.services.supervision_rules import RuleService
from central.services.urges import EscalationResult, UrgeService
from central.settings import CentralSettings
from shared.calendar import WorkingCalendar, china_date
from shared.errors import InvalidError
from sync.keys import load_private_key

YEARS_BEFORE = 2
YEARS_AFTER = 3
"""The calendar table spans the published years and today, widened by these many years, so
deadlines of old cases and long limits stay inside it (outside the published years the days
are classified provisionally, exactly as the fold does)."""


@dataclass(frozen=True)
class ReconcileReport:
    """What one run did."""

    run: int
    today: date
    open_cases: int
    actions: dict[str, int] = field(default_factory=dict)
    calendar_refilled: bool = False
    escalated: EscalationResult | None = None
    """The signed urges of escalations; None when the run had no urge service to sign them."""

    @property
    def warnings(self) -> int:
        """Warnings (预警) recorded."""
        return self.actions.get("warning", 0)

    @property
    def cards(self) -> int:
        """Yellow and red cards recorded."""
        return self.actions.get("yellow_card", 0) + self.actions.get("red_card", 0)

    @property
    def escalations(self) -> int:
        """Escalations recorded."""
        return self.actions.get("escalation", 0)

    @property
    def escalation_urges(self) -> int:
        """Signed urges issued for escalations (this run's and earlier runs' still owed)."""
        found = self.escalated
        return 0 if found is None else len(found.recorded) + len(found.repaired)


def calendar_span(calendar: WorkingCalendar, today: date) -> tuple[date, date]:
    """First and last day the calendar table holds."""
    first = min(calendar.first_covered.year, today.year) - YEARS_BEFORE
    last = max(calendar.last_covered.year, today.year) + YEARS_AFTER
    return date(first, 1, 1), date(last, 12, 31)


Day = tuple[date, bool, int]


def calendar_rows(calendar: WorkingCalendar, first: date, last: date) -> list[Day]:
    """``(day, is_working, wd)`` for every day of the span; ``wd`` counts working days so far."""
    rows: list[Day] = []
    wd, day = 0, first
    while day <= last:
        working = calendar.is_workday(day)
        wd += working
        rows.append((day, working, wd))
        day += timedelta(days=1)
    return rows


class Reconciler:
    """Runs reconciliations against the county database."""

    def __init__(
        self,
        engine: Any,
        releases: ReleaseService,
        rules: RuleService,
        clock: Callable[[], datetime],
        *,
        urges: UrgeService | None = None,
    ) -> None:
        self._engine = engine
        self._releases = releases
        self._rules = rules
        self._clock = clock
        self._urges = urges
        self._dialect = Dialect(engine)

    async def sync_calendar(self, today: date) -> bool:
        """Refill ``supervision_day`` if the calendar in force or the span changed."""
        calendar = self._releases.calendar_now()
        first, last = calendar_span(calendar, today)
        fingerprint = hashlib.sha256(calendar.to_json() + f"|{first}|{last}".encode()).hexdigest()
        if await get_mark(self._engine, "calendar") == fingerprint:
            return False
        async with transaction(self._engine):
            await run(self._engine, "DELETE FROM supervision_day")
            await insert_rows(
                self._engine,
                "supervision_day",
                ("day", "is_working", "wd"),
                calendar_rows(calendar, first, last),
            )
            await set_mark(self._engine, "calendar", fingerprint)
        return True

    async def sync_terms(self) -> None:
        """Record the warning window of each item of every catalog version not seen yet."""
        current = await self._releases.current()
        if current is None:
            return
        done = int(await get_mark(self._engine, "terms_version") or 0)
        rows: list[tuple[int, str, int, str]] = []
        for version in range(done + 1, current.version + 1):
            catalog = self._releases.catalog_for(version)
            if catalog is None:
                continue
            for item in catalog.items:
                terms = item.case_terms()
                rows.append((version, item.code, terms.warning_days, terms.unit.value))
        async with transaction(self._engine):
            await insert_rows(
                self._engine,
                "supervision_term",
                ("catalog_version", "item_code", "warning_days", "unit"),
                rows,
                "ON CONFLICT (catalog_version, item_code) DO NOTHING",
            )
            await set_mark(self._engine, "terms_version", str(current.version))

    async def reconcile(self, now: datetime | None = None) -> ReconcileReport:
        """Recompute every open case at ``now`` (the clock's time by default).

        Raises:
            InvalidError: ``now`` is naive, or today lies outside the calendar table.
        """
        now = now if now is not None else self._clock()
        today = china_date(now)
        refilled = await self.sync_calendar(today)
        await self.sync_terms()
        rules = await self._rules.rules()
        w_today = await working_ordinal(self._engine, today)
        if w_today is None:
            raise InvalidError(f"工作日历表不包含 {today}", code="calendar_table_short")
        d = self._dialect
        async with transaction(self._engine):
            constants = RunConstants(
                run=int(await get_mark(self._engine, "run") or 0) + 1,
                today=today,
                w_today=w_today,
                default_warning=rules["warning_days"],
                yellow_after=rules["yellow_card_after"],
                red_after=rules["red_card_after"],
            )
            await run(self._engine, "DELETE FROM supervision_pause")
            await run(self._engine, paused_due_sql(d, constants))
            await run(self._engine, upsert_cases_sql(d, constants))
            await run(self._engine, CLOSE_FINISHED_SQL)
            for statement in actions_sql(d, constants):
                await run(self._engine, statement)
            refresh, close = urges_sql(d, constants)
            await run(self._engine, refresh, [URGES_MARKER])
            await run(self._engine, close)
            for statement in escalation_sql(d, constants):
                await run(self._engine, statement)
            await set_mark(self._engine, "run", str(constants.run))
            await set_mark(self._engine, LIGHTS_TODAY, today.isoformat())
            await set_mark(self._engine, LIGHTS_W_TODAY, str(w_today))
            counted = await run(self._engine, count_actions_sql(constants))
            opened = await run(self._engine, "SELECT COUNT(*) AS n FROM supervision_case")
        escalated = None if self._urges is None else await self._urges.escalate(today)
        return ReconcileReport(
            run=constants.run,
            today=today,
            open_cases=int(opened[0]["n"]),
            actions={r["kind"]: int(r["n"]) for r in counted},
            calendar_refilled=refilled,
            escalated=escalated,
        )


async def supervise(settings: CentralSettings, clock: Callable[[], datetime]) -> SupervisionRun:
    """One periodic pass (used by the worker): reconcile every open case, sign the escalations
    it owes with the county key, refresh the signals."""
    key = load_private_key(county_key_path(settings))
    engine = make_engine(settings.database_url, settings.sqlite_path)
    await open_database(engine)
    try:
        releases = ReleaseService(CatalogStore(), RegistryStore(), lambda: key, clock)
        await releases.load()
        rules = RuleService(engine, clock)
        # A replica of its own for each pass: its clock starts from the county's newest record,
        # whichever process wrote it.
        replica = county_replica(PiccoloSyncStore(engine), releases, lambda: key, clock)
        urges = UrgeService(engine, replica, releases, clock)
        report = await Reconciler(engine, releases, rules, clock, urges=urges).reconcile()
        open_signals = await SignalService(engine, rules, clock).refresh()
    finally:
        await close_database(engine)
    return SupervisionRun(report, open_signals)


@dataclass(frozen=True)
class SupervisionRun:
    """What a periodic pass did."""

    reconcile: ReconcileReport
    open_signals: int
