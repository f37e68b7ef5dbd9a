"""Replication at a node: its replica, the sync with its parent, and its children's calls.

A background loop syncs with the parent every ``interval`` seconds (and on demand). The node is
fully usable while the parent is unreachable: the loop only records the failure, and the status
shown to clerks says since when the parent has been out of reach and how much is waiting.

Two processes run on a node's data folder: the web process and the Huey worker. Only one of them
may write through the replica at a time (a replica's read-modify-write of a case is atomic only
within one process), so the web process holds the folder's :class:`WriterLock` for as long as it
runs. The worker is the one that decides when to sync: every minute it asks the web process to
sync over a loopback-only endpoint authenticated by a random token that the web process writes,
0600, into ``internal.json`` in the data folder (:class:`InternalLink`); only when no web process
holds the lock does the worker take it and sync by itself. The web process's own loop stands
back while a worker is alive (the worker holds ``worker.lock``) and runs only as a fallback.
This keeps every replica write in one process, with no change to the replica or its store, and
the sync status shown to clerks stays in the process that shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from node.identity import NodeIdentity
from node.services.catalog import NodeCatalogService
from shared.errors import NotFoundError, PlatformError, UnavailableError
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
    parent_reachable: bool | None = None
    """Whether the parent answered the last attempt (None before the first)."""


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
                self.status.parent_reachable = not isinstance(exc, UnavailableError)
                await self.refresh_waiting()
                raise
            self.status.parent_reachable = True
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

    async def run_forever(
        self, interval: float, *, stand_back: Callable[[], bool] = lambda: False
    ) -> None:
        """Sync every ``interval`` seconds until cancelled; a down parent is not an error.

        The first round always runs (so the status is known at start); later rounds are skipped
        while ``stand_back()`` is true, i.e. while a worker does the scheduling.
        """
        first = True
        while True:
            if first or not stand_back():
                with contextlib.suppress(PlatformError):
                    await self.sync_now()
                if self.status.last_error:
                    logger.info("parent unreachable: %s", self.status.last_error)
            first = False
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


WRITER_LOCK = "writer.lock"
"""Held by the process that writes through the replica (the web process while it runs)."""
WORKER_LOCK = "worker.lock"
"""Held by a running worker, so the web process knows it need not sync on its own."""
WORKER_SYNC_SECONDS = 60.0
"""How often the worker asks for a sync (its periodic task runs every minute)."""
INTERNAL_LINK = "internal.json"
INTERNAL_HEADER = "X-Tongban-Internal"


def report_message(report: SyncReport) -> str:
    """One sentence, in Chinese, on what a sync did."""
    text = f"同步完成：上报 {report.pushed} 条，下载 {report.pulled} 条"
    if report.release_installed is not None:
        text += f"，已安装新发布（版本 {report.release_installed}）"
    if report.rejected:
        text += f"；上级拒收 {len(report.rejected)} 条，请联系县中心"
    return text + "。"


class InternalLink:
    """How the worker reaches the web process of the same data folder.

    The web process writes its loopback address and a fresh random token at start; only a
    process that can read the 0600 file (the node's own user) can ask it to sync.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / INTERNAL_LINK
        self._token: str | None = None

    def publish(self, host: str, port: int) -> None:
        """Write ``internal.json`` for this run of the web process."""
        self._token = secrets.token_urlsafe(32)
        loopback = "127.0.0.1" if host in {"0.0.0.0", "", "localhost"} else host  # noqa: S104
        if ":" in loopback:
            loopback = f"[{loopback}]"
        body = json.dumps({"url": f"http://{loopback}:{port}", "token": self._token})
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
        temporary.replace(self.path)

    def accepts(self, token: str | None) -> bool:
        """Whether ``token`` is the one published by this process."""
        return (
            self._token is not None
            and token is not None
            and secrets.compare_digest(token.encode(), self._token.encode())
        )

    def read(self) -> tuple[str, str]:
        """The web process's address and token, for the worker.

        Raises:
            NotFoundError: no web process has published its address in this folder.
        """
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return str(data["url"]), str(data["token"])
        except (OSError, ValueError, KeyError) as exc:
            raise NotFoundError(
                "节点网站尚未启动，找不到它的内部地址。", code="web_not_running"
            ) from exc
