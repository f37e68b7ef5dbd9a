"""Periodic county tasks; the bodies stay thin and call the operator commands."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from huey import crontab

from central.commands import opened
from central.services.performance import refresh_stored
from central.services.reconcile import supervise
from central.settings import CentralSettings
from sync.replica import ProjectionReport

logger = logging.getLogger(__name__)


async def _project(settings: CentralSettings) -> ProjectionReport:
    async with opened(settings) as county:
        return await county.replica.project()


def register(huey: Any, settings: CentralSettings) -> dict[str, Any]:
    """Define the county's periodic tasks on ``huey``.

    ``project_backlog`` runs every minute and projects any log entries not yet in the case
    tables, so a county that crashed during a background projection, or whose last push was not
    marked final, catches up without waiting for the next sync. ``reconcile_supervision`` runs
    every five minutes; ``refresh_performance`` rebuilds the stored performance figures every
    hour. Tasks take no arguments: the settings are bound here, in the worker process, and
    never travel through the queue.

    Args:
        huey: the ``huey.Huey`` built by :func:`central.worker.make_huey`.
        settings: the county's settings.

    Returns:
        The task wrappers by name (calling one enqueues it).
    """

    @huey.periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
    def project_backlog() -> None:
        report = asyncio.run(_project(settings))
        if report.entries or report.cases or report.rejected:
            logger.info(
                "补投影完成：处理 %d 条记录，更新 %d 个办件，拒收 %d 条。",
                report.entries,
                report.cases,
                report.rejected,
            )
        else:
            logger.debug("没有待投影的记录。")

    @huey.periodic_task(crontab(minute="*/5"))  # type: ignore[untyped-decorator]
    def reconcile_supervision() -> None:
        # Lights, warnings, cards, escalations and tamper/health signals, set-based.
        done = asyncio.run(supervise(settings, lambda: datetime.now(UTC)))
        logger.info(
            "电子监察对账完成：在办 %d 件，预警 %d，亮牌 %d，升级督办 %d（发出督办 %d），"
            "未处理信号 %d。",
            done.reconcile.open_cases,
            done.reconcile.warnings,
            done.reconcile.cards,
            done.reconcile.escalations,
            done.reconcile.escalation_urges,
            done.open_signals,
        )
        escalated = done.reconcile.escalated
        for case_id, reason in escalated.failed if escalated else ():
            logger.warning("办件 %s 的升级督办未能发出，下次对账重试：%s", case_id, reason)

    @huey.periodic_task(crontab(minute="30"))  # type: ignore[untyped-decorator]
    def refresh_performance() -> None:
        # The pages rebuild stale figures on demand too; this pass keeps them no older than an
        # hour, moves "today" for open cases' overdue days after midnight, dates the complaints
        # answered since (their closing day is the refresh that first sees them closed) and
        # reads who acted on changed cases before anyone opens a page.
        day = asyncio.run(refresh_stored(settings, lambda: datetime.now(UTC)))
        logger.info("绩效统计已重新计算（统计日 %s）。", day)

    return {
        "project_backlog": project_backlog,
        "reconcile_supervision": reconcile_supervision,
        "refresh_performance": refresh_performance,
    }
