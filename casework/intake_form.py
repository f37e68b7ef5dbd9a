"""The window's intake form, framework-free: what the clerk typed, the item checklist, the ID
and credit-code checks, and the form turned into an :class:`casework.intake.Application`.

Shared by the node's and the county's /window/new pages, which differ only in where the catalog,
identity and intake service come from.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from casework.intake import Application, Decision, DeferredIn
from shared.catalog import Catalog, Item, MaterialRequirement, MaterialSource
from shared.delegation import Tier
from shared.events import Applicant, ApplicantKind, IdType
from shared.terms import ProjectType

_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class FormData(Protocol):
    """A posted form: one value per key, or every value of a repeated key."""

    def get(self, key: str, /) -> Any: ...

    def getall(self, key: str, default: list[Any], /) -> list[Any]: ...


@dataclass
class MaterialLine:
    """A material on the checklist, with what the clerk ticked."""

    code: str
    name: str
    requirement: str
    requirement_label: str
    shared: bool
    detail: str
    handed: bool = False
    deferred: bool = False
    due: str = ""


@dataclass
class IntakeForm:
    """What the clerk typed, kept when the form comes back with problems."""

    request_id: str
    item_code: str
    pre: str = ""
    kind: str = ApplicantKind.PERSON.value
    name: str = ""
    id_type: str = IdType.RESIDENT_ID.value
    id_number: str = ""
    uscc: str = ""
    phone: str = ""
    decision: str = Decision.ACCEPT.value
    commitment: str = ""
    reason: str = ""
    referral: str = ""
    handed: list[str] = field(default_factory=list)
    deferred: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OfferedItem:
    """An item the node may take today, and whether it decides it or forwards it."""

    code: str
    name: str
    decides_here: bool
    handling_tier: str
    immediate: bool


def offered_items(catalog: Catalog, tier: Tier, node_id: str, today: date) -> list[OfferedItem]:
    """Items this node may accept today, from the service guide."""
    found = []
    for item in catalog.items:
        handling = item.handling_tier_for(tier, node_id, today)
        if handling is None:
            continue
        found.append(
            OfferedItem(
                code=item.code,
                name=item.name,
                decides_here=handling is tier,
                handling_tier=handling.label,
                immediate=item.project_type is ProjectType.IMMEDIATE,
            )
        )
    return found


@dataclass(frozen=True)
class IntakeView:
    """What the shared intake templates draw: the items offered today, or the chosen item's
    checklist with the clerk's ticks, and every problem to show."""

    template: str
    form: IntakeForm
    item: Item | None
    chosen: OfferedItem | None
    offered: list[OfferedItem]
    lines: list[MaterialLine]
    problems: list[str]
    catalog_version: int | None
    today: date

    def context(self) -> dict[str, Any]:
        """The template variables."""
        return {
            "form": self.form,
            "item": self.item,
            "chosen": self.chosen,
            "offered": self.offered,
            "lines": self.lines,
            "problems": self.problems,
            "catalog_version": self.catalog_version,
            "id_types": [t for t in IdType if t is not IdType.USCC],
            "today": self.today.isoformat(),
            "deferrable": MaterialRequirement.DEFERRABLE.value,
        }


def intake_view(
    catalog: Catalog | None,
    version: int | None,
    *,
    tier: Tier,
    node_id: str,
    today: date,
    form: IntakeForm,
    problems: list[str],
) -> IntakeView:
    """The choose page, or the form of the chosen item when this node may take it today.

    An item the node may not take sends the clerk back to the list with the reason, unless the
    problems already name it.
    """
    offered = [] if catalog is None else offered_items(catalog, tier, node_id, today)
    item: Item | None = None
    code = form.item_code
    if catalog is not None and code:
        if code in {o.code for o in offered}:
            item = catalog.item(code)
        elif not any(code in p for p in problems):
            problems = [*problems, _not_offered(catalog, code)]
    return IntakeView(
        template="window/intake_form.html" if item else "window/intake_choose.html",
        form=form,
        item=item,
        chosen=next((o for o in offered if item and o.code == item.code), None),
        offered=offered,
        lines=material_lines(item, form) if item else [],
        problems=problems,
        catalog_version=version,
        today=today,
    )


def _not_offered(catalog: Catalog, code: str) -> str:
    known = next((i for i in catalog.items if i.code == code), None)
    if known is None:
        return f"事项目录中没有编号为 {code} 的事项，请重新选择"
    return f"事项 {code}「{known.name}」今天不能在本节点受理（未下放到本级），请重新选择"


