"""Deadlines of unfinished cases after the working calendar changed.

A case's deadlines are never stored in its events: every tier folds them with the calendar of
the release in force. When a release changes the calendar (next year's notice, a corrected
holiday), the county re-folds the open cases whose deadlines could touch a changed day, writes
the rows whose result moved in batches, and leaves one audit line per case whose promised or
statutory due day changed (old and new), so a supervisor can tell why a light changed colour.

Only the candidates are re-folded: one set-based query picks unfinished cases received on or
before the last changed day whose deadlines reach the first one (see
:meth:`CatalogAdminStore.open_cases_touching`). Nodes do the same on their own when they
install the release, because the fold runs on every tier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import msgspec

from central.db.catalog_admin_tables import AuditEntry, CatalogAdminStore
from central.services.releases import ReleaseService
from shared.calendar_data import CalendarYear
from shared.catalog_diff import calendar_changes
from shared.registry import COUNTY_NODE_ID
from sync.projection import ProjectionContext, decode_view, project_case
from sync.store import CaseRow

RECOMPUTE_ACTION = "deadline_recomputed"


class DueChange(msgspec.Struct, frozen=True, kw_only=True):
    """The due days of one case before and after the calendar change."""

    case_id: str
    promised_before: date | None
    promised_after: date | None
    statutory_before: date | None
    statutory_after: date | None
    version: int


@dataclass
class RecomputeReport:
    """What one recomputation looked at and changed."""

    changed_days: int = 0
    candidates: int = 0
    rows_written: int = 0
    skipped_pending: int = 0
    due_changes: list[DueChange] = field(default_factory=list)


class DeadlineRecompute:
    """Re-folds open cases after a calendar change (see the module docstring)."""

    def __init__(
        self,
        store: CatalogAdminStore,
        releases: ReleaseService,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._releases = releases
        self._clock = clock

    async def after_calendar_change(
        self,
        before: tuple[CalendarYear, ...],
        after: tuple[CalendarYear, ...],
        *,
        by: str,
        version: int,
    ) -> RecomputeReport:
        """Re-fold the open cases a change from ``before`` to ``after`` may affect.

        ``after`` must be the calendar of the release now in force (the fold uses it).
        """
        days = calendar_changes(before, after)
        report = RecomputeReport(changed_days=len(days))
        if not days:
            return report
        candidates = await self._store.open_cases_touching(days[0].day, days[-1].day)
        report.candidates = len(candidates)
        now = self._clock()
        ctx = ProjectionContext(
            node_id=COUNTY_NODE_ID,
            registry=self._releases.registry_now(),
            catalog_for=self._releases.catalog_for,
            calendar=self._releases.calendar_now(),
            now=now,
            feed_children=False,
        )
        barred = {o: (why, 0) for o, why in (await self._store.quarantined_origins()).items()}
        rewrites: list[tuple[CaseRow, CaseRow]] = []
        audit: list[AuditEntry] = []
        for case in candidates:
            view = decode_view(case.row.state_json)
            if view.pending:
                # Entries kept aside are retried by the next projection of this case, which
                # uses the new calendar anyway; re-folding here would drop them from the view.
                report.skipped_pending += 1
                continue
            outcome = project_case(
                case.row.case_id, case.state, [], ctx, quarantined=barred, previous_view=view
            )
            new = outcome.projection.row
            if _same_result(case.row, new):
                continue
            rewrites.append((case.row, new))
            if (case.row.promised_due, case.row.statutory_due) != (
                new.promised_due,
                new.statutory_due,
            ):
                change = DueChange(
                    case_id=new.case_id,
                    promised_before=case.row.promised_due,
                    promised_after=new.promised_due,
                    statutory_before=case.row.statutory_due,
                    statutory_after=new.statutory_due,
                    version=version,
                )
                report.due_changes.append(change)
                audit.append(
                    AuditEntry(
                        at=now,
                        actor=by,
                        action=RECOMPUTE_ACTION,
                        draft_id=None,
                        subject=new.case_id,
                        detail=msgspec.json.encode(change).decode(),
                    )
                )
        written = await self._store.rewrite_deadlines(rewrites, audit) if rewrites else set()
        report.rows_written = len(written)
        report.due_changes = [c for c in report.due_changes if c.case_id in written]
        return report


def _same_result(old: CaseRow, new: CaseRow) -> bool:
    return (
        old.promised_due == new.promised_due
        and old.statutory_due == new.statutory_due
        and old.due_provisional == new.due_provisional
        and old.light == new.light
        and old.flags == new.flags
        and old.state_json == new.state_json
    )
