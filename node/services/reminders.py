"""Local deadline reminders: which conditions of a case a clerk must be told about, and the
offline reconciliation that finds them.

A case's light, remaining working days, 容缺 and urge deadlines depend on the day as well as on
its events, but a case is only folded when an event arrives. The worker therefore folds this
node's open cases again against the working calendar in force and the current instant, in
batches, without the network: each case once per day, and again whenever its events change.
The refreshed row replaces the stored one only if nobody changed it meanwhile (see
:mod:`node.storage.reminder_store`), and every condition found becomes a reminder once per
transition: entering the warning window for a given promised due day, passing it, a 容缺
material overdue, an urge whose feedback is due or overdue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import msgspec

from node.identity import NodeIdentity
from node.services.catalog import NodeCatalogService
from node.storage.reminder_store import NewReminder, Refold, Reminder, ReminderStore
from shared.calendar import WorkingCalendar, china_date
from shared.case_state import CaseState, Light
from shared.errors import NotFoundError
from sync.projection import PENDING_FLAG, ProjectionContext, decode_view, project_case
from sync.store import CaseRow, SyncStore

BATCH = 200
"""Cases folded and written per transaction: short write locks for the web process."""

URGE_NOTICE_DAYS = 1
"""An urge is brought up when its feedback is due within this many working days."""

KIND_LABELS = {
    "warning": "预警",
    "overdue": "超期",
    "deferred_overdue": "容缺材料逾期",
    "urge_due": "催办待反馈",
    "urge_overdue": "催办反馈逾期",
}


@dataclass(frozen=True)
class ReconcileReport:
    """What one reconciliation pass did."""

    folded: int
    created: int
    resolved: int


def reminder_conditions(
    state: CaseState, row: CaseRow, calendar: WorkingCalendar, today: date
) -> list[NewReminder]:
    """The conditions of an open case that a clerk must be reminded of, today."""
    if state.finished:
        return []

    def make(kind: str, subject: str, level: str, message: str, due: date | None) -> NewReminder:
        return NewReminder(
            case_id=row.case_id,
            kind=kind,
            subject=subject,
            level=level,
            message=message,
            due=due,
            receipt_no=row.receipt_no,
            item_code=row.item_code,
            applicant_name=row.applicant_name,
        )

    found: list[NewReminder] = []
    promised = state.promised_due.due if state.promised_due else None
    if promised is not None and state.light is Light.YELLOW:
        left = state.remaining_working_days or 0
        found.append(
            make(
                "warning",
                promised.isoformat(),
                "yellow",
                f"即将到期：承诺办结期限 {_day(promised)}，还剩 {left} 个工作日。",
                promised,
            )
        )
    elif promised is not None and state.light is Light.RED:
        late = calendar.working_days_between(promised, today).days
        found.append(
            make(
                "overdue",
                promised.isoformat(),
                "red",
                f"已超期：承诺办结期限 {_day(promised)}，已超过 {max(late, 1)} 个工作日。",
                promised,
            )
        )
    overdue_codes = set(state.deferred_overdue)
    for material in state.deferred_outstanding:
        if material.code in overdue_codes:
            found.append(
                make(
                    "deferred_overdue",
                    f"{material.code}@{material.due.isoformat()}",
                    "red",
                    f"容缺材料“{material.name}”应于 {_day(material.due)} 前补交，申请人尚未补交。",
                    material.due,
                )
            )
    for urge in state.open_urges:
        if urge.overdue:
            found.append(
                make(
                    "urge_overdue",
                    urge.urge_id,
                    "red",
                    f"{urge.by_unit}的催办应于 {_day(urge.feedback_due)} 前反馈，已逾期。",
                    urge.feedback_due,
                )
            )
        elif calendar.working_days_between(today, urge.feedback_due).days <= URGE_NOTICE_DAYS:
            found.append(
                make(
                    "urge_due",
                    urge.urge_id,
                    "yellow",
                    f"{urge.by_unit}催办，请于 {_day(urge.feedback_due)} 前反馈办理情况。",
                    urge.feedback_due,
                )
            )
    return found


class DeadlineReconciler:
    """Folds this node's open cases against today and records the reminders they call for."""

    def __init__(
        self,
        store: ReminderStore,
        cases: SyncStore,
        identity: NodeIdentity,
        releases: NodeCatalogService,
        clock: Callable[[], datetime],
        *,
        batch: int = BATCH,
    ) -> None:
        self._store = store
        self._cases = cases
        self._identity = identity
        self._releases = releases
        self._clock = clock
        self._batch = batch

    async def run(self) -> ReconcileReport:
        """One pass over every open case whose fold is older than today or than its events."""
        now = self._clock()
        today = china_date(now)
        calendar = self._releases.calendar_now()
        ctx = ProjectionContext(
            node_id=self._identity.node_id,
            registry=self._releases.registry_now(),
            catalog_for=self._releases.catalog_for,
            calendar=calendar,
            now=now,
            feed_children=False,
        )
        folded = created = 0
        after = ""
        while True:
            batch = self._store.candidates(self._identity.node_id, today, after, self._batch)
            if not batch:
                break
            ids = [c.case_id for c in batch]
            after = ids[-1]
            refolds = await self._refold(ids, ctx, calendar, today)
            folded += len(refolds)
            created += self._store.apply(refolds, today, now)
        resolved = self._store.resolve_gone(self._identity.node_id, now)
        return ReconcileReport(folded=folded, created=created, resolved=resolved)

    async def _refold(
        self, ids: list[str], ctx: ProjectionContext, calendar: WorkingCalendar, today: date
    ) -> list[Refold]:
        states = await self._cases.case_states(ids)
        rows = await self._cases.case_rows(ids)
        refolds: list[Refold] = []
        for case_id in ids:
            row, state = rows.get(case_id), states.get(case_id)
            if row is None or state is None:
                continue
            view = decode_view(row.state_json)
            outcome = project_case(case_id, state, [], ctx, quarantined={}, previous_view=view)
            fresh = outcome.projection.row
            new_state = decode_view(fresh.state_json).state
            # Only the fold is redone: the evidence kept beside it (records waiting for their
            # dependencies included) stays as the projection left it.
            new_view = msgspec.structs.replace(view, state=new_state)
            flags = set(fresh.flags) | ({PENDING_FLAG} if view.pending else set())
            new_row = msgspec.structs.replace(
                fresh,
                state_json=msgspec.json.encode(new_view),
                flags=tuple(sorted(flags)),
                applicant_name=row.applicant_name,
            )
            refolds.append(
                Refold(
                    case_id=case_id,
                    read_state_json=row.state_json,
                    row=new_row,
                    conditions=reminder_conditions(new_state, new_row, calendar, today),
                )
            )
        return refolds


class ReminderService:
    """What clerks do with reminders: list them, count them, acknowledge them."""

    def __init__(self, store: ReminderStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def listing(self, *, include_done: bool = False) -> list[Reminder]:
        """Open reminders first (red before yellow), then, if asked, handled ones."""
        return self._store.listing(include_done=include_done)

    def open_counts(self) -> dict[str, int]:
        """Unacknowledged reminders still in force, per level."""
        return self._store.open_counts()

    def acknowledge(self, reminder_id: int, by: str) -> Reminder:
        """Mark a reminder as seen by ``by``; acknowledging twice keeps the first.

        Raises:
            NotFoundError: no such reminder.
        """
        if self._store.get(reminder_id) is None:
            raise NotFoundError(f"没有编号为 {reminder_id} 的提醒。", code="reminder_not_found")
        self._store.acknowledge(reminder_id, by, self._clock())
        found = self._store.get(reminder_id)
        assert found is not None  # reminders are never deleted
        return found


def kind_label(kind: str) -> str:
    """The Chinese name of a reminder kind."""
    return KIND_LABELS.get(kind, kind)


def _day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"
