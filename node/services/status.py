"""What a node reports about itself at ``/healthz``: identity, database, parent, catalog."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from node.identity import NodeIdentity
from node.services.catalog import NodeCatalogService
from node.services.replication import SyncStatus
from shared.version import VERSION
from sync.parent import ParentProbe, probe_parent

PARENT_PROBE_TTL = timedelta(seconds=15)

Prober = Callable[[str, datetime], Awaitable[ParentProbe]]


class NodeStatusService:
    """Collects the node's health report; the parent probe is cached briefly."""

    def __init__(
        self,
        identity: NodeIdentity,
        database_ok: Callable[[], bool],
        catalog: NodeCatalogService,
        *,
        clock: Callable[[], datetime],
        sync_status: Callable[[], SyncStatus],
        replication: Callable[[], Awaitable[dict[str, Any]]],
        prober: Prober = probe_parent,
    ) -> None:
        self._replication = replication
        self._sync_status = sync_status
        self._identity = identity
        self._database_ok = database_ok
        self._catalog = catalog
        self._clock = clock
        self._prober = prober
        self._probe: ParentProbe | None = None

    async def parent(self) -> ParentProbe:
        """The latest parent probe, refreshed when older than the TTL."""
        now = self._clock()
        probe = self._probe
        if probe is None or now - probe.checked_at > PARENT_PROBE_TTL:
            probe = self._probe = await self._prober(self._identity.parent_url, now)
        return probe

    async def report(self) -> dict[str, Any]:
        """Health as plain data. A down parent is normal for a node and is not an error."""
        database_ok = self._database_ok()
        held = self._catalog.current() if database_ok else None
        parent = await self.parent()
        return {
            "status": "ok" if database_ok else "degraded",
            "service": "node",
            "version": VERSION,
            "node_id": self._identity.node_id,
            "name": self._identity.name,
            "tier": self._identity.tier.value,
            "database": {"backend": "sqlite", "ok": database_ok},
            "parent": {
                "url": parent.url,
                "reachable": parent.reachable,
                "checked_at": parent.checked_at.isoformat(),
                "version": parent.version,
                "error": parent.error,
            },
            "catalog_version": held.version if held else None,
            "sync": _sync_report(self._sync_status()),
            "replication": await self._replication() if database_ok else None,
        }


def _sync_report(status: SyncStatus) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "last_attempt": iso(status.last_attempt),
        "last_success": iso(status.last_success),
        "last_error": status.last_error,
        "waiting": status.waiting,
    }
