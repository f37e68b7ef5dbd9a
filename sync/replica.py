"""One receiver's replication engine: ingest, projection, local writes and feeds.

The county and every node run a :class:`Replica` over their own :class:`~sync.store.SyncStore`.
Mutations are serialised by two locks: one for what ingest changes (the log, heads, held
envelopes, client ids), taken by every ingest, and one for what projection changes (case states,
rows, parties, the watermark and the feeds), taken by every projection; a local write takes both,
ingest's first. So the origin's hash chain and the log positions advance in a single order, and
so does the projection watermark, while a large backlog projected in the background holds up
neither the next push nor another child's: it gives way to every sync call being answered.

Ingest is separate from projection: a received batch is checked (:mod:`sync.verify`), appended to
the log and acknowledged; projecting the touched cases (:mod:`sync.projection`) runs afterwards,
once per case over everything new in a chunk of the log, and resumes from the watermark after a
restart. Projection only ever reads log entries up to the end of its chunk, which concurrent
ingest never changes.

With helper processes (:mod:`sync.projection_helpers`, the county's), the pure work of
projecting each case is shared between the loop and the helpers, and a long push is projected
while it is still arriving: the helpers take a chunk's slices as soon as it is logged, the loop
joins once the calls pause. Reading, merging and committing stay on the loop, in log order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.calendar import WorkingCalendar
from shared.catalog import Catalog
from shared.errors import InvalidError, PermissionDeniedError
from shared.events import CaseEvent
from shared.hlc import Hlc, hlc_now, hlc_receive
from shared.registry import Registry
from shared.signing import SigningKey
from sync.casedoc import CaseDoc
from sync.envelope import ENVELOPE_FORMAT, GENESIS, Envelope, EnvelopeBody, open_body, seal
from sync.messages import EnvelopeResult
from sync.projection import (
    CaseOutcome,
    CaseView,
    ProjectionContext,
    decode_view,
    feed_for_children,
    merge_case_outcome,
    project_case,
)
from sync.projection_helpers import CaseJob, Helper, HelperLostError, ProjectionHelpers
from sync.reasons import Outcome, Reason
from sync.store import CaseProjection, CaseRow, Head, LogEntry, Rejection, SyncStore, WriteSet
from sync.verify import DEFAULT_MAX_SKEW_MS, CheckContext, Verdict, check_batch, prepare

PROJECTION_CHUNK = 10_000
"""Log entries projected per store transaction. Chunks are pipelined (one is computed while the
next is read and the one before committed), and a commit holds up concurrent ingest commits;
a case whose entries straddle two chunks is projected twice."""

HELPED_PROJECTION_CHUNK = 2_500
"""The chunk with helper processes, which project while a push is still arriving: a smaller
chunk's commit holds up the push's own commits for less time."""
INLINE_PROJECTION_LIMIT = 1_000
"""A sync whose backlog is at most this many entries is projected before it is answered (so
its effects show in the same round); a larger catch-up is acknowledged at once and projected
in the background."""
_CASES_PER_YIELD = 8
"""Cases projected between two looks at the event loop: a background projection gives way to
the sync calls being answered (see :meth:`Replica.answering`)."""
GIVE_WAY_SECONDS = 1.0
"""How long a background projection waits for answers in all, before its start and in each
chunk, so that calls arriving back to back cannot hold it up for good."""
CALLS_PAUSED_SECONDS = 0.05
"""With helper processes, the loop joins a background projection once no sync call has been
answered for this long: a child's push sends its rounds closer together than that."""
RECORD_ATTEMPTS = 3
"""A local write lost to another writer process of the same node is rebuilt this many times."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Carried:
    """What the chunk being committed projected: the next chunk starts from it."""

    projections: dict[str, CaseProjection] = field(default_factory=dict)
    quarantines: dict[str, str] = field(default_factory=dict)


@dataclass
class _Patience:
    """How long a background projection may still wait for sync calls in this chunk."""

    seconds: float


@dataclass(frozen=True)
class _Known:
    """The inputs of a chunk's projection besides its entries."""

    states: dict[str, bytes]
    parties: dict[str, frozenset[str]]
    views: dict[str, CaseView]
    retry: dict[str, list[LogEntry]]
    barred: dict[str, tuple[str, int]]


@dataclass(frozen=True)
class ProjectionReport:
    """How much one projection pass did."""

    entries: int
    cases: int
    rejected: int


