"""From the envelope log to queryable cases: apply, check, authorise, fold, route.

Projection runs over log entries above the store's watermark, grouped by case, so a backlog
that arrives in creation order rebuilds each case once rather than once per batch. For each
case it:

1. loads the stored CRDT state and applies each new entry in log order, checking the structural
   rules (:meth:`sync.casedoc.CaseDoc.apply_checked`); a violation rejects the entry, keeps it as
   evidence and quarantines its origin, whose later entries are then ignored too;
2. judges every event against the catalog version the case runs under
   (:func:`shared.authority.unauthorized_reason`): an unauthorised event stays in the document as
   evidence but is left out of the fold and flagged for supervision;
3. folds the remaining events into a :class:`~shared.case_state.CaseState` and a
   :class:`~sync.store.CaseRow`;
4. works out which nodes take part in the case and queues the case's entries for each child
   whose subtree takes part (a child that becomes a party later receives the whole case).

Everything is decided from the log and the catalog alone, so every tier that holds the same
entries projects the same cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from shared.authority import unauthorized_reason
from shared.calendar import WorkingCalendar, china_date
from shared.case_state import CaseState, CaseStatus
from shared.catalog import Catalog, Item
from shared.errors import NotFoundError
from shared.events import CaseEvent, Forwarded, Received
from shared.fold import fold_case
from shared.hlc import Hlc
from shared.registry import Registry
from sync.casedoc import CaseDoc
from sync.envelope import open_body
from sync.reasons import Reason
from sync.store import CaseProjection, CaseRow, FeedEntry, LogEntry, Rejection, WriteSet

_DAY_MS = 86_400_000
_CHINA_OFFSET_MS = 8 * 3_600_000
"""China Standard Time is UTC+8 all year: an HLC wall time's day in China, without datetimes."""

UNAUTHORIZED_FLAG = "unauthorized_action"
REJECTED_FLAG = "rejected_record"
PENDING_FLAG = "pending_record"


