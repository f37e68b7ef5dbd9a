"""What the county centre reports about itself at ``/healthz``."""

from __future__ import annotations

from typing import Any

from central.db.engine import database_state
from central.services.releases import ReleaseService
from central.settings import CentralSettings
from shared.errors import PlatformError
from shared.version import VERSION
from sync.replica import Replica, replication_report


class CentralStatusService:
    """Collects the health report."""

    def __init__(
        self,
        settings: CentralSettings,
        engine: Any,
        releases: ReleaseService,
        replica: Replica,
    ) -> None:
        self._replica = replica
        self._settings = settings
        self._engine = engine
        self._releases = releases

    async def report(self) -> dict[str, Any]:
        """Health as plain data; never raises for a broken dependency, reports it."""
        database = await database_state(self._engine)
        catalog_version: int | None = None
        if database.ok:
            try:
                current = await self._releases.current()
            except PlatformError:
                current = None
            catalog_version = current.version if current else None
        return {
            "status": "ok" if database.ok else "degraded",
            "service": "central",
            "tier": "county",
            "version": VERSION,
            "site": self._settings.site_name,
            "database": {"backend": database.backend, "ok": database.ok, "detail": database.detail},
            "catalog_version": catalog_version,
            "replication": await replication_report(self._replica) if database.ok else None,
        }