class Replica:
    """Replication state of one node or of the county."""

    def __init__(
        self,
        store: SyncStore,
        *,
        node_id: str,
        key: SigningKey | None,
        registry: Callable[[], Registry],
        catalog_for: Callable[[int], Catalog | None],
        calendar: Callable[[], WorkingCalendar],
        clock: Callable[[], datetime],
        max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
        helpers: ProjectionHelpers | None = None,
    ) -> None:
        self.store = store
        self._helpers = helpers
        self.node_id = node_id
        self._key = key
        self._registry = registry
        self._catalog_for = catalog_for
        self._calendar = calendar
        self._clock = clock
        self._max_skew_ms = max_skew_ms
        self._lock = asyncio.Lock()
        self._projecting = asyncio.Lock()
        self._answering = 0
        self._answered_at = 0.0
        self._turns_wanted = 0
        self._may_project = asyncio.Event()
        self._may_project.set()
        self._hlc: Hlc | None = None
        self._projector: asyncio.Task[None] | None = None
        self._again = False

    @property
    def registry(self) -> Registry:
        """The node registry of the release in force."""
        return self._registry()

    # -- receiving -------------------------------------------------------------------------

    async def receive(
        self,
        envelopes: Sequence[Envelope],
        *,
        cursors: dict[str, int] | None = None,
        project: bool = True,
    ) -> list[EnvelopeResult]:
        """Check, log and acknowledge a batch; optionally project what is new.

        ``cursors`` are committed in the same transaction as the batch, so a node's pull cursor
        never runs ahead of what it stored.
        """
        async with self._lock:
            results = await self._ingest(envelopes, cursors or {})
        if project:
            await self.project()
        return results

    async def project(self) -> ProjectionReport:
        """Project everything above the watermark."""
        async with self._projection_turn():
            return await self._project(give_way=False)

    @contextlib.asynccontextmanager
    async def answering(self) -> AsyncIterator[None]:
        """Mark a child's sync call as being answered.

        Meanwhile a background projection pauses between cases, unless something waits for it
        to finish: the call's own work (much of it database work in other threads, which a busy
        event loop thread would slow down) goes first, and the projection takes the time between
        the child's rounds.
        """
        self._answering += 1
        self._open_gate()
        try:
            yield
        finally:
            self._answering -= 1
            self._answered_at = asyncio.get_running_loop().time()
            self._open_gate()

    async def _calls_paused(self, drained: asyncio.Event) -> None:
        """Wait until no sync call has been answered for ``CALLS_PAUSED_SECONDS`` (a child's
        push is over, not merely between two of its rounds), or until ``drained`` is set."""
        loop = asyncio.get_running_loop()
        while not drained.is_set():
            if not self._may_project.is_set():
                await _first_of(self._may_project.wait(), drained.wait())
                continue
            quiet = loop.time() - self._answered_at
            if quiet >= CALLS_PAUSED_SECONDS:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drained.wait(), CALLS_PAUSED_SECONDS - quiet)

    async def _give_way(self, patience: float) -> float:
        """Wait (at most ``patience`` seconds) while sync calls are answered; the time waited."""
        if self._may_project.is_set():
            return 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._may_project.wait(), patience)
        return loop.time() - started

    def _open_gate(self) -> None:
        if self._answering == 0 or self._turns_wanted > 0:
            self._may_project.set()
        else:
            self._may_project.clear()

    @contextlib.asynccontextmanager
    async def _projection_turn(self) -> AsyncIterator[None]:
        """Hold the projection lock; while waiting for it, a background projection never pauses."""
        self._turns_wanted += 1
        self._open_gate()
        try:
            await self._projecting.acquire()
        finally:
            self._turns_wanted -= 1
            self._open_gate()
        try:
            yield
        finally:
            self._projecting.release()

    async def backlog(self) -> int:
        """Log entries not yet projected."""
        return await self.store.log_end() - await self.store.watermark()

    async def project_after_ingest(self) -> None:
        """End of a push: project now if the backlog is small, else in the background."""
        if await self.backlog() <= INLINE_PROJECTION_LIMIT:
            await self.project()
        else:
            self.project_soon()

    async def project_while_ingesting(self) -> None:
        """Mid-push: with helper processes, start projecting once a whole chunk is waiting.

        Without helpers the loop would take that time from the push itself, so it waits for
        the push's end (:meth:`project_after_ingest`) and projects each case once.
        """
        helped = self._helpers is not None and self._helpers.count > 0
        if helped and await self.backlog() >= self._chunk():
            self.project_soon()

    def project_soon(self) -> None:
        """Start a background projection (one at a time; a request during it runs another)."""
        if self._projector is not None and not self._projector.done():
            self._again = True
            return
        self._projector = asyncio.get_running_loop().create_task(self._project_in_background())

    async def cancel_background(self) -> None:
        """Stop a background projection (shutdown); it resumes from the watermark later."""
        task = self._projector
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _project_in_background(self) -> None:
        while True:
            self._again = False
            if self._helpers is None or self._helpers.count == 0:
                # Started by a sync call: its answer (and its reads) go before the first chunk's.
                await self._give_way(GIVE_WAY_SECONDS)
            try:
                async with self._projection_turn():
                    await self._project(give_way=True)
            except Exception:
                # The watermark did not move: the next push or restart projects again.
                logger.exception("background projection failed")
                return
            if not self._again:
                return

    async def _ingest(
        self, envelopes: Sequence[Envelope], cursors: dict[str, int]
    ) -> list[EnvelopeResult]:
        store = self.store
        # Every held envelope is looked at again, not only those of origins in this batch: one
        # held for a clock running ahead must be taken once time has caught up, even if its
        # origin sends nothing more (the sender's cursor has already moved past it).
        all_held = await store.held()
        batch = prepare(envelopes)
        origins = {body.origin for _, body, _, _ in batch if body is not None}
        origins.update(h.origin for h in all_held)
        heads = await store.heads(origins)
        held = [h for h in all_held if h.seq > (heads[h.origin].seq if h.origin in heads else 0)]
        held_keys = {(h.origin, h.seq) for h in held}
        candidates = [*envelopes, *(h.envelope for h in held)]
        prepared = [*batch, *((h.envelope, open_body(h.envelope), "", h) for h in held)]
        seen = [entry for _, _, _, entry in prepared if entry is not None]
        chained = self._registry().subtree(self.node_id)
        logged_keys = [
            (e.origin, e.seq)
            for e in seen
            if e.origin not in chained or (e.origin in heads and e.seq <= heads[e.origin].seq)
        ]
        ctx = CheckContext(
            registry=self._registry(),
            heads=heads,
            quarantined=await store.quarantined(),
            logged_hashes=await store.hashes_at(logged_keys),
            known_updates=await store.known_updates({e.update_hash for e in seen}),
            client_owners=await store.client_owners({e.client_id for e in seen}),
            now_ms=_ms(self._clock()),
            max_skew_ms=self._max_skew_ms,
            chained=chained,
        )
        verdicts = check_batch(candidates, ctx, prepared)
        writes = WriteSet(cursors=dict(cursors))
        now = self._clock()
        for position, verdict in enumerate(verdicts):
            _record_verdict(writes, verdict, position >= len(envelopes), held_keys, now)
        _order_and_heads(writes, chained)
        latest = max((e.hlc for e in writes.entries), default=None)
        await store.commit(writes)
        if latest is not None:
            self.observe(latest)
        return [_result(v) for v in verdicts[: len(envelopes)]]

    async def _project(self, *, give_way: bool) -> ProjectionReport:
        """Project the log above the watermark, chunk after chunk.

        The chunks are pipelined: while one chunk is computed, the next one is read and the
        previous one committed (both mostly database work in other threads or processes).
        Commits stay in log order, and a chunk is computed from what the previous one will
        commit, not from the store, for the cases and quarantines they share.
        """
        store = self.store
        total = ProjectionReport(0, 0, 0)
        chunk = self._chunk()
        entries = await store.log_after(await store.watermark(), chunk)
        carried = _Carried()
        reading: asyncio.Future[list[LogEntry]] | None = None
        committing: asyncio.Future[None] | None = None
        try:
            while entries:
                known = await self._known(entries, carried)
                if len(entries) == chunk:
                    reading = asyncio.ensure_future(store.log_after(entries[-1].pos, chunk))
                writes = await self._project_chunk(entries, known, give_way=give_way)
                if committing is not None:
                    await committing
                committing = asyncio.ensure_future(store.commit(writes))
                carried = _Carried(
                    {p.case_id: p for p in writes.projections}, dict(writes.quarantines)
                )
                total = ProjectionReport(
                    total.entries + len(entries),
                    total.cases + len(carried.projections),
                    total.rejected + len(writes.rejections),
                )
                entries = await reading if reading is not None else []
                reading = None
            if committing is not None:
                await committing
        except BaseException as exc:
            # Nothing after a failed chunk is committed. A commit under way holds a whole chunk:
            # it may finish (it is stopped only when this projection is), the watermark says.
            stopped = isinstance(exc, asyncio.CancelledError)
            for pending, stop in ((reading, True), (committing, stopped)):
                if pending is not None:
                    if stop:
                        pending.cancel()
                    with contextlib.suppress(BaseException):
                        await pending
            raise
        return total

    def _chunk(self) -> int:
        helped = self._helpers is not None and self._helpers.count > 0
        return min(PROJECTION_CHUNK, HELPED_PROJECTION_CHUNK) if helped else PROJECTION_CHUNK

    async def _known(self, entries: list[LogEntry], carried: _Carried) -> _Known:
        """What the chunk's cases were before it (the store's, or the previous chunk's)."""
        store = self.store
        ids = list(
            dict.fromkeys(e.case_id for e in entries if e.case_id not in carried.projections)
        )
        states = await store.case_states(ids)
        parties = await store.case_parties(ids)
        rows = await store.case_rows(ids)
        for case_id in {e.case_id for e in entries} & carried.projections.keys():
            projection = carried.projections[case_id]
            states[case_id] = projection.state
            parties[case_id] = projection.parties
            rows[case_id] = projection.row
        quarantined = {**carried.quarantines, **await store.quarantined()}
        views = {case_id: decode_view(row.state_json) for case_id, row in rows.items()}
        return _Known(
            states=states,
            parties=parties,
            views=views,
            retry=await self._pending_entries(views),
            barred={origin: (why, 0) for origin, why in quarantined.items()},
        )

    async def _project_chunk(
        self, entries: list[LogEntry], known: _Known, *, give_way: bool
    ) -> WriteSet:
        by_case: dict[str, list[LogEntry]] = {}
        for entry in entries:
            by_case.setdefault(entry.case_id, []).append(entry)
        states, parties, views, retry = known.states, known.parties, known.views, known.retry
        ctx = self._context()
        barred = dict(known.barred)
        while True:
            # A violation found in one case bars its origin's later entries in every case of
            # the chunk; if this pass found a new one, project the chunk again knowing it.
            writes = WriteSet(watermark=entries[-1].pos)
            jobs = [
                CaseJob(
                    case_id=case_id,
                    state=states.get(case_id),
                    entries=case_entries,
                    previous_view=views.get(case_id),
                    retry=retry.get(case_id, []),
                )
                for case_id, case_entries in by_case.items()
            ]
            computed = await self._compute(jobs, ctx, barred, give_way=give_way)
            outcomes: list[tuple[str, CaseOutcome, CaseView | None]] = []
            found: dict[str, tuple[str, int]] = {}
            for job, outcome in zip(jobs, computed, strict=True):
                for origin, (why, seq) in outcome.quarantines.items():
                    if origin not in found or seq < found[origin][1]:
                        found[origin] = (why, seq)
                merge_case_outcome(writes, outcome)
                outcomes.append((job.case_id, outcome, job.previous_view))
            new = {o: v for o, v in found.items() if o not in barred or v[1] < barred[o][1]}
            if not new:
                break
            barred.update(new)
        await self._add_feed(writes, outcomes, parties, ctx, by_case, upto=entries[-1].pos)
        return writes

    async def _compute(
        self,
        jobs: list[CaseJob],
        ctx: ProjectionContext,
        barred: dict[str, tuple[str, int]],
        *,
        give_way: bool,
    ) -> list[CaseOutcome]:
        """Project ``jobs`` on the loop and in the helper processes; outcomes in job order.

        Slices are handed out one at a time to whoever is free: the helpers keep working while
        the loop answers sync calls, and the loop takes slices between the calls.
        """
        pool = self._helpers
        patience = _Patience(GIVE_WAY_SECONDS if give_way else 0.0)
        if pool is None or len(jobs) <= pool.slice_cases:
            return await self._compute_here(jobs, ctx, barred, patience)
        helpers = await pool.available()
        if not helpers:
            return await self._compute_here(jobs, ctx, barred, patience)
        size = pool.slice_cases
        slices = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        done: list[list[CaseOutcome]] = [[] for _ in slices]
        order = iter(range(len(slices)))
        drained = asyncio.Event()
        helping = len(helpers)

        def take() -> int | None:
            number = next(order, None)
            if number is None:
                drained.set()
            return number

        async def remote(helper: Helper) -> None:
            nonlocal helping
            try:
                while (number := take()) is not None:
                    try:
                        done[number] = await pool.project(helper, slices[number], ctx, barred)
                    except HelperLostError:
                        done[number] = await self._compute_here(
                            slices[number], ctx, barred, _Patience(0.0)
                        )
                        return
            finally:
                helping -= 1

        async def here() -> None:
            while True:
                await asyncio.sleep(0)  # a helper that has finished a slice takes the next
                if give_way and helping:
                    # The loop's time goes to the calls; the helpers go on meanwhile.
                    await self._calls_paused(drained)
                if (number := take()) is None:
                    return
                # While helpers work, a slice taken is finished at once (a slice is about
                # ten milliseconds): held up, it would hold up the whole chunk.
                waits = patience if not helping else _Patience(0.0)
                done[number] = await self._compute_here(slices[number], ctx, barred, waits)

        # A failure anywhere stops the others before this returns: a helper is never left
        # answering a call nobody waits for.
        try:
            async with asyncio.TaskGroup() as group:
                for helper in helpers:
                    group.create_task(remote(helper))
                group.create_task(here())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # what projecting on the loop alone raises
        return [outcome for part in done for outcome in part]

    async def _compute_here(
        self,
        jobs: Sequence[CaseJob],
        ctx: ProjectionContext,
        barred: dict[str, tuple[str, int]],
        patience: _Patience,
    ) -> list[CaseOutcome]:
        """Project ``jobs`` on the loop, looking at it every few cases; while sync calls are
        answered it waits, as long as ``patience`` lasts."""
        outcomes: list[CaseOutcome] = []
        for number, job in enumerate(jobs, 1):
            if number % _CASES_PER_YIELD == 0:
                await asyncio.sleep(0)
                if patience.seconds > 0:
                    patience.seconds -= await self._give_way(patience.seconds)
            outcomes.append(
                project_case(
                    job.case_id,
                    job.state,
                    job.entries,
                    ctx,
                    quarantined=barred,
                    previous_view=job.previous_view,
                    retry=job.retry,
                )
            )
        return outcomes

    async def _pending_entries(self, views: dict[str, CaseView]) -> dict[str, list[LogEntry]]:
        """Log entries that an earlier projection had to keep aside, per case."""
        waiting = {case_id: view.pending for case_id, view in views.items() if view.pending}
        if not waiting:
            return {}
        logs = await self.store.case_log(list(waiting))
        found: dict[str, list[LogEntry]] = {}
        for case_id, records in waiting.items():
            keys = {(r.origin, r.seq) for r in records}
            found[case_id] = [e for e in logs.get(case_id, []) if (e.origin, e.seq) in keys]
        return found

    async def _add_feed(
        self,
        writes: WriteSet,
        outcomes: list[tuple[str, CaseOutcome, CaseView | None]],
        parties: dict[str, frozenset[str]],
        ctx: ProjectionContext,
        chunk: dict[str, list[LogEntry]],
        *,
        upto: int | None = None,
    ) -> None:
        if not self._registry().children(self.node_id):
            return
        # A case new to this receiver has no entries beyond this chunk's: only cases seen
        # before need their whole log read back when a child newly takes part in them.
        needs_whole = [
            case_id
            for case_id, outcome, previous in outcomes
            if previous is not None
            and _gains_child(ctx, parties.get(case_id, frozenset()), outcome.projection.parties)
        ]
        whole = await self.store.case_log(needs_whole) if needs_whole else {}
        if upto is not None:
            # Entries logged after this chunk (by a concurrent ingest) are fed when their own
            # chunk is projected, once they have passed its checks.
            whole = {case_id: [e for e in log if e.pos <= upto] for case_id, log in whole.items()}
        for case_id, _, previous in outcomes:
            if previous is None:
                whole[case_id] = chunk.get(case_id, [])
        for case_id, outcome, previous in outcomes:
            rejected = {(r.origin, r.seq) for r in outcome.rejections}
            if previous is not None:
                rejected.update((r.origin, r.seq) for r in previous.rejected)
            writes.feed.extend(
                feed_for_children(
                    ctx,
                    parties_before=parties.get(case_id, frozenset()),
                    parties_after=outcome.projection.parties,
                    new_valid=outcome.valid,
                    whole_case=whole.get(case_id, []),
                    rejected_keys=rejected,
                )
            )

    def _context(self) -> ProjectionContext:
        return ProjectionContext(
            node_id=self.node_id,
            registry=self._registry(),
            catalog_for=self._catalog_for,
            calendar=self._calendar(),
            now=self._clock(),
        )

    # -- writing locally -------------------------------------------------------------------

    def observe(self, remote: Hlc) -> None:
        """Advance the local clock past a stamp seen from elsewhere."""
        self._hlc = hlc_receive(self._hlc, remote, _ms(self._clock()))

    async def record(
        self, case_id: str, build: Callable[[Callable[[], Hlc]], Sequence[CaseEvent]]
    ) -> CaseRow:
        """Append locally made events to a case as one signed envelope.

        ``build`` receives a function that issues HLC stamps and returns the events; they must
        be this node's own events of ``case_id``. The envelope, the new CRDT state, the case
        row and the feed for children are written in one transaction.

        Raises:
            InvalidError: an event names another node or case, or breaks an event rule.
            PermissionDeniedError: this node may not take one of these actions for the item.
        """
        if self._key is None:
            raise PermissionDeniedError("本机没有签名密钥，不能记录办件。", code="no_key")
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                return await self._record_once(case_id, build)
            except ValueError:
                # Another process of this node took the same sequence number first (the unique
                # (origin, seq) index refused ours, nothing was written): build on its record.
                if attempt == RECORD_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def _record_once(
        self, case_id: str, build: Callable[[Callable[[], Hlc]], Sequence[CaseEvent]]
    ) -> CaseRow:
        assert self._key is not None
        async with self._lock, self._projection_turn():
            await self._project(give_way=False)
            head = (await self.store.heads([self.node_id])).get(self.node_id)
            # Another process of this node (the county's worker beside its web process) may
            # have written since: never stamp behind this node's own newest record.
            if head is not None and (self._hlc is None or self._hlc < head.hlc):
                self._hlc = head.hlc
            events = list(build(self._tick))
            _check_own(events, self.node_id, case_id)
            store = self.store
            state = (await store.case_states([case_id])).get(case_id)
            doc = CaseDoc.load(state)
            update = doc.append(events)
            body = EnvelopeBody(
                format=ENVELOPE_FORMAT,
                origin=self.node_id,
                seq=(head.seq if head else 0) + 1,
                prev=head.hash if head else GENESIS,
                case_id=case_id,
                hlc=max(e.hlc for e in events),
                client_id=doc.client_id,
                update=update,
            )
            envelope = seal(self._key, body)
            entry = LogEntry.of(envelope, body)
            rows = await store.case_rows([case_id])
            previous = decode_view(rows[case_id].state_json) if case_id in rows else None
            ctx = self._context()
            outcome = project_case(
                case_id, state, [entry], ctx, quarantined={}, previous_view=previous
            )
            if outcome.rejections:
                raise InvalidError(f"本地记录未通过结构校验：{outcome.rejections[0].detail}")
            new_ids = {e.id for e in events}
            view = decode_view(outcome.projection.row.state_json)
            refused = [u for u in view.unauthorized if u.event_id in new_ids]
            if refused:
                raise PermissionDeniedError(refused[0].reason, code="unauthorized_action")
            end = await store.log_end()
            writes = WriteSet(
                entries=[entry],
                heads={self.node_id: Head(self.node_id, body.seq, entry.hash, body.hlc)},
                client_claims={body.client_id: self.node_id},
                watermark=end + 1,
            )
            merge_case_outcome(writes, outcome)
            parties = await store.case_parties([case_id])
            await self._add_feed(
                writes, [(case_id, outcome, previous)], parties, ctx, {case_id: [entry]}
            )
            await store.commit(writes)
            return outcome.projection.row

    def _tick(self) -> Hlc:
        self._hlc = hlc_now(self._hlc, _ms(self._clock()))
        return self._hlc

    def now_hlc(self) -> Hlc:
        """A fresh stamp for answers to children (does not write anything)."""
        return self._tick()

    # -- relaying --------------------------------------------------------------------------

    async def outgoing(self, after_pos: int, limit: int) -> tuple[list[LogEntry], int]:
        """Entries after ``after_pos`` that originate in this node's subtree, to push upward.

        Returns the entries and the position to resume from: past every entry scanned, so
        entries pulled from the parent (which are not pushed back) are skipped only once.
        """
        subtree = self._registry().subtree(self.node_id)
        found: list[LogEntry] = []
        cursor = after_pos
        while len(found) < limit:
            page = await self.store.log_after(cursor, limit)
            if not page:
                break
            for entry in page:
                if entry.origin in subtree:
                    found.append(entry)
                    if len(found) == limit:
                        return found, entry.pos
                cursor = entry.pos
        return found, cursor


