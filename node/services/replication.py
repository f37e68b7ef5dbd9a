"""Replication at a node: its replica, the sync with its parent, and its children's calls.

A background loop syncs with the parent every ``interval`` seconds (and on demand). The node is
fully usable while the parent is unreachable: the loop only records the failure, and the status
shown to clerks says since when the parent has been out of reach and how much is waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from node.identity import NodeIdentity
from node.services.catalog import NodeCatalogService
from shared.errors import PlatformError
from shared.signing import SigningKey
from sync.client import PUSH_CURSOR, SyncClient, SyncReport
from sync.replica import Replica
from sync.server import serve_sync
from sync.store import SyncStore

logger = logging.getLogger(__name__)


@dataclass
class SyncStatus:
    """What the clerk pages show about the link to the parent."""

    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_report: SyncReport | None = None
    waiting: int = 0


class NodeReplication:
    """Owns the node's replica and its sync client."""

    def __init__(
        self,
        store: SyncStore,
        identity: NodeIdentity,
        key: SigningKey,
        releases: NodeCatalogService,
        clock: Callable[[], datetime],
        *,
        client_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.replica = Replica(
            store,
            node_id=identity.node_id,
            key=key,
            registry=releases.registry_now,
            catalog_for=releases.catalog_for,
            calendar=releases.calendar_now,
            clock=clock,
        )
        self._releases = releases
        self._identity = identity
        self._clock = clock
        self.client = SyncClient(
            self.replica,
            parent_url=identity.parent_url,
            key=key,
            clock=clock,
            release_version=releases.version,
            install_release=lambda raw: releases.install(raw, source=identity.parent_url),
            transport=client_transport,
        )
        self.status = SyncStatus()
        self._lock = asyncio.Lock()

    async def sync_now(self) -> SyncReport:
        """One full sync with the parent; failures are recorded and re-raised."""
        async with self._lock:
            self.status.last_attempt = self._clock()
            try:
                report = await self.client.sync_once()
            except PlatformError as exc:
                self.status.last_error = exc.message
                await self.refresh_waiting()
                raise
            self.status.last_success = self.status.last_attempt
            self.status.last_error = None
            self.status.last_report = report
            await self.refresh_waiting()
            return report

    async def refresh_waiting(self) -> int:
        """How many records of this subtree the parent has not acknowledged yet."""
        store = self.replica.store
        after = await store.cursor(PUSH_CURSOR)
        entries, _ = await self.replica.outgoing(after, 100_000)
        self.status.waiting = len(entries)
        return self.status.waiting

    async def run_forever(self, interval: float) -> None:
        """Sync every ``interval`` seconds until cancelled; a down parent is not an error."""
        while True:
            with contextlib.suppress(PlatformError):
                await self.sync_now()
            if self.status.last_error:
                logger.info("parent unreachable: %s", self.status.last_error)
            await asyncio.sleep(interval)

    async def serve_child(self, body: bytes, auth_header: str | None) -> bytes:
        """Answer a child's sync call (a township for its communities)."""
        return await serve_sync(
            self.replica,
            body,
            auth_header,
            now_ms=int(self._clock().timestamp() * 1000),
            release_newer_than=self._releases.newer_than,
        )
