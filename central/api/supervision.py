"""The electronic supervision API (/api/v1/supervision/...) and its signal and rule pages.

Supervisors read; administrators may read too, and alone change the rules or start a
reconciliation. A township's supervisor sees only its subtree: lists are filtered in SQL
(``case_filter`` / the signal service's node set), single records are checked before they
are shown. The dashboard at /supervision is another module's.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from central.api.auth import require_user, requires_role
from central.api.desk import add_desk_link
from central.services.accounts import CountyRole, ensure_node_visible
from central.services.reconcile import Reconciler
from central.services.signals import SIGNAL_LABELS, Signal, SignalService
from central.services.supervision_rules import SPECS, RuleService
from central.services.supervision_views import (
    CaseDetail,
    CasePage,
    SignalDetail,
    SupervisionViews,
    case_filters,
)
from shared.errors import PlatformError, ValidationError
from web.i18n import add_messages
from web.pages import page

READERS = [requires_role(CountyRole.SUPERVISOR, CountyRole.ADMIN)]
ADMIN_ONLY = [requires_role(CountyRole.ADMIN)]
MAX_SIGNALS = 500

add_messages(
    {
        "desk.link.signals_page": {"zh": "电子监察：异常信号一览", "en": "Signals"},
        "desk.link.rules_page": {"zh": "电子监察：监察规则", "en": "Supervision rules"},
        "signals.title": {"zh": "异常信号", "en": "Tamper and health signals"},
        "signals.intro": {
            "zh": "县中心根据收到的记录自动发现的篡改与运行异常。每条信号都链接到其证据。",
            "en": "Tamper and health signals found in what the county received, each with "
            "its evidence.",
        },
        "signals.kind": {"zh": "类型", "en": "Kind"},
        "signals.all_kinds": {"zh": "全部类型", "en": "All kinds"},
        "signals.node": {"zh": "节点", "en": "Node"},
        "signals.open_only": {"zh": "只看未解除的", "en": "Open only"},
        "signals.with_resolved": {"zh": "包括已解除的", "en": "Resolved too"},
        "signals.filter": {"zh": "筛选", "en": "Filter"},
        "signals.severity": {"zh": "严重程度", "en": "Severity"},
        "signals.case": {"zh": "办件", "en": "Case"},
        "signals.evidence": {"zh": "证据", "en": "Evidence"},
        "signals.detail": {"zh": "说明", "en": "Detail"},
        "signals.first_seen": {"zh": "首次发现", "en": "First seen"},
        "signals.state": {"zh": "状态", "en": "State"},
        "signals.open": {"zh": "未解除", "en": "open"},
        "signals.resolved": {"zh": "已解除", "en": "resolved"},
        "signals.none": {"zh": "没有符合条件的信号。", "en": "No signals."},
        "signals.count": {"zh": "共 {n} 条", "en": "{n} signals"},
        "severity.high": {"zh": "高", "en": "high"},
        "severity.medium": {"zh": "中", "en": "medium"},
        "severity.low": {"zh": "低", "en": "low"},
        "rules.title": {"zh": "监察规则", "en": "Supervision rules"},
        "rules.intro": {
            "zh": "对账与信号使用的规则。留空表示恢复默认值。只有系统管理员可以修改。",
            "en": "Rules of reconciliation and signals. Leave empty for the default. "
            "Only administrators may change them.",
        },
        "rules.name": {"zh": "规则", "en": "Rule"},
        "rules.value": {"zh": "当前值", "en": "Value"},
        "rules.default": {"zh": "默认值", "en": "Default"},
        "rules.range": {"zh": "允许范围", "en": "Range"},
        "rules.per_item": {"zh": "按事项设置的预警窗口", "en": "Per-item warning windows"},
        "rules.item_code": {"zh": "事项编码", "en": "Item code"},
        "rules.item_add": {
            "zh": "为某事项单独设置预警窗口（工作日；留空删除该事项的设置）",
            "en": "Warning window for one item (working days; empty removes it)",
        },
        "rules.save": {"zh": "保存规则", "en": "Save rules"},
        "rules.saved": {"zh": "规则已保存。", "en": "Rules saved."},
        "rules.read_only": {
            "zh": "您可以查看规则；修改需要系统管理员角色。",
            "en": "You may read the rules; changing them needs the administrator role.",
        },
        "rules.problems": {"zh": "请修改以下问题：", "en": "Please fix the following:"},
        "rules.reconcile": {"zh": "立即对账", "en": "Reconcile now"},
    }
)

add_desk_link(
    "/supervision/signals",
    "desk.link.signals_page",
    (CountyRole.SUPERVISOR, CountyRole.ADMIN),
)
add_desk_link(
    "/supervision/rules", "desk.link.rules_page", (CountyRole.SUPERVISOR, CountyRole.ADMIN)
)


class SignalList(msgspec.Struct, frozen=True, kw_only=True):
    """Signals, newest first."""

    signals: list[Signal]


class RuleView(msgspec.Struct, frozen=True, kw_only=True):
    """One rule with its meaning, range, default and value."""

    name: str
    label: str
    default: int
    min: int
    max: int
    value: int
    per_item: dict[str, int]


class RuleList(msgspec.Struct, frozen=True, kw_only=True):
    """Every supervision rule."""

    rules: list[RuleView]


class RuleChanges(msgspec.Struct, frozen=True, kw_only=True):
    """Rules to change: a value, or null to go back to the default.

    ``items`` sets (or with null removes) one item's warning window.
    """

    rules: dict[str, Any] = {}
    items: dict[str, Any] = {}


class ReconcileResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a reconciliation run started from the API did."""

    run: int
    today: str
    open_cases: int
    actions: dict[str, int]
    open_signals: int