def _record_verdict(
    writes: WriteSet,
    verdict: Verdict,
    was_held: bool,
    held_keys: set[tuple[str, int]],
    now: datetime,
) -> None:
    entry = verdict.entry
    key = (entry.origin, entry.seq) if entry else None
    if verdict.outcome is Outcome.ACCEPTED and entry is not None:
        writes.entries.append(entry)
        writes.client_claims.setdefault(entry.client_id, entry.origin)
    elif verdict.outcome is Outcome.HELD and entry is not None:
        if not was_held and key not in held_keys:
            writes.held.append(entry)
        return
    elif verdict.outcome is Outcome.REJECTED:
        reason = verdict.reason or Reason.MALFORMED
        writes.rejections.append(
            Rejection(
                origin=entry.origin if entry else "",
                seq=entry.seq if entry else 0,
                hash=entry.hash if entry else hashlib.sha256(verdict.envelope.body).digest(),
                case_id=entry.case_id if entry else "",
                reason=reason,
                detail=verdict.detail,
                envelope=verdict.envelope,
                received_at=now,
            )
        )
        if entry is not None and reason.quarantines:
            writes.quarantines.setdefault(entry.origin, f"{reason.label}：{verdict.detail}")
    if key is not None and key in held_keys:
        writes.released.append(key)


