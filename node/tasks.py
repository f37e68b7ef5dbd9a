"""Periodic node tasks; the bodies stay thin and call the operator commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from huey import crontab

from node.commands import sync_once
from node.identity import read_identity
from node.services.catalog import NodeCatalogService
from node.services.reminders import DeadlineReconciler, ReconcileReport
from node.services.replication import INTERNAL_HEADER, WRITER_LOCK, InternalLink
from node.settings import NodeSettings
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from node.storage.reminder_store import ReminderStore
from node.storage.sync_store import NodeSyncStore, WriterLock
from shared.errors import PlatformError, UnavailableError

logger = logging.getLogger(__name__)

INTERNAL_TIMEOUT_SECONDS = 600.0
"""A sync of a long backlog through the web process may take minutes; it is still one request."""


def register(huey: Any, settings: NodeSettings) -> dict[str, Any]:
    """Define the node's periodic tasks on ``huey``.

    ``sync_with_parent`` runs every minute. The web process owns the replica while it runs, so
    the task asks it to sync (``/internal/sync``); only when no web process holds the folder's
    writer lock does the task take the lock and sync by itself (see
    :mod:`node.services.replication`). A parent that cannot be reached is the normal state
    of a township on a poor line, so it is logged at INFO and the next minute tries again; other
    refusals (an uninitialised folder, a quarantined node) are logged as warnings. Neither is
    raised, so the queue never fills with failures. ``sync_interval = 0`` turns it off, as it
    does the web process's background sync.

    ``reconcile_deadlines`` runs every five minutes (off the minute the sync starts on) and folds
    this node's open cases against today, recording yellow and red reminders; it needs no
    network (see :mod:`node.services.reminders`).

    Args:
        huey: the ``huey.Huey`` built by :func:`node.worker.make_huey`.
        settings: the node's settings.

    Returns:
        The task wrappers by name (calling one enqueues it).
    """

    @huey.periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
    def sync_with_parent() -> None:
        if settings.sync_interval <= 0:
            logger.debug("已关闭与上级的后台同步（sync_interval = 0）。")
            return
        writer = WriterLock(settings.data_dir / WRITER_LOCK)
        if not writer.try_acquire():
            _ask_web_to_sync(settings)
            return
        try:
            _sync_alone(settings)
        finally:
            writer.release()

    @huey.periodic_task(crontab(minute="2-59/5"))  # type: ignore[untyped-decorator]
    def reconcile_deadlines() -> None:
        try:
            report = asyncio.run(reconcile(settings))
        except PlatformError as exc:
            logger.warning("到期提醒核对失败：%s", exc.message)
            return
        if report.created or report.resolved:
            logger.info(
                "到期提醒核对：重算 %d 件，新提醒 %d 条，解除 %d 条。",
                report.folded,
                report.created,
                report.resolved,
            )

    return {"sync_with_parent": sync_with_parent, "reconcile_deadlines": reconcile_deadlines}


async def reconcile(
    settings: NodeSettings, *, clock: Callable[[], datetime] | None = None
) -> ReconcileReport:
    """One reconciliation of this node's deadlines, on its own connection to the database."""
    now = clock or (lambda: datetime.now(UTC))
    identity = read_identity(settings.config_path)
    database = NodeDatabase(settings.database_path)
    try:
        releases = NodeCatalogService(NodeCatalogStore(database), identity, now)
        reconciler = DeadlineReconciler(
            ReminderStore(database), NodeSyncStore(database), identity, releases, now
        )
        return await reconciler.run()
    finally:
        database.close()


def _sync_alone(settings: NodeSettings) -> None:
    try:
        report = asyncio.run(sync_once(settings))
    except UnavailableError as exc:
        logger.info("暂时无法与上级同步，下一分钟重试：%s", exc.message)
        return
    except PlatformError as exc:
        logger.warning("与上级同步失败：%s", exc.message)
        return
    if report.pushed or report.pulled or report.release_installed is not None:
        logger.info(
            "同步完成：上报 %d 条（接收 %d），下载 %d 条。",
            report.pushed,
            report.accepted,
            report.pulled,
        )


def _ask_web_to_sync(settings: NodeSettings) -> None:
    try:
        url, token = InternalLink(settings.data_dir).read()
        response = httpx.post(
            f"{url}/internal/sync",
            headers={INTERNAL_HEADER: token},
            timeout=INTERNAL_TIMEOUT_SECONDS,
        )
    except PlatformError as exc:
        logger.warning("无法请节点网站同步：%s", exc.message)
        return
    except httpx.HTTPError as exc:
        logger.warning("无法请节点网站同步（%s），下一分钟重试。", type(exc).__name__)
        return
    if response.status_code != 200:
        logger.warning("节点网站拒绝了同步请求（HTTP %d）。", response.status_code)
        return
    result = response.json()
    if result.get("ok"):
        if result.get("pushed") or result.get("pulled"):
            logger.info("%s", result.get("message"))
    elif result.get("parent_reachable") is False:
        logger.info("暂时无法与上级同步，下一分钟重试：%s", result.get("message"))
    else:
        logger.warning("%s", result.get("message"))