# Rule changes: checked as a whole before anything is written


async def apply_rule_changes(rules: RuleService, changes: RuleChanges, *, by: str) -> None:
    """Check every change, then write them; nothing is written when any is refused.

    Raises:
        ValidationError: every problem, in Chinese.
    """
    problems: list[str] = []
    current = await rules.rules()
    final = dict(current.values)
    sets: dict[str, int] = {}
    resets: list[str] = []
    for name, value in changes.rules.items():
        spec = SPECS.get(name)
        if spec is None:
            problems.append(f"没有名为 {name} 的监察规则。")
            continue
        if value is None:
            resets.append(name)
            final[name] = spec.default
            continue
        number = _whole(value)
        if number is None:
            problems.append(f"规则“{spec.label}”的值必须是整数。")
        elif not spec.low <= number <= spec.high:
            problems.append(f"规则“{spec.label}”的值应在 {spec.low} 至 {spec.high} 之间。")
        else:
            sets[name] = number
            final[name] = number
    item_sets: dict[str, int] = {}
    item_resets: list[str] = []
    warning = SPECS["warning_days"]
    for raw_code, value in changes.items.items():
        code = raw_code.strip()
        if not code or len(code) > 40:
            problems.append("事项编码不能为空，且不超过 40 个字符。")
            continue
        if value is None:
            item_resets.append(code)
            continue
        number = _whole(value)
        if number is None or not warning.low <= number <= warning.high:
            problems.append(
                f"事项 {code} 的预警窗口应为 {warning.low} 至 {warning.high} 之间的整数。"
            )
        else:
            item_sets[code] = number
    if final["red_card_after"] < final["yellow_card_after"]:
        problems.append("发红牌的超期天数不能少于发黄牌的超期天数。")
    if problems:
        raise ValidationError(problems)
    # The service checks yellow <= red against what is stored after each write (resets come
    # first); when both change, one of the two orders always passes if the final values do.
    order = sorted(sets)
    if "yellow_card_after" in sets and "red_card_after" in sets:
        red_first = sets["yellow_card_after"] > current["red_card_after"]
        order.sort(key=lambda n: n != ("red_card_after" if red_first else "yellow_card_after"))
    for name in resets:
        await rules.reset(name)
    for name in order:
        await rules.set(name, sets[name], by=by)
    for code in item_resets:
        await rules.reset("warning_days", item_code=code)
    for code, number in item_sets.items():
        await rules.set("warning_days", number, by=by, item_code=code)


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


async def _rule_list(rules: RuleService) -> RuleList:
    return RuleList(rules=[RuleView(**row) for row in await rules.describe()])


# JSON API


