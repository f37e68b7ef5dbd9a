"""The child half of the sync protocol: push the subtree's envelopes, pull the feed.

:meth:`SyncClient.sync_once` runs rounds until the parent has everything the child's subtree
wrote and the child has its whole feed. Both cursors are committed with what they cover, in the
same transaction as the pulled envelopes, so an interruption at any point (lost request, lost
response, killed process) is repaired by simply calling it again.

While one round's request is with the parent, the next batch is read and encoded, so that the
parent does not wait for the child between rounds. The prepared request is sent only if the
answer leaves it valid (same pull cursor, no new release); otherwise it is built again. Nothing
is committed before its answer arrives, so preparing ahead changes nothing an interruption sees.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from shared.errors import UnavailableError
from shared.signing import SigningKey
from shared.version import VERSION
from sync.auth import HEADER, sign_request
from sync.messages import (
    MEDIA_TYPE,
    PROTOCOL_VERSION,
    EnvelopeResult,
    SyncRequest,
    SyncResponse,
    decode_response,
    encode,
)
from sync.problems import error_from_problem
from sync.reasons import Outcome
from sync.replica import Replica
from sync.store import LogEntry

PUSH_CURSOR = "push"
PULL_CURSOR = "pull"
DEFAULT_BATCH = 2_000
"""Envelopes per push, the most a parent takes (``MAX_BATCH_ENVELOPES``): every round costs a
round trip, a signature and a durable commit at the parent, so a long backlog goes in as few
rounds as the parent allows."""
TIMEOUT_SECONDS = 60.0


@dataclass
class SyncReport:
    """What one :meth:`SyncClient.sync_once` did."""

    rounds: int = 0
    pushed: int = 0
    accepted: int = 0
    duplicates: int = 0
    held: int = 0
    rejected: list[EnvelopeResult] = field(default_factory=list)
    pulled: int = 0
    release_installed: int | None = None
    quarantined: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Batch:
    """The next envelopes to push and the encoded request carrying them."""

    entries: list[LogEntry]
    push_next: int
    """The push cursor once the parent has acknowledged these entries."""
    final: bool
    pull_after: int
    release_version: int | None
    body: bytes


class SyncClient:
    """Talks to one parent on behalf of one replica."""

    def __init__(
        self,
        replica: Replica,
        *,
        parent_url: str,
        key: SigningKey,
        clock: Callable[[], datetime],
        release_version: Callable[[], int | None],
        install_release: Callable[[bytes], int | None],
        transport: httpx.AsyncBaseTransport | None = None,
        batch_size: int = DEFAULT_BATCH,
        pull_limit: int = DEFAULT_BATCH,
    ) -> None:
        self._replica = replica
        self._url = parent_url.rstrip("/") + "/api/v1/sync"
        self._key = key
        self._clock = clock
        self._release_version = release_version
        self._install_release = install_release
        self._transport = transport
        self._batch_size = batch_size
        self._pull_limit = pull_limit

    async def sync_once(self) -> SyncReport:
        """Push and pull until both directions are drained.

        Raises:
            UnavailableError: the parent cannot be reached; nothing was lost, call again later.
            AuthenticationError / PermissionDeniedError: the parent refuses this node.
            InvalidError: the parent speaks another protocol version or answered garbage.
        """
        report = SyncReport()
        store = self._replica.store
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, transport=self._transport) as http:
            pull_after = await store.cursor(PULL_CURSOR)
            batch = await self._prepare(await store.cursor(PUSH_CURSOR), pull_after)
            while True:
                sending = asyncio.ensure_future(self._post(http, batch.body))
                try:
                    # Let the request go out before the next batch takes the event loop.
                    await asyncio.sleep(0)
                    upcoming = None
                    if not batch.final:
                        upcoming = await self._prepare(batch.push_next, pull_after)
                    response = await sending
                finally:
                    if not sending.done():
                        sending.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await sending
                report.rounds += 1
                if response.release is not None:
                    report.release_installed = self._install_release(response.release)
                self._replica.observe(response.server_hlc)
                await self._replica.receive(
                    response.envelopes,
                    cursors={PUSH_CURSOR: batch.push_next, PULL_CURSOR: response.pull_next},
                    project=not response.more,
                )
                _tally(report, entries_count=len(batch.entries), response=response)
                if batch.final and not response.more:
                    return report
                pull_after = response.pull_next
                if upcoming is None or (upcoming.pull_after, upcoming.release_version) != (
                    pull_after,
                    self._release_version(),
                ):
                    upcoming = await self._prepare(batch.push_next, pull_after)
                batch = upcoming

    async def _prepare(self, push_after: int, pull_after: int) -> _Batch:
        """Read the batch after ``push_after`` and encode its request."""
        entries, push_next = await self._replica.outgoing(push_after, self._batch_size)
        final = len(entries) < self._batch_size
        # Entries after the batch not yet scanned; pulled ones count too, so an upper bound.
        waiting = max(0, await self._replica.store.log_end() - push_next)
        release_version = self._release_version()
        request = SyncRequest(
            protocol=PROTOCOL_VERSION,
            node_id=self._replica.node_id,
            envelopes=tuple(e.envelope for e in entries),
            pull_after=pull_after,
            pull_limit=self._pull_limit,
            release_version=release_version,
            final=final,
            software=VERSION,
            waiting=waiting,
        )
        return _Batch(entries, push_next, final, pull_after, release_version, encode(request))

    async def _post(self, http: httpx.AsyncClient, body: bytes) -> SyncResponse:
        now_ms = int(self._clock().timestamp() * 1000)
        headers = {
            "Content-Type": MEDIA_TYPE,
            "Accept": MEDIA_TYPE,
            HEADER: sign_request(self._key, self._replica.node_id, body, now_ms),
        }
        try:
            response = await http.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise UnavailableError(f"无法连接上级：{type(exc).__name__}") from exc
        if response.status_code == 200:
            return decode_response(response.content)
        raise error_from_problem(response, "同步")


def _tally(report: SyncReport, *, entries_count: int, response: SyncResponse) -> None:
    report.pushed += entries_count
    report.pulled += len(response.envelopes)
    report.quarantined.update(response.quarantined)
    for result in response.results:
        if result.outcome is Outcome.ACCEPTED:
            report.accepted += 1
        elif result.outcome is Outcome.DUPLICATE:
            report.duplicates += 1
        elif result.outcome is Outcome.HELD:
            report.held += 1
        else:
            report.rejected.append(result)