def _order_and_heads(writes: WriteSet, chained: frozenset[str]) -> None:
    """Log an origin's entries in ``seq`` order and move the heads of chained origins.

    Batches may list an origin's envelopes in any order (a parent's feed goes case by case);
    the log must keep each origin's order so that relaying upward never creates a gap.
    """
    first: dict[str, int] = {}
    for position, entry in enumerate(writes.entries):
        first.setdefault(entry.origin, position)
    writes.entries.sort(key=lambda e: (first[e.origin], e.seq))
    last: dict[str, LogEntry] = {}
    for entry in writes.entries:
        if entry.origin in chained:
            last[entry.origin] = entry
    for origin, entry in last.items():
        writes.heads[origin] = Head(origin, entry.seq, entry.hash, entry.hlc)


def _result(verdict: Verdict) -> EnvelopeResult:
    body = verdict.body
    return EnvelopeResult(
        origin=body.origin if body else "",
        seq=body.seq if body else 0,
        outcome=verdict.outcome,
        reason=verdict.reason,
        detail=verdict.detail,
    )


def _gains_child(ctx: ProjectionContext, before: frozenset[str], after: frozenset[str]) -> bool:
    for child in ctx.registry.children(ctx.node_id):
        subtree = ctx.registry.subtree(child.node_id)
        if after & subtree and not before & subtree:
            return True
    return False


def _check_own(events: Sequence[CaseEvent], node_id: str, case_id: str) -> None:
    if not events:
        raise InvalidError("没有要记录的事件。")
    for event in events:
        if event.node_id != node_id or event.case_id != case_id:
            raise InvalidError("事件必须属于本节点和本办件。", code="foreign_event")
        event.validate()


async def _first_of(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait until any of ``waits`` finishes; the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def replication_report(replica: Replica) -> dict[str, int | bool]:
    """Log size and projection backlog, for health pages and supervisors."""
    end = await replica.store.log_end()
    watermark = await replica.store.watermark()
    return {
        "log_end": end,
        "projected_to": watermark,
        "backlog": end - watermark,
        "held": len(await replica.store.held()),
        "quarantined": len(await replica.store.quarantined()),
    }
