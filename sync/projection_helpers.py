"""Helper processes that project cases beside the event loop.

Projecting a case (:func:`sync.projection.project_case`) is pure CPU work in Python, about a
fifth of a millisecond per case, and it holds the interpreter lock. A receiver that projects a
large backlog on its event loop therefore uses one core while the others wait: at the county,
the core that also answers the sync calls. Helpers are separate processes (one per spare core)
that project slices of a chunk's cases while the event loop keeps ingesting; the loop itself
takes slices too whenever no sync call is waiting.

A helper gets exactly the inputs the loop would use and returns exactly what the loop would
compute: the case's new CRDT state, its row and parties, the evidence it found and which of its
entries were valid. The results are merged and committed by the loop in log order, as before,
so a helper changes where the work runs, never what is written. The context (registry,
calendar, catalogs) travels once per helper and again only when it changes; a catalog version a
helper has not been sent yet is asked for and sent with the next try.

A helper process that dies loses nothing: its slice is projected on the loop instead and the
helper is left out from then on.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import signal
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection

import msgspec

from shared.calendar import WorkingCalendar
from shared.catalog import Catalog
from shared.registry import Registry
from sync.projection import CaseOutcome, CaseView, ProjectionContext, project_case
from sync.store import CaseProjection, CaseRow, LogEntry, Rejection

SLICE_CASES = 64
"""Cases per round trip to a helper: tens of milliseconds of work against well under one of
overhead, and small enough that the loop and the helpers finish a chunk at about the same time."""
MAX_AUTO_HELPERS = 3
HELPER_NICENESS = 10
WARM_UP_S = 10.0
"""How long a projection waits for a helper process that is still starting (normally well
under a second); a helper not ready by then is passed over for this chunk."""

logger = logging.getLogger(__name__)


def auto_helpers() -> int:
    """One helper per core beyond the first (the event loop's), at most ``MAX_AUTO_HELPERS``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min(MAX_AUTO_HELPERS, (cores or 1) - 1))


# -- what travels (msgpack: several times quicker than pickle for these) -------------------


class CaseJob(msgspec.Struct, array_like=True, gc=False):
    """One case to project: the arguments of :func:`~sync.projection.project_case`."""

    case_id: str
    state: bytes | None
    entries: list[LogEntry]
    previous_view: CaseView | None
    retry: list[LogEntry]


class SliceRequest(msgspec.Struct, array_like=True, gc=False):
    now: datetime
    quarantined: dict[str, tuple[str, int]]
    jobs: list[CaseJob]


class CaseResult(msgspec.Struct, array_like=True, gc=False):
    """A :class:`~sync.projection.CaseOutcome`, its valid entries named by (origin, seq)."""

    case_id: str
    state: bytes
    row: CaseRow
    parties: list[str]
    rejections: list[Rejection]
    quarantines: dict[str, tuple[str, int]]
    valid: list[tuple[str, int]]


class SliceAnswer(msgspec.Struct, array_like=True, gc=False):
    results: list[CaseResult] = []
    missing_catalog: int | None = None
    """A catalog version the helper was not sent: nothing was projected; send it and ask again."""
    failure: str | None = None
    """The traceback of an exception raised by the projection."""


@dataclass(frozen=True)
class HelperContext:
    """What a helper keeps between slices (pickled: it travels seldom)."""

    node_id: str
    registry: Registry
    calendar: WorkingCalendar
    catalogs: dict[int, Catalog | None]
    feed_children: bool


# -- the helper process side -------------------------------------------------------------


class _MissingCatalogError(Exception):
    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


_READY = b"ready"
_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(SliceRequest)
_answer_decoder = msgspec.msgpack.Decoder(SliceAnswer)
_helper_context: HelperContext | None = None
_judged: dict[tuple[object, ...], str | None] = {}


def serve_helper(connection: Connection) -> None:
    """A helper process's whole life: answer slices until the parent closes the pipe."""
    # Ctrl-C at a terminal reaches the whole process group: the server decides when its
    # helpers stop (it closes their pipes), so they do not print tracebacks of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Projection can wait; the web process's answers (a child's sync, a clerk's page) and the
    # database should not: when cores are short, the scheduler gives them most of its turn.
    os.nice(HELPER_NICENESS)
    connection.send_bytes(_READY)
    while True:
        try:
            context, request = connection.recv()
        except (EOFError, OSError):  # the parent closed the pipe, perhaps mid-request
            return
        try:
            answer = project_slice(context, request)
        except Exception:  # noqa: BLE001 - the parent raises it with this traceback
            answer = _encoder.encode(SliceAnswer(failure=traceback.format_exc()))
        connection.send_bytes(answer)


def project_slice(context: bytes | None, request: bytes) -> bytes:
    """Project one slice in a helper process (``context``: a new pickled HelperContext)."""
    global _helper_context
    if context is not None:
        # From the parent process over its own pipe, like everything a process pool passes.
        _helper_context = pickle.loads(context)  # noqa: S301
        _judged.clear()  # authority decisions depend on the registry and catalogs
    assert _helper_context is not None, "a helper is always sent its context first"
    helper = _helper_context
    slice_ = _request_decoder.decode(request)

    def catalog_for(version: int) -> Catalog | None:
        if version not in helper.catalogs:
            raise _MissingCatalogError(version)
        return helper.catalogs[version]

    ctx = ProjectionContext(
        node_id=helper.node_id,
        registry=helper.registry,
        catalog_for=catalog_for,
        calendar=helper.calendar,
        now=slice_.now,
        feed_children=helper.feed_children,
        judged=_judged,
    )
    results: list[CaseResult] = []
    try:
        for job in slice_.jobs:
            outcome = project_case(
                job.case_id,
                job.state,
                job.entries,
                ctx,
                quarantined=slice_.quarantined,
                previous_view=job.previous_view,
                retry=job.retry,
            )
            projection = outcome.projection
            results.append(
                CaseResult(
                    case_id=projection.case_id,
                    state=projection.state,
                    row=projection.row,
                    parties=sorted(projection.parties),
                    rejections=outcome.rejections,
                    quarantines=outcome.quarantines,
                    valid=[(e.origin, e.seq) for e in outcome.valid],
                )
            )
    except _MissingCatalogError as missing:
        return _encoder.encode(SliceAnswer(missing_catalog=missing.version))
    return _encoder.encode(SliceAnswer(results=results))


# -- the event loop side -----------------------------------------------------------------


class HelperLostError(Exception):
    """The helper process is gone; its slice must be projected elsewhere."""


class Helper:
    """One helper process and the loop's end of its pipe.

    The loop talks to it without threads: it writes a request (the helper is idle, reading)
    and waits for the pipe to become readable. An executor's feeder and result threads would
    each wait for the interpreter lock while the loop projects its own share, several
    milliseconds per slice.
    """

    def __init__(self) -> None:
        spawn = multiprocessing.get_context("spawn")  # never fork a process running threads
        self._connection, child = spawn.Pipe()
        self._process = spawn.Process(
            target=serve_helper, args=(child,), name="tongban-projection", daemon=True
        )
        self._process.start()
        child.close()
        self.sent: HelperContext | None = None
        self.lost = False
        self.ready = False
        self._busy = False

    async def warm(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) for the process to have started."""
        if self.ready or self.lost:
            return
        try:
            greeting = await asyncio.wait_for(self._receive(), timeout)
        except (TimeoutError, HelperLostError):
            return
        self.ready = greeting == _READY
        if not self.ready:
            self.close()

    async def call(self, context: bytes | None, request: bytes) -> bytes:
        """One slice, answered.

        Raises:
            HelperLostError: the process died, or the call was abandoned (the process is then
                stopped: its answer would be read as the next call's).
        """
        if self._busy:
            raise RuntimeError("a projection helper answers one call at a time")
        self._busy = True
        try:
            self._connection.send((context, request))
            return await self._receive()
        except (OSError, EOFError) as exc:
            logger.warning("a projection helper stopped answering", exc_info=True)
            self.close()
            raise HelperLostError from exc
        except BaseException:
            self.close()
            raise
        finally:
            self._busy = False

    async def _receive(self) -> bytes:
        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        fd = self._connection.fileno()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await readable
        finally:
            loop.remove_reader(fd)
            # uvloop leaves a watched descriptor non-blocking; the pipe is read and written
            # whole (an answer is larger than the pipe's buffer), so make it blocking again.
            os.set_blocking(fd, True)
        try:
            return self._connection.recv_bytes()
        except (OSError, EOFError) as exc:
            self.close()
            raise HelperLostError from exc

    def close(self) -> None:
        """Stop the process (closing the pipe ends its loop; a busy one is killed)."""
        if not self.lost:
            self.lost = True
            self._connection.close()
            if self._process.is_alive():
                self._process.kill()


@dataclass
class ProjectionHelpers:
    """A receiver's helper processes, started on first use; ``count`` 0 means none."""

    count: int
    slice_cases: int = SLICE_CASES
    _helpers: list[Helper] = field(default_factory=list)
    _started: bool = False
    _catalog_versions: set[int] = field(default_factory=set)
    """Catalog versions some helper asked for: sent to every helper with its context."""

    def start(self) -> None:
        """Start the helpers unless started (they take a moment to import the projection)."""
        if self._started:
            return
        self._started = True
        for _ in range(self.count):
            try:
                self._helpers.append(Helper())
            except OSError:
                logger.warning("could not start a projection helper", exc_info=True)

    async def available(self) -> list[Helper]:
        """The helpers that can take slices, waiting for those still starting."""
        self.start()
        await asyncio.gather(*(h.warm(WARM_UP_S) for h in self._helpers))
        lost = [h for h in self._helpers if h.lost]
        if lost:
            logger.warning("%d projection helper(s) stopped; the loop does their share", len(lost))
            self._helpers = [h for h in self._helpers if not h.lost]
        return [h for h in self._helpers if h.ready]

    async def project(
        self,
        helper: Helper,
        jobs: Sequence[CaseJob],
        ctx: ProjectionContext,
        quarantined: dict[str, tuple[str, int]],
    ) -> list[CaseOutcome]:
        """Project ``jobs`` in ``helper``: the outcomes ``project_case`` gives on the loop.

        Raises:
            HelperLostError: the helper process died (it is not used again).
            RuntimeError: projection failed in the helper (a bug: the loop would fail alike).
        """
        request = _encoder.encode(
            SliceRequest(now=ctx.now, quarantined=quarantined, jobs=list(jobs))
        )
        while True:
            answer = _answer_decoder.decode(
                await helper.call(self._context_for(helper, ctx), request)
            )
            if answer.failure is not None:
                raise RuntimeError(f"projection failed in a helper process:\n{answer.failure}")
            if answer.missing_catalog is None:
                return [_outcome(r, job) for r, job in zip(answer.results, jobs, strict=True)]
            if helper.sent is not None and answer.missing_catalog in helper.sent.catalogs:
                raise AssertionError(f"catalog {answer.missing_catalog} was sent and is missing")
            self._catalog_versions.add(answer.missing_catalog)

    def _context_for(self, helper: Helper, ctx: ProjectionContext) -> bytes | None:
        """The pickled context if the helper's is not this one, else None."""
        sent = helper.sent
        if (
            sent is not None
            and sent.registry is ctx.registry
            and sent.calendar is ctx.calendar
            and sent.node_id == ctx.node_id
            and sent.feed_children == ctx.feed_children
            and self._catalog_versions <= sent.catalogs.keys()
        ):
            return None
        helper.sent = HelperContext(
            node_id=ctx.node_id,
            registry=ctx.registry,
            calendar=ctx.calendar,
            catalogs={v: ctx.catalog_for(v) for v in sorted(self._catalog_versions)},
            feed_children=ctx.feed_children,
        )
        return pickle.dumps(helper.sent, protocol=pickle.HIGHEST_PROTOCOL)

    def close(self) -> None:
        """Stop the helpers; a slice under way is abandoned (projection resumes from the
        watermark)."""
        for helper in self._helpers:
            helper.close()
        self._helpers.clear()
        self._started = False


def _outcome(result: CaseResult, job: CaseJob) -> CaseOutcome:
    by_key = {(e.origin, e.seq): e for e in (*job.retry, *job.entries)}
    return CaseOutcome(
        projection=CaseProjection(
            case_id=result.case_id,
            state=result.state,
            row=result.row,
            parties=frozenset(result.parties),
        ),
        rejections=result.rejections,
        quarantines=result.quarantines,
        valid=[by_key[key] for key in result.valid],
    )