@get("/api/v1/supervision/cases", summary="电子监察：办件亮灯列表（分页）", guards=READERS)
async def list_cases(
    request: Request[Any, Any, Any],
    *,
    supervision_views: NamedDependency[SupervisionViews],
    light: FromQuery[str | None] = None,
    node: FromQuery[str | None] = None,
    item: FromQuery[str | None] = None,
    overdue: FromQuery[str | None] = None,
    all: FromQuery[str | None] = None,
    page: FromQuery[int | None] = None,
    per_page: FromQuery[int | None] = None,
) -> CasePage:
    """Cases of the caller's subtree with their lights; ``all=1`` includes finished cases."""
    user = require_user(request)
    filters = case_filters(
        light=light,
        node=node,
        item=item,
        overdue=overdue,
        include_finished=all,
        page=page,
        per_page=per_page,
    )
    if filters.node is not None:
        ensure_node_visible(user, filters.node)
    return await supervision_views.cases(user, filters)


@get(
    "/api/v1/supervision/cases/{case_id:str}",
    summary="电子监察：单个办件的监察状态",
    guards=READERS,
)
async def get_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    supervision_views: NamedDependency[SupervisionViews],
) -> CaseDetail:
    """One case with its parties, supervision actions and signals."""
    return await supervision_views.case(require_user(request), case_id)


@get("/api/v1/supervision/signals", summary="电子监察：异常信号列表", guards=READERS)
async def list_signals(
    request: Request[Any, Any, Any],
    *,
    supervision_signals: NamedDependency[SignalService],
    kind: FromQuery[str | None] = None,
    node: FromQuery[str | None] = None,
    open: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
) -> SignalList:
    """Signals of the caller's subtree, newest first; ``open=0`` includes resolved ones."""
    user = require_user(request)
    return SignalList(
        signals=await _signals(
            user, supervision_signals, kind=kind, node=node, open_flag=open, limit=limit
        )
    )


async def _signals(
    user: Any,
    service: SignalService,
    *,
    kind: str | None,
    node: str | None,
    open_flag: str | None,
    limit: int | None,
) -> list[Signal]:
    problems: list[str] = []
    kind = (kind or "").strip() or None
    node = (node or "").strip() or None
    if kind is not None and kind not in SIGNAL_LABELS:
        problems.append(f"没有这种监察信号：{kind}。可用类型：{'、'.join(SIGNAL_LABELS)}。")
    flag = (open_flag or "1").strip()
    if flag not in ("0", "1"):
        problems.append("参数 open 只能是 1（只看未解除）或 0（全部）。")
    size = 200 if limit is None else limit
    if not 1 <= size <= MAX_SIGNALS:
        problems.append(f"limit 应在 1 至 {MAX_SIGNALS} 之间。")
    if problems:
        raise ValidationError(problems)
    if node is not None:
        ensure_node_visible(user, node)
    return await service.signals(
        kind=kind, node=node, nodes=user.visible, include_resolved=flag == "0", limit=size
    )


@get(
    "/api/v1/supervision/signals/{signal_id:int}",
    summary="电子监察：单条信号及其证据",
    guards=READERS,
)
async def get_signal(
    request: Request[Any, Any, Any],
    signal_id: FromPath[int],
    supervision_views: NamedDependency[SupervisionViews],
) -> SignalDetail:
    """A signal with its evidence: the envelope, the rejection row, the case or the node."""
    return await supervision_views.signal(require_user(request), signal_id)


@get("/api/v1/supervision/rules", summary="电子监察：监察规则", guards=READERS)
async def get_rules(supervision_rules: NamedDependency[RuleService]) -> RuleList:
    """Every rule with its value in force, default and allowed range."""
    return await _rule_list(supervision_rules)


@put("/api/v1/supervision/rules", summary="修改监察规则（系统管理员）", guards=ADMIN_ONLY)
async def put_rules(
    request: Request[Any, Any, Any],
    data: JSONBody[RuleChanges],
    supervision_rules: NamedDependency[RuleService],
) -> RuleList:
    """Change rules (null: back to the default); all or nothing, problems answer 422."""
    await apply_rule_changes(supervision_rules, data, by=require_user(request).username)
    return await _rule_list(supervision_rules)


