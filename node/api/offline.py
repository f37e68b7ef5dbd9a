"""Working offline: the status banner of every clerk page, "sync now", and deadline reminders.

The banner is computed once per staff page by :func:`banner_context`, which the app registers
as the page-context hook of :mod:`web.pages`; it reads only what is at hand (the last sync and
parent probe of this process, two small counts in SQLite), so it never waits for the network.
``/internal/sync`` is how the worker asks this process to sync (see
:mod:`node.services.replication` for why the web process does every replica write).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from casework.display import mask_name
from node.api.auth import current_user, requires_role, safe_next
from node.identity import NodeIdentity
from node.services.accounts import ANY_STAFF, Role
from node.services.catalog import NodeCatalogService
from node.services.reminders import ReminderService, kind_label
from node.services.replication import (
    INTERNAL_HEADER,
    InternalLink,
    NodeReplication,
    report_message,
)
from node.storage.reminder_store import Reminder
from shared.calendar import CHINA_TZ
from shared.errors import PermissionDeniedError, PlatformError, UnavailableError
from sync.client import PUSH_CURSOR
from web.i18n import add_messages
from web.pages import page

HANDLERS_OF_CASES = (Role.CLERK, Role.REVIEWER, Role.APPROVER)
"""Who acknowledges a reminder: the people who work the cases (not the technical admin)."""

_TEXTS = {
    "banner.parent": ("上级", "Parent"),
    "banner.reachable": ("可连接", "reachable"),
    "banner.unreachable": ("无法连接", "unreachable"),
    "banner.unknown": ("尚未检测", "not checked yet"),
    "banner.last_success": ("上次同步成功", "Last successful sync"),
    "banner.never": ("尚未同步", "never"),
    "banner.waiting": ("待上报", "Waiting to go up"),
    "banner.records": ("条", "records"),
    "banner.reminders": ("提醒", "Reminders"),
    "banner.yellow": ("黄灯", "yellow"),
    "banner.red": ("红灯", "red"),
    "banner.sync_now": ("立即同步", "Sync now"),
    "banner.offline": (
        "上级暂时无法连接，本节点照常办理，联网后自动上报。",
        "The parent cannot be reached; keep working, records go up once it returns.",
    ),
    "reminders.title": ("到期提醒", "Deadline reminders"),
    "reminders.intro": (
        "本节点办件的预警、超期、容缺材料逾期和催办反馈提醒，断网时也会按工作日历自动更新。",
        "Warnings, overdue cases, overdue deferred materials and urges of this node's"
        " cases, kept up to date from the working calendar even offline.",
    ),
    "reminders.none": ("当前没有待处理的提醒。", "No open reminders."),
    "reminders.show_all": ("显示已处理的提醒", "Show handled reminders too"),
    "reminders.show_open": ("只看待处理", "Open reminders only"),
    "reminders.level": ("级别", "Level"),
    "reminders.kind": ("类型", "Kind"),
    "reminders.case": ("办件", "Case"),
    "reminders.message": ("内容", "Message"),
    "reminders.created": ("提醒时间", "Raised"),
    "reminders.state": ("处理", "Handled"),
    "reminders.ack": ("知悉", "Acknowledge"),
    "reminders.acked": ("已知悉", "Acknowledged"),
    "reminders.resolved": ("已解除", "Resolved"),
    "reminders.open_case": ("查看", "Open"),
}
add_messages({key: {"zh": zh, "en": en} for key, (zh, en) in _TEXTS.items()})


class SyncNowResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a "sync now" did, as a clerk reads it."""

    ok: bool
    message: str
    pushed: int
    pulled: int
    parent_reachable: bool
    last_success: datetime | None
    waiting: int


class ReminderOut(msgspec.Struct, frozen=True, kw_only=True):
    """One reminder; the applicant's name is masked."""

    id: int
    case_id: str
    kind: str
    kind_label: str
    level: str
    message: str
    due: date | None
    receipt_no: str | None
    item_code: str | None
    applicant_name: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


class SyncNowForm(msgspec.Struct, kw_only=True):
    """The banner's button: where to come back to."""

    next: str = ""


def banner_context(
    replication: NodeReplication,
    reminders: ReminderService,
    catalog: NodeCatalogService,
    identity: NodeIdentity,
    waiting: Callable[[frozenset[str], str], int],
) -> Callable[[Request[Any, Any, Any]], dict[str, Any]]:
    """The page-context hook that puts ``status_banner`` on every staff page."""

    def context(request: Request[Any, Any, Any]) -> dict[str, Any]:
        if current_user(request) is None:
            return {}
        sync = replication.status
        subtree = catalog.registry_now().subtree(identity.node_id) or frozenset({identity.node_id})
        counts = reminders.open_counts()
        just_synced = "synced" in request.query_params and sync.last_attempt is not None
        return {
            "status_banner": {
                "reachable": sync.parent_reachable,
                "last_success": _china_time(sync.last_success),
                "waiting": waiting(subtree, PUSH_CURSOR),
                "yellow": counts.get("yellow", 0),
                "red": counts.get("red", 0),
                "next": request.url.path,
                "result": _result_text(replication) if just_synced else None,
                "result_ok": sync.last_error is None,
            }
        }

    return context


