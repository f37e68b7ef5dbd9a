"""Who accepted (受理人) and who decided (决定人) each case, for the per-clerk indicators.

The projected state says when a case was accepted and decided but not by whom, and the events
that do live only in the case's CRDT document, which SQL cannot read. A refresh therefore reads
the documents of the accepted cases whose record changed since the last refresh (few, once the
first refresh is done) and keeps the answer in ``perf_actor``, where the indicator queries join
it set-based.

The acting event is the one the fold applied, found by matching the projected state: the
acceptance that gave the case its receipt number and acceptance day, the decision made at the
state's decision instant with its outcome. Events kept only as evidence of an unauthorised
action are skipped, as the fold skips them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from central.db.performance_sql import ACTOR_FIELDS, ACTOR_UPSERT, actors_due_sql
from central.db.reconcile_sql import insert_rows, run, transaction
from shared.case_state import CaseState
from shared.errors import InvalidError
from shared.events import Accepted, CaseEvent, Decided, DecidedOnSpot, DeemedAccepted
from shared.fold import fold_order
from sync.casedoc import CaseDoc
from sync.projection import decode_view

BATCH = 500
"""Case documents read per transaction."""


@dataclass(frozen=True)
class Actors:
    """The node and account that accepted and that decided a case (None when unknown)."""

    accepted_node: str | None = None
    accepted_by: str | None = None
    decided_node: str | None = None
    decided_by: str | None = None


def _accepts(event: CaseEvent, state: CaseState) -> bool:
    match event:
        case Accepted():
            return event.receipt_no == state.receipt_no and event.recorded_on == state.accepted_on
        case DeemedAccepted():
            return state.deemed_accepted and event.as_of == state.accepted_on
        case DecidedOnSpot():
            # 当场办结 without a separate acceptance: the decision is the acceptance too.
            return state.receipt_no is None and event.recorded_on == state.accepted_on
    return False


def _decides(event: CaseEvent, state: CaseState) -> bool:
    if isinstance(event, Decided | DecidedOnSpot):
        return event.outcome == state.outcome and event.recorded_at == state.decided_at
    return False


def actors_of(events: Iterable[CaseEvent], state: CaseState, ignored: frozenset[str]) -> Actors:
    """Who accepted and who decided, among ``events`` minus the ``ignored`` event ids."""
    ordered, _ = fold_order(e for e in events if e.id not in ignored)
    accepted = next((e for e in ordered if _accepts(e, state)), None)
    decided = next((e for e in ordered if _decides(e, state)), None)
    return Actors(
        accepted_node=accepted.node_id if accepted else None,
        accepted_by=accepted.actor if accepted else None,
        decided_node=decided.node_id if decided else None,
        decided_by=decided.actor if decided else None,
    )


def _actor_row(row: Any) -> tuple[Any, ...]:
    view = decode_view(bytes(row["state_json"]))
    try:
        events, _ = CaseDoc.load(bytes(row["state"])).events()
    except InvalidError:
        # A corrupt document is a signal of its own; here the case just has nobody to show.
        events = []
    ignored = frozenset(u.event_id for u in view.unauthorized)
    found = actors_of(events, view.state, ignored) if events else Actors()
    return (
        row["case_id"],
        int(row["events_count"]),
        int(row["hlc_wall"]),
        int(row["hlc_counter"]),
        found.accepted_node,
        found.accepted_by,
        found.decided_node,
        found.decided_by,
    )


async def refresh_actors(engine: Any, *, batch: int = BATCH) -> int:
    """Read the actors of every accepted case whose record changed; the number of cases read.

    Each case is read at most once per call, in case id order, so a case that keeps changing
    cannot hold the refresh up.
    """
    after, read = "", 0
    while True:
        rows = await run(engine, actors_due_sql(batch), [after])
        if not rows:
            return read
        found = [_actor_row(r) for r in rows]
        async with transaction(engine):
            await insert_rows(engine, "perf_actor", ACTOR_FIELDS, found, ACTOR_UPSERT)
        after, read = str(rows[-1]["case_id"]), read + len(rows)