@post(
    "/api/v1/supervision/reconcile",
    summary="立即对账并刷新异常信号（系统管理员）",
    guards=ADMIN_ONLY,
    status_code=200,
)
async def reconcile_now(
    supervision_reconciler: NamedDependency[Reconciler],
    supervision_signals: NamedDependency[SignalService],
) -> ReconcileResult:
    """Run the periodic reconciliation now (running it twice the same day records nothing new)."""
    report = await supervision_reconciler.reconcile()
    open_signals = await supervision_signals.refresh()
    return ReconcileResult(
        run=report.run,
        today=report.today.isoformat(),
        open_cases=report.open_cases,
        actions=report.actions,
        open_signals=open_signals,
    )


# Pages


@get("/supervision/signals", include_in_schema=False, guards=READERS)
async def signals_page(
    request: Request[Any, Any, Any],
    *,
    supervision_signals: NamedDependency[SignalService],
    kind: FromQuery[str | None] = None,
    node: FromQuery[str | None] = None,
    open: FromQuery[str | None] = None,
) -> Template:
    """The signal list with links to each signal's evidence and case."""
    user = require_user(request)
    problems: list[str] = []
    try:
        found = await _signals(
            user, supervision_signals, kind=kind, node=node, open_flag=open, limit=MAX_SIGNALS
        )
    except ValidationError as exc:
        problems, found = exc.problems, []
    response = page(
        request,
        "supervision_signals.html",
        signals=found,
        kinds=SIGNAL_LABELS,
        form={"kind": kind or "", "node": node or "", "open": (open or "1") != "0"},
        problems=problems,
    )
    if problems:
        response.status_code = 422
    return response


async def _rules_page(
    request: Request[Any, Any, Any],
    rules: RuleService,
    *,
    form: dict[str, str] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> Template:
    user = require_user(request)
    described = await rules.describe()
    values = form or {row["name"]: str(row["value"]) for row in described}
    response = page(
        request,
        "supervision_rules.html",
        rules=described,
        form=values,
        problems=problems or [],
        editable=user.has_any([CountyRole.ADMIN]),
        saved=request.query_params.get("saved") is not None,
    )
    response.status_code = status
    return response


@get("/supervision/rules", include_in_schema=False, guards=READERS)
async def rules_page(
    request: Request[Any, Any, Any], supervision_rules: NamedDependency[RuleService]
) -> Template:
    """The rules; administrators get a form."""
    return await _rules_page(request, supervision_rules)


@post("/supervision/rules", include_in_schema=False, guards=ADMIN_ONLY, status_code=303)
async def rules_form(
    request: Request[Any, Any, Any], supervision_rules: NamedDependency[RuleService]
) -> Response[Any]:
    """Save the form; an empty field goes back to the default. Problems keep what was typed."""
    form = await request.form()
    typed = {name: str(form.get(name, "")).strip() for name in SPECS}
    typed["item_code"] = str(form.get("item_code", "")).strip()
    typed["item_days"] = str(form.get("item_days", "")).strip()
    current = await supervision_rules.rules()
    changes: dict[str, Any] = {}
    for name, spec in SPECS.items():
        text = typed[name]
        if text == "":
            if current[name] != spec.default:
                changes[name] = None
        elif text != str(current[name]):
            changes[name] = text
    items: dict[str, Any] = {}
    if typed["item_code"]:
        items[typed["item_code"]] = typed["item_days"] or None
    elif typed["item_days"]:
        changes.setdefault("__item__", None)
    try:
        if "__item__" in changes:
            raise ValidationError(["填写了预警窗口，但没有填写事项编码。"])
        await apply_rule_changes(
            supervision_rules,
            RuleChanges(rules=changes, items=items),
            by=require_user(request).username,
        )
    except PlatformError as exc:
        problems = exc.problems if isinstance(exc, ValidationError) else [exc.message]
        return await _rules_page(
            request, supervision_rules, form=typed, problems=problems, status=422
        )
    return Redirect("/supervision/rules?saved=1", status_code=303)


ROUTES: tuple[ControllerRouterHandler, ...] = (
    list_cases,
    get_case,
    list_signals,
    get_signal,
    get_rules,
    put_rules,
    reconcile_now,
    signals_page,
    rules_page,
    rules_form,
)
"""Every supervision API route and page of this module, for central.app."""