# Views hold plain values only (gc=False, as sync.envelope explains).
class UnauthorizedAction(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An event kept as evidence but left out of the fold."""

    event_id: str
    node_id: str
    kind: str
    reason: str


class RejectedRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A logged envelope of this case that failed the structural checks."""

    origin: str
    seq: int
    reason: str
    detail: str


class PendingRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A logged envelope whose update waits for something it depends on."""

    origin: str
    seq: int


class CaseView(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the apps show for a case: the fold plus the evidence kept beside it."""

    state: CaseState
    applicant_name: str | None = None
    unauthorized: tuple[UnauthorizedAction, ...] = ()
    rejected: tuple[RejectedRecord, ...] = ()
    pending: tuple[PendingRecord, ...] = ()


def decode_view(data: bytes) -> CaseView:
    """Decode ``CaseRow.state_json``."""
    return msgspec.json.decode(data, type=CaseView)


@dataclass
class ProjectionContext:
    """What projection needs besides the store.

    Attributes:
        node_id: the receiver; its children in ``registry`` get feeds.
        catalog_for: the catalog of a release version, None when this receiver lacks it.
    """

    node_id: str
    registry: Registry
    catalog_for: Callable[[int], Catalog | None]
    calendar: WorkingCalendar
    now: datetime
    feed_children: bool = True
    judged: dict[tuple[object, ...], str | None] = field(default_factory=dict)
    """Authority decisions made with this context, by what each depends on (see ``_judge``)."""


@dataclass
class CaseOutcome:
    """Projection of one case and the evidence it produced.

    ``quarantines`` maps each origin caught breaking a structural rule to (why, seq of the
    offending entry).
    """

    projection: CaseProjection
    rejections: list[Rejection] = field(default_factory=list)
    quarantines: dict[str, tuple[str, int]] = field(default_factory=dict)
    valid: list[LogEntry] = field(default_factory=list)


def project_case(
    case_id: str,
    state: bytes | None,
    entries: Sequence[LogEntry],
    ctx: ProjectionContext,
    *,
    quarantined: dict[str, tuple[str, int]],
    previous_view: CaseView | None = None,
    retry: Sequence[LogEntry] = (),
) -> CaseOutcome:
    """Apply ``entries`` (new for this case, in log order) to ``state`` and project the case.

    ``quarantined`` maps an origin to (why, seq): its entries after that seq are refused, so a
    violation bars everything its origin signed afterwards, whatever case and order they come in.

    An update whose dependencies are not here yet integrates nothing: pycrdt would hold it in
    memory only, so it is kept aside instead (``CaseView.pending``) and retried whenever the
    case is projected again. ``retry`` passes those entries back in.
    """
    doc = CaseDoc.load(state)
    run = _Run(case_id, ctx, quarantined, previous_view)
    waiting: list[LogEntry] = [*retry]
    together = run.applied_together(doc, entries)
    if together is None:
        for entry in entries:
            if run.apply(doc, entry) == "pending":
                waiting.append(entry)
    progress = True
    while waiting and progress:
        progress = False
        still: list[LogEntry] = []
        for entry in waiting:
            if run.apply(doc, entry) == "pending":
                still.append(entry)
            else:
                progress = True
        waiting = still
    if together is not None and state is None and not waiting:
        # A case new to this receiver, applied in one go: its events are exactly those added
        # (the fold orders them itself), so the document need not be read back.
        events = list(together)
    else:
        events, _undecodable = doc.events()
    pending = tuple(PendingRecord(origin=e.origin, seq=e.seq) for e in waiting)
    projection = _projection(
        case_id, doc.state(), events, ctx, rejected=tuple(run.rejected), pending=pending
    )
    return CaseOutcome(projection, run.rejections, run.quarantines, run.valid)


class _Run:
    """Bookkeeping of one case's projection: what was applied, rejected or quarantined."""

    def __init__(
        self,
        case_id: str,
        ctx: ProjectionContext,
        quarantined: dict[str, tuple[str, int]],
        previous_view: CaseView | None,
    ) -> None:
        self.case_id = case_id
        self.ctx = ctx
        self.barred = quarantined
        self.quarantines: dict[str, tuple[str, int]] = {}
        self.valid: list[LogEntry] = []
        self.rejections: list[Rejection] = []
        self.rejected: list[RejectedRecord] = list(previous_view.rejected) if previous_view else []

    def applied_together(
        self, doc: CaseDoc, entries: Sequence[LogEntry]
    ) -> tuple[CaseEvent, ...] | None:
        """Try the batch fast path; None (nothing changed) when the entries need one by one."""
        if not entries or any(self._bar(e) is not None for e in entries):
            return None
        bodies = [open_body(e.envelope) for e in entries]
        items = [(b.update, e.origin, b.client_id) for e, b in zip(entries, bodies, strict=True)]
        added = doc.apply_batch(items, case_id=self.case_id)
        if added is not None:
            self.valid.extend(entries)
        return added

    def apply(self, doc: CaseDoc, entry: LogEntry) -> str:
        """Apply one entry: ``applied``, ``pending`` or ``rejected``."""
        barred = self._bar(entry)
        if barred is not None:
            self._reject(
                entry, Reason.QUARANTINED_ORIGIN, f"节点 {entry.origin} 已被隔离：{barred}"
            )
            return "rejected"
        body = open_body(entry.envelope)
        check = doc.apply_checked(
            body.update, origin=entry.origin, client_id=body.client_id, case_id=self.case_id
        )
        if check.ok and check.pending:
            return "pending"
        if check.ok:
            self.valid.append(entry)
            return "applied"
        reason = check.reason or Reason.UNDECODABLE_UPDATE
        if reason.quarantines:
            self.quarantines.setdefault(
                entry.origin, (f"{reason.label}：{check.detail}", entry.seq)
            )
        self._reject(entry, reason, check.detail)
        return "rejected"

    def _bar(self, entry: LogEntry) -> str | None:
        """Why ``entry`` is refused because its origin is quarantined, or None."""
        for source in (self.barred, self.quarantines):
            found = source.get(entry.origin)
            if found is not None and entry.seq > found[1]:
                return found[0]
        return None

    def _reject(self, entry: LogEntry, reason: Reason, detail: str) -> None:
        self.rejected.append(
            RejectedRecord(origin=entry.origin, seq=entry.seq, reason=reason.value, detail=detail)
        )
        self.rejections.append(
            Rejection(
                origin=entry.origin,
                seq=entry.seq,
                hash=entry.hash,
                case_id=self.case_id,
                reason=reason,
                detail=detail,
                envelope=entry.envelope,
                received_at=self.ctx.now,
            )
        )


def _projection(
    case_id: str,
    state: bytes,
    events: list[CaseEvent],
    ctx: ProjectionContext,
    *,
    rejected: tuple[RejectedRecord, ...],
    pending: tuple[PendingRecord, ...],
) -> CaseProjection:
    received = _first_received(events)
    catalog = ctx.catalog_for(received.catalog_version) if received else None
    item = _item(catalog, received.item_code) if received and catalog else None
    item_key = (received.catalog_version, received.item_code) if received and item else None
    kept: list[CaseEvent] = []
    unauthorized: list[UnauthorizedAction] = []
    for event, received_by, handling in _routed(events):
        why = _judge(ctx, event, item, item_key, received_by=received_by, handling=handling)
        if why is None:
            kept.append(event)
        else:
            unauthorized.append(
                UnauthorizedAction(
                    event_id=event.id, node_id=event.node_id, kind=event.KIND, reason=why
                )
            )
    terms = item.case_terms() if item else None
    case_state = (
        fold_case(kept, terms=terms, calendar=ctx.calendar, now=ctx.now)
        if kept
        else _empty_state(case_id)
    )
    view = CaseView(
        state=case_state,
        applicant_name=received.applicant.name if received else None,
        unauthorized=tuple(unauthorized),
        rejected=rejected,
        pending=pending,
    )
    flags = [flag.code.value for flag in case_state.flags]
    if unauthorized:
        flags.append(UNAUTHORIZED_FLAG)
    if rejected:
        flags.append(REJECTED_FLAG)
    if pending:
        flags.append(PENDING_FLAG)
    parties = {event.node_id for event in events}
    parties.update(e.to_node for e in events if isinstance(e, Forwarded))
    row = CaseRow(
        case_id=case_id,
        item_code=case_state.item_code,
        catalog_version=case_state.catalog_version,
        origin_node=case_state.origin_node,
        handling_node=case_state.handling_node,
        status=case_state.status.value,
        receipt_no=case_state.receipt_no,
        applicant_name=view.applicant_name,
        received_on=case_state.received_on,
        accepted_on=case_state.accepted_on,
        promised_due=case_state.promised_due.due if case_state.promised_due else None,
        statutory_due=case_state.statutory_due.due if case_state.statutory_due else None,
        due_provisional=any(
            d is not None and d.provisional
            for d in (case_state.promised_due, case_state.statutory_due)
        ),
        paused=case_state.open_pause is not None,
        finished=case_state.finished,
        light=case_state.light.value,
        flags=tuple(sorted(set(flags))),
        events_count=len(events),
        last_hlc=max((e.hlc for e in events), default=Hlc(0, 0)),
        state_json=msgspec.json.encode(view),
    )
    return CaseProjection(case_id=case_id, state=state, row=row, parties=frozenset(parties))


def _judge(
    ctx: ProjectionContext,
    event: CaseEvent,
    item: Item | None,
    item_key: tuple[int, str] | None,
    *,
    received_by: str | None,
    handling: str | None,
) -> str | None:
    """:func:`~shared.authority.unauthorized_reason` of ``event``, decided once per context.

    The decision depends on nothing but the event's kind, node and department (of a review),
    the case's item, receiving and handling nodes, the day (in China) and the registry, which
    is the context's; a backlog of similar cases repeats the same few questions.
    """
    day = (event.hlc.wall_ms + _CHINA_OFFSET_MS) // _DAY_MS
    department = getattr(event, "department", None)
    key = (type(event), event.node_id, department, item_key, handling, received_by, day)
    if key in ctx.judged:
        return ctx.judged[key]
    why = unauthorized_reason(
        event,
        node=ctx.registry.get(event.node_id),
        item=item,
        registry=ctx.registry,
        handling_node=handling,
        received_by=received_by,
        on=china_date(event.hlc.as_datetime()),
    )
    ctx.judged[key] = why
    return why


def _empty_state(case_id: str) -> CaseState:
    return CaseState(case_id=case_id, status=CaseStatus.INCOMPLETE)


def _first_received(events: Iterable[CaseEvent]) -> Received | None:
    received = [e for e in events if isinstance(e, Received)]
    return min(received, key=lambda e: (e.hlc, e.node_id, e.id)) if received else None


def _routed(events: list[CaseEvent]) -> list[tuple[CaseEvent, str | None, str | None]]:
    """Each event (in fold order) with who had received and who was handling the case before it."""
    ordered = sorted(events, key=lambda e: (e.hlc, e.node_id, e.id))
    routed: list[tuple[CaseEvent, str | None, str | None]] = []
    received_by: str | None = None
    handling: str | None = None
    for event in ordered:
        routed.append((event, received_by, handling))
        if isinstance(event, Received) and received_by is None:
            received_by = handling = event.node_id
        elif isinstance(event, Forwarded):
            handling = event.to_node
    return routed


def _item(catalog: Catalog, code: str) -> Item | None:
    try:
        return catalog.item(code)
    except NotFoundError:
        return None


def feed_for_children(
    ctx: ProjectionContext,
    *,
    parties_before: frozenset[str],
    parties_after: frozenset[str],
    new_valid: Sequence[LogEntry],
    whole_case: Sequence[LogEntry],
    rejected_keys: set[tuple[str, int]],
) -> list[FeedEntry]:
    """Entries of this case to queue for each child of the receiver.

    A child receives a case when a node of its subtree takes part in it; it never receives
    entries that originate inside its own subtree (it sent those up itself) nor rejected ones.
    """
    if not ctx.feed_children:
        return []
    feed: list[FeedEntry] = []
    for child in ctx.registry.children(ctx.node_id):
        subtree = ctx.registry.subtree(child.node_id)
        if not parties_after & subtree:
            continue
        entries = new_valid if parties_before & subtree else whole_case
        feed.extend(
            FeedEntry(child=child.node_id, origin=e.origin, seq=e.seq)
            for e in entries
            if e.origin not in subtree and (e.origin, e.seq) not in rejected_keys
        )
    return feed


def merge_case_outcome(writes: WriteSet, outcome: CaseOutcome) -> None:
    """Add one case's projection and evidence to a write set."""
    writes.projections.append(outcome.projection)
    writes.rejections.extend(outcome.rejections)
    for origin, (reason, _) in outcome.quarantines.items():
        writes.quarantines.setdefault(origin, reason)
