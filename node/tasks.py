"""Periodic node tasks; the bodies stay thin and call the operator commands."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from huey import crontab

from node.commands import sync_once
from node.settings import NodeSettings
from shared.errors import PlatformError, UnavailableError

logger = logging.getLogger(__name__)


def register(huey: Any, settings: NodeSettings) -> dict[str, Any]:
    """Define the node's periodic tasks on ``huey``.

    ``sync_with_parent`` runs every minute. A parent that cannot be reached is the normal state
    of a township on a poor line, so it is logged at INFO and the next minute tries again; other
    refusals (an uninitialised folder, a quarantined node) are logged as warnings. Neither is
    raised, so the queue never fills with failures. ``sync_interval = 0`` turns it off, as it
    does the web process's background sync.

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

    return {"sync_with_parent": sync_with_parent}
