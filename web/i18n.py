"""Interface language: Chinese first, English available.

The language comes from ``?lang=`` (remembered in a cookie) or the cookie; without either the
page is Chinese, whatever the browser says, because hall PCs are often set up in English.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANG_COOKIE = "tongban_lang"

_MESSAGES: dict[str, dict[str, str]] = {
    "app.name": {"zh": "通办", "en": "Tongban"},
    "tier.county": {"zh": "县级", "en": "County"},
    "tier.township": {"zh": "乡镇（街道）级", "en": "Township"},
    "tier.community": {"zh": "村（社区）级", "en": "Community"},
    "guide.title": {"zh": "办事指南", "en": "Service guide"},
    "guide.intro": {
        "zh": "以下事项可在本服务点办理或代为受理。"
        "点击事项查看受理条件、所需材料、办理时限和收费。",
        "en": "Items you can apply for here, or that this point receives on behalf of the "
        "deciding office. Open an item for its conditions, materials, time limits and fees.",
    },
    "guide.empty": {
        "zh": "尚未收到事项目录。请联系上级中心同步目录。",
        "en": "No catalog has been received yet. Ask the parent centre to sync the catalog.",
    },
    "guide.search": {"zh": "搜索事项", "en": "Search items"},
    "guide.catalog_version": {"zh": "目录版本", "en": "Catalog version"},
    "item.type": {"zh": "事项类型", "en": "Item type"},
    "item.project_type": {"zh": "办件类型", "en": "Case type"},
    "item.promised": {"zh": "承诺时限", "en": "Promised limit"},
    "item.statutory": {"zh": "法定时限", "en": "Statutory limit"},
    "item.none": {"zh": "无", "en": "none"},
    "item.on_the_spot": {"zh": "当场办结", "en": "on the spot"},
    "item.handled_here": {"zh": "本点办理", "en": "decided here"},
    "item.forwarded": {"zh": "本点受理，转上级办理", "en": "received here, decided above"},
    "item.materials": {"zh": "申请材料", "en": "Materials"},
    "item.conditions": {"zh": "受理条件", "en": "Conditions"},
    "item.legal_basis": {"zh": "设定依据", "en": "Legal basis"},
    "item.fee": {"zh": "收费", "en": "Fees"},
    "item.free": {"zh": "不收费", "en": "free of charge"},
    "item.place": {"zh": "办理地点", "en": "Where"},
    "item.deferrable": {"zh": "可容缺", "en": "may follow later"},
    "item.required": {"zh": "必需", "en": "required"},
    "item.optional": {"zh": "非必需", "en": "optional"},
    # The guide page of one item (web/templates/item.html): every element a resident needs.
    "item.about": {"zh": "事项信息", "en": "About this item"},
    "item.how": {"zh": "办理须知", "en": "How to apply"},
    "item.basic_code": {"zh": "基本编码", "en": "Basic code"},
    "item.implementation_code": {"zh": "实施编码", "en": "Implementation code"},
    "item.service_objects": {"zh": "服务对象", "en": "Who may apply"},
    "item.department": {"zh": "实施部门", "en": "Implementing body"},
    "item.parallel_departments": {"zh": "联办部门", "en": "Joint departments"},
    "item.handling_tier": {"zh": "办理层级", "en": "Decided at"},
    "item.result_name": {"zh": "审批结果名称", "en": "Result issued"},
    "item.commitment": {"zh": "告知承诺制", "en": "Commitment scheme"},
    "item.commitment_applies": {
        "zh": "适用：书面承诺符合条件的，可免交相应证明材料",
        "en": "applies: a written commitment replaces the corresponding proofs",
    },
    "item.visits": {"zh": "到现场次数", "en": "Visits in person"},
    "item.visits_count": {"zh": "{n} 次", "en": "{n}"},
    "item.online": {"zh": "网上办理", "en": "Online"},
    "item.online_yes": {"zh": "可网上办理", "en": "can be applied for online"},
    "item.online_no": {"zh": "须到窗口办理", "en": "at a service window only"},
    "item.fee_basis": {"zh": "收费依据", "en": "Fee basis"},
    "item.hours": {"zh": "办理时间", "en": "Opening hours"},
    "item.phone": {"zh": "咨询电话", "en": "Enquiries"},
    "item.complaint_phone": {"zh": "监督投诉电话", "en": "Complaints"},
    "item.material_name": {"zh": "材料名称", "en": "Material"},
    "item.material_form": {"zh": "形式", "en": "Form"},
    "item.material_copies": {"zh": "份数", "en": "Copies"},
    "item.material_source": {"zh": "来源", "en": "Source"},
    "item.material_requirement": {"zh": "要求", "en": "Requirement"},
    "item.material_notes": {"zh": "说明", "en": "Notes"},
    "item.procedures": {"zh": "特别程序", "en": "Special procedures"},
    "item.procedures_intro": {
        "zh": "审查中可能需要以下程序；标明“不计入”的，所需时间不计入办理时限。",
        "en": "Review may need these steps; time marked as not counted is left out of the limits.",
    },
    "item.procedure_name": {"zh": "程序名称", "en": "Procedure"},
    "item.procedure_kind": {"zh": "种类", "en": "Kind"},
    "item.procedure_days": {"zh": "一般需要", "en": "Usually takes"},
    "item.procedure_days_count": {"zh": "约 {n} 天", "en": "about {n} days"},
    "item.procedure_counts": {"zh": "办理时限", "en": "Time limits"},
    "item.procedure_counted": {"zh": "计入", "en": "counted"},
    "item.procedure_not_counted": {"zh": "不计入", "en": "not counted"},
    "item.procedure_basis": {"zh": "依据", "en": "Basis"},
    "health.parent": {"zh": "上级中心", "en": "Parent centre"},
    "error.back": {"zh": "返回首页", "en": "Back to the home page"},
    "nav.desk": {"zh": "工作台", "en": "Desk"},
    "nav.logout": {"zh": "退出登录", "en": "Sign out"},
    "login.title": {"zh": "工作人员登录", "en": "Staff sign-in"},
    "login.intro": {
        "zh": "请使用本服务点节点管理员为您开设的账号登录。断网时也可以登录。",
        "en": "Use the account this service point's administrator made for you. "
        "Signing in works while the network is down.",
    },
    "login.username": {"zh": "用户名", "en": "Username"},
    "login.password": {"zh": "密码", "en": "Password"},
    "login.submit": {"zh": "登录", "en": "Sign in"},
    "login.failed": {"zh": "用户名或密码不正确。", "en": "Wrong username or password."},
    "login.locked": {
        "zh": "该用户名登录失败次数过多，已暂时锁定。请 {minutes} 分钟后再试，或请节点管理员协助。",
        "en": "Too many failed sign-ins for this username; it is locked for now. "
        "Try again in {minutes} minutes or ask the node administrator.",
    },
    "login.logged_out": {"zh": "您已退出登录。", "en": "You have signed out."},
    "desk.title": {"zh": "工作台", "en": "Desk"},
    "desk.you": {"zh": "当前用户", "en": "Signed in as"},
    "desk.roles": {"zh": "角色", "en": "Roles"},
    "desk.node": {"zh": "本服务点", "en": "This service point"},
    "desk.name": {"zh": "名称", "en": "Name"},
    "desk.node_id": {"zh": "节点标识", "en": "Node id"},
    "desk.tier": {"zh": "层级", "en": "Tier"},
    "desk.catalog_version": {"zh": "事项目录版本", "en": "Catalog version"},
    "desk.catalog_missing": {"zh": "尚未收到", "en": "not received yet"},
    "desk.sync": {"zh": "与上级同步", "en": "Sync with the parent"},
    "desk.parent": {"zh": "上级中心", "en": "Parent centre"},
    "desk.reachable": {"zh": "可以连接", "en": "reachable"},
    "desk.unreachable": {"zh": "无法连接", "en": "unreachable"},
    "desk.checked_at": {"zh": "检测时间", "en": "checked at"},
    "desk.last_success": {"zh": "最近一次成功同步", "en": "Last successful sync"},
    "desk.last_attempt": {"zh": "最近一次尝试", "en": "Last attempt"},
    "desk.last_error": {"zh": "最近一次错误", "en": "Last error"},
    "desk.never": {"zh": "尚无", "en": "never"},
    "desk.waiting": {"zh": "待上报记录", "en": "Records waiting"},
    "desk.waiting_unit": {"zh": "条", "en": "records"},
    "desk.offline_note": {
        "zh": "上级无法连接时，本点照常受理、审查、决定；联网后记录自动上报。",
        "en": "While the parent is out of reach this point keeps working; "
        "records are sent up when the link returns.",
    },
    "role.clerk": {"zh": "窗口人员", "en": "Window clerk"},
    "role.reviewer": {"zh": "审核", "en": "Reviewer"},
    "role.approver": {"zh": "决定", "en": "Approver"},
    "role.admin": {"zh": "节点管理员", "en": "Node administrator"},
    "lang.switch": {"zh": "English", "en": "中文"},
    "footer.note": {
        "zh": "通办 — 县乡村三级政务服务网络",
        "en": "Tongban — county, township and community service network",
    },
}


def add_messages(messages: dict[str, dict[str, str]]) -> None:
    """Register a module's own interface texts (each key with a ``zh`` and an ``en`` text).

    Page modules keep their texts beside their handlers and register them at import, so the
    texts of one screen live in one place.

    Raises:
        ValueError: a key is registered twice with different texts, or lacks a language.
    """
    for key, entry in messages.items():
        if set(entry) != set(LANGUAGES) or not all(text.strip() for text in entry.values()):
            raise ValueError(f"interface text {key!r} needs non-empty zh and en texts")
        known = _MESSAGES.get(key)
        if known is not None and known != entry:
            raise ValueError(f"interface text {key!r} is registered twice with different texts")
        _MESSAGES[key] = dict(entry)


def language_of(request: Request[Any, Any, Any]) -> str:
    """The language a page should use for this request."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return asked if asked in LANGUAGES else DEFAULT_LANGUAGE


def translator(lang: str) -> Callable[[str], str]:
    """A lookup function for templates; an unknown key shows itself so gaps are visible."""

    def t(key: str) -> str:
        entry = _MESSAGES.get(key)
        if entry is None:
            return key
        return entry.get(lang) or entry[DEFAULT_LANGUAGE]

    return t


def message_keys() -> frozenset[str]:
    """Every key the catalog knows (tests check both languages are complete)."""
    return frozenset(_MESSAGES)


def message(key: str, lang: str) -> str:
    """One message in one language."""
    return translator(lang)(key)