@post("/sync-now", include_in_schema=False, guards=[requires_role(*ANY_STAFF)], status_code=303)
async def sync_now_page(
    data: Annotated[SyncNowForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    node_replication: NamedDependency[NodeReplication],
) -> Redirect:
    """The banner's "立即同步": sync, then back to the page, where the banner says how it went."""
    await _sync(node_replication)
    target = safe_next(data.next)
    joiner = "&" if "?" in target else "?"
    return Redirect(f"{target}{joiner}synced=1", status_code=303)


@post(
    "/api/v1/sync-now",
    summary="立即与上级同步",
    guards=[requires_role(*ANY_STAFF)],
    status_code=200,
)
async def sync_now_api(node_replication: NamedDependency[NodeReplication]) -> SyncNowResult:
    """Sync with the parent at once; an unreachable parent is a result (``ok`` false), not an
    error, because the node keeps working without it."""
    return await _sync(node_replication)


@post("/internal/sync", include_in_schema=False, exclude_from_csrf=True, status_code=200)
async def internal_sync(
    request: Request[Any, Any, Any],
    node_replication: NamedDependency[NodeReplication],
    internal_link: NamedDependency[InternalLink],
) -> SyncNowResult:
    """The worker's minute tick: sync in this process, which owns the replica.

    Raises:
        PermissionDeniedError: not from this machine, or without this run's token.
    """
    client = request.client.host if request.client else ""
    if not _loopback(client) or not internal_link.accepts(request.headers.get(INTERNAL_HEADER)):
        raise PermissionDeniedError("仅供本机后台任务调用。", code="internal_only")
    return await _sync(node_replication)


@get("/reminders", include_in_schema=False, guards=[requires_role(*ANY_STAFF)])
async def reminders_page(
    request: Request[Any, Any, Any],
    reminder_service: NamedDependency[ReminderService],
    show: FromQuery[str] = "",
) -> Template:
    """Open reminders, red first; ``?show=all`` adds the handled ones."""
    include_done = show == "all"
    user = current_user(request)
    return page(
        request,
        "reminders.html",
        reminders=[_out(r) for r in reminder_service.listing(include_done=include_done)],
        include_done=include_done,
        can_ack=user is not None and user.has_any(frozenset(HANDLERS_OF_CASES)),
        china_time=_china_time,
    )


@post(
    "/reminders/{reminder_id:int}/ack",
    include_in_schema=False,
    guards=[requires_role(*HANDLERS_OF_CASES)],
    status_code=303,
)
async def acknowledge_page(
    request: Request[Any, Any, Any],
    reminder_id: FromPath[int],
    reminder_service: NamedDependency[ReminderService],
) -> Redirect:
    """The 知悉 button of the reminders page."""
    user = current_user(request)
    assert user is not None  # the guard admitted the request
    reminder_service.acknowledge(reminder_id, user.username)
    return Redirect("/reminders", status_code=303)


@get("/api/v1/reminders", summary="到期提醒列表", guards=[requires_role(*ANY_STAFF)])
async def list_reminders(
    reminder_service: NamedDependency[ReminderService], show: FromQuery[str] = "open"
) -> list[ReminderOut]:
    """Open reminders (``show=all``: handled ones too), red before yellow, newest first."""
    return [_out(r) for r in reminder_service.listing(include_done=show == "all")]


@post(
    "/api/v1/reminders/{reminder_id:int}/ack",
    summary="知悉一条提醒",
    guards=[requires_role(*HANDLERS_OF_CASES)],
    status_code=200,
)
async def acknowledge_reminder(
    request: Request[Any, Any, Any],
    reminder_id: FromPath[int],
    reminder_service: NamedDependency[ReminderService],
) -> ReminderOut:
    """Mark a reminder as seen; a second acknowledgement keeps the first one's name and time."""
    user = current_user(request)
    assert user is not None  # the guard admitted the request
    return _out(reminder_service.acknowledge(reminder_id, user.username))


async def _sync(replication: NodeReplication) -> SyncNowResult:
    try:
        report = await replication.sync_now()
    except UnavailableError as exc:
        message = f"暂时无法连接上级（{exc.message}），记录已保存在本节点，联网后会自动上报。"
        return _result(replication, ok=False, message=message, reachable=False)
    except PlatformError as exc:
        return _result(replication, ok=False, message=f"同步失败：{exc.message}", reachable=True)
    return _result(
        replication,
        ok=True,
        message=report_message(report),
        reachable=True,
        pushed=report.pushed,
        pulled=report.pulled,
    )


def _result(
    replication: NodeReplication,
    *,
    ok: bool,
    message: str,
    reachable: bool,
    pushed: int = 0,
    pulled: int = 0,
) -> SyncNowResult:
    status = replication.status
    return SyncNowResult(
        ok=ok,
        message=message,
        pushed=pushed,
        pulled=pulled,
        parent_reachable=reachable,
        last_success=status.last_success,
        waiting=status.waiting,
    )


def _result_text(replication: NodeReplication) -> str:
    status = replication.status
    if status.last_error is not None:
        return f"同步未成功：{status.last_error}。记录已保存在本节点，联网后会自动上报。"
    if status.last_report is not None:
        return report_message(status.last_report)
    return ""


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        # Litestar's in-process test client names itself; no socket peer can.
        return host == "testclient"


def _out(reminder: Reminder) -> ReminderOut:
    return ReminderOut(
        id=reminder.id,
        case_id=reminder.case_id,
        kind=reminder.kind,
        kind_label=kind_label(reminder.kind),
        level=reminder.level,
        message=reminder.message,
        due=reminder.due,
        receipt_no=reminder.receipt_no,
        item_code=reminder.item_code,
        applicant_name=mask_name(reminder.applicant_name),
        created_at=reminder.created_at,
        acknowledged_at=reminder.acknowledged_at,
        acknowledged_by=reminder.acknowledged_by,
        resolved_at=reminder.resolved_at,
    )


def _china_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


OFFLINE_ROUTES = [
    sync_now_page,
    sync_now_api,
    internal_sync,
    reminders_page,
    acknowledge_page,
    list_reminders,
    acknowledge_reminder,
]