def material_lines(item: Item, form: IntakeForm) -> list[MaterialLine]:
    """The checklist of an item with the clerk's ticks."""
    lines = []
    for material in item.materials:
        shared = material.source is MaterialSource.SHARED
        parts = [material.form.label]
        if material.copies.original:
            parts.append(f"原件{material.copies.original}份")
        if material.copies.copy:
            parts.append(f"复印件{material.copies.copy}份")
        if material.notes:
            parts.append(material.notes)
        lines.append(
            MaterialLine(
                code=material.code,
                name=material.name,
                requirement=material.requirement.value,
                requirement_label=material.requirement.label,
                shared=shared,
                detail="，".join(parts),
                handed=material.code in form.handed,
                deferred=material.code in form.deferred,
                due=form.deferred.get(material.code, ""),
            )
        )
    return lines


def form_from(data: FormData) -> IntakeForm:
    """The form as typed (trimmed, codes upper-cased); a fresh request id if none came."""

    def one(key: str) -> str:
        value = data.get(key)
        return value.strip() if isinstance(value, str) else ""

    deferred = {
        str(code): one(f"due_{code}")
        for code in data.getall("deferred", [])
        if isinstance(code, str)
    }
    return IntakeForm(
        request_id=one("request_id") or str(uuid.uuid4()),
        item_code=one("item_code"),
        pre=one("pre"),
        kind=one("kind") or ApplicantKind.PERSON.value,
        name=one("name"),
        id_type=one("id_type") or IdType.RESIDENT_ID.value,
        id_number=one("id_number").upper(),
        uscc=one("uscc").upper(),
        phone=one("phone"),
        decision=one("decision") or Decision.ACCEPT.value,
        commitment=one("commitment"),
        reason=one("reason"),
        referral=one("referral"),
        handed=[str(c) for c in data.getall("materials", []) if isinstance(c, str)],
        deferred=deferred,
    )


def resident_id_problem(number: str) -> str | None:
    """Why an 18-digit 居民身份证号码 is wrong (GB 11643 check digit), or None."""
    if len(number) != 18 or not number[:17].isdigit() or number[17] not in "0123456789X":
        return "居民身份证号码应为18位，前17位为数字，最后一位为数字或X"
    total = sum(int(d) * w for d, w in zip(number[:17], _RESIDENT_ID_WEIGHTS, strict=True))
    if _RESIDENT_ID_CHECK[total % 11] != number[17]:
        return "居民身份证号码校验位不符，请核对是否输错"
    return None


def uscc_problem(code: str) -> str | None:
    """Why an 18-character 统一社会信用代码 is wrong (GB 32100 check character), or None."""
    if len(code) != 18 or any(c not in _USCC_CHARS for c in code):
        return "统一社会信用代码应为18位数字或大写字母（不含I、O、Z、S、V）"
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    if _USCC_CHARS[(31 - total % 31) % 31] != code[17]:
        return "统一社会信用代码校验位不符，请核对是否输错"
    return None


def application_of(form: IntakeForm) -> tuple[Application | None, list[str]]:
    """The application the form describes, or None with every problem found."""
    problems: list[str] = []
    organisation = form.kind == ApplicantKind.ORGANISATION.value
    try:
        id_type = IdType.USCC if organisation else IdType(form.id_type)
    except ValueError:
        id_type = IdType.OTHER
        problems.append("请选择证件类型")
    id_number = form.uscc if organisation else form.id_number
    if organisation and form.uscc:
        problems.extend(p for p in [uscc_problem(form.uscc)] if p)
    elif id_type is IdType.RESIDENT_ID and form.id_number:
        problems.extend(p for p in [resident_id_problem(form.id_number)] if p)
    if organisation and not form.uscc:
        problems.append("法人或其他组织必须填写统一社会信用代码")
    if form.phone and not form.phone.replace("-", "").isdigit():
        problems.append("联系电话只能包含数字和连字符")
    try:
        decision = Decision(form.decision)
    except ValueError:
        problems.append("请选择受理决定")
        decision = Decision.ACCEPT
    deferred: list[DeferredIn] = []
    for code, due in form.deferred.items():
        try:
            deferred.append(DeferredIn(code=code, due=date.fromisoformat(due)))
        except ValueError:
            problems.append(f"容缺材料 {code} 请填写补齐期限（年-月-日）")
    if problems:
        return None, problems
    applicant = Applicant(
        name=form.name,
        id_type=id_type,
        id_number=id_number,
        phone=form.phone or None,
        kind=ApplicantKind.ORGANISATION if organisation else ApplicantKind.PERSON,
    )
    return (
        Application(
            item_code=form.item_code,
            applicant=applicant,
            decision=decision,
            materials=tuple(form.handed),
            deferred=tuple(deferred) if decision in (Decision.ACCEPT, Decision.IMMEDIATE) else (),
            reason=form.reason or None,
            referral=form.referral or None,
            commitment=form.commitment or None,
            request_id=form.request_id,
        ),
        [],
    )
