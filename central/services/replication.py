"""The county's replica: the root of the tree, where every envelope ends up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from central.services.releases import ReleaseService
from shared.registry import COUNTY_NODE_ID, NodeRecord
from shared.signing import SigningKey
from sync.messages import SyncRequest, SyncResponse
from sync.projection_helpers import ProjectionHelpers
from sync.replica import Replica
from sync.server import serve_sync
from sync.store import SyncStore


def county_replica(
    store: SyncStore,
    releases: ReleaseService,
    key: Callable[[], SigningKey],
    clock: Callable[[], datetime],
    helpers: ProjectionHelpers | None = None,
) -> Replica:
    """A replica whose registry, catalogs and calendar come from the releases in force."""
    return Replica(
        store,
        node_id=COUNTY_NODE_ID,
        key=key(),
        registry=releases.registry_now,
        catalog_for=releases.catalog_for,
        calendar=releases.calendar_now,
        clock=clock,
        helpers=helpers,
    )


class SyncService:
    """Answers the townships' sync calls."""

    def __init__(
        self,
        replica: Replica,
        releases: ReleaseService,
        clock: Callable[[], datetime],
        on_served: Callable[[NodeRecord, SyncRequest, SyncResponse], Awaitable[None]] | None = None,
    ):
        self._replica = replica
        self._releases = releases
        self._clock = clock
        # Records each caller's contact, version and backlog (central.services.node_contact).
        self._on_served = on_served

    async def serve(self, body: bytes, auth_header: str | None) -> bytes:
        """One sync round trip (see :func:`sync.server.serve_sync`)."""
        async with self._replica.answering():
            await self._releases.current()
            return await serve_sync(
                self._replica,
                body,
                auth_header,
                now_ms=int(self._clock().timestamp() * 1000),
                release_newer_than=self._releases.newer_than,
                on_served=self._on_served,
            )
