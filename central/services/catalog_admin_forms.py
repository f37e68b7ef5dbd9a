"""The catalog administration forms as typed, and reading them into catalog values.

Every field arrives as text so a form shown again after an error keeps exactly what was typed.
Reading collects every problem of a form at once, in Chinese, before anything is saved.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import TypeVar

import msgspec

from shared.calendar_data import CalendarYear, HolidayRange
from shared.catalog import (
    Contact,
    Copies,
    Fee,
    Item,
    ItemCodes,
    ItemType,
    Material,
    MaterialForm,
    MaterialRequirement,
    MaterialSource,
    ServiceObject,
    SpecialProcedure,
    TimeLimit,
)
from shared.delegation import Delegation, DelegationMode, Tier
from shared.errors import ValidationError
from shared.terms import LimitUnit, ProcedureKind, ProjectType


class ItemForm(msgspec.Struct, kw_only=True):
    """The item edit form as typed: every field text, so nothing typed is lost on error.

    Lists are one entry per line; a material line is
    ``编号|名称|形式|要求|来源|原件份数|复印件份数|说明`` and a special procedure line
    ``名称|种类|是否计入时限(是/否)|依据|一般天数``.
    """

    code: str = ""
    name: str = ""
    item_type: str = ItemType.LICENCE.value
    code_basic: str = ""
    code_implementation: str = ""
    code_handle_item: str = ""
    code_local: str = ""
    lead_department: str = ""
    parallel_departments: str = ""
    home_tier: str = Tier.COUNTY.value
    project_type: str = ProjectType.PROMISED.value
    statutory_days: str = ""
    statutory_unit: str = LimitUnit.WORKING_DAYS.value
    statutory_note: str = ""
    promised_days: str = ""
    promised_unit: str = LimitUnit.WORKING_DAYS.value
    promised_note: str = ""
    extension_days: str = "0"
    extension_approver: str = ""
    issuance_days: str = ""
    warning_days: str = "1"
    legal_basis: str = ""
    conditions: str = ""
    materials: str = ""
    special_procedures: str = ""
    service_objects: str = ""
    on_site_visits: str = "1"
    online: str = ""
    result_name: str = ""
    commitment_mode: str = ""
    fee_charged: str = ""
    fee_basis: str = ""
    fee_standard: str = ""
    address: str = ""
    hours: str = ""
    phone: str = ""
    complaint_phone: str = ""
    summary: str = ""
    revision: str = ""


def form_of(item: Item) -> ItemForm:
    """The form filled in from an item (to edit it)."""
    s, p = item.statutory, item.promised
    return ItemForm(
        code=item.code,
        name=item.name,
        item_type=item.item_type.value,
        code_basic=item.codes.basic,
        code_implementation=item.codes.implementation,
        code_handle_item=item.codes.handle_item,
        code_local=item.codes.local,
        lead_department=item.lead_department,
        parallel_departments="、".join(item.parallel_departments),
        home_tier=item.home_tier.value,
        project_type=item.project_type.value,
        statutory_days="" if s is None else str(s.days),
        statutory_unit=(s.unit if s else LimitUnit.WORKING_DAYS).value,
        statutory_note="" if s is None else s.note,
        promised_days="" if p is None else str(p.days),
        promised_unit=(p.unit if p else LimitUnit.WORKING_DAYS).value,
        promised_note="" if p is None else p.note,
        extension_days=str(item.extension_days),
        extension_approver=item.extension_approver,
        issuance_days="" if item.issuance_days is None else str(item.issuance_days),
        warning_days=str(item.warning_days),
        legal_basis=item.legal_basis,
        conditions="\n".join(item.conditions),
        materials="\n".join(
            "|".join(
                (
                    m.code,
                    m.name,
                    m.form.value,
                    m.requirement.value,
                    m.source.value,
                    str(m.copies.original),
                    str(m.copies.copy),
                    m.notes,
                )
            )
            for m in item.materials
        ),
        special_procedures="\n".join(
            "|".join(
                (
                    sp.name,
                    sp.kind.value,
                    "是" if sp.counts_toward_limit else "否",
                    sp.basis,
                    "" if sp.typical_days is None else str(sp.typical_days),
                )
            )
            for sp in item.special_procedures
        ),
        service_objects=" ".join(o.value for o in item.service_objects),
        on_site_visits=str(item.on_site_visits),
        online="1" if item.online else "",
        result_name=item.result_name,
        commitment_mode="1" if item.commitment_mode else "",
        fee_charged="1" if item.fee.charged else "",
        fee_basis=item.fee.basis,
        fee_standard=item.fee.standard,
        address=item.contact.address,
        hours=item.contact.hours,
        phone=item.contact.phone,
        complaint_phone=item.contact.complaint_phone,
        summary=item.summary,
    )


_E = TypeVar("_E", bound=StrEnum)


class _Reader:
    """Collects every reading problem of one form instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def integer(self, text: str, label: str, *, default: int | None = None) -> int | None:
        value = text.strip()
        if not value:
            if default is None:
                return None
            return default
        if not re.fullmatch(r"\d{1,5}", value):
            self.problems.append(f"“{label}”应填不小于 0 的整数，现在是“{value}”")
            return None
        return int(value)

    def choice(self, kind: type[_E], text: str, label: str) -> _E | None:
        try:
            return kind(text.strip())
        except ValueError:
            self.problems.append(f"“{label}”的取值“{text.strip()}”无效")
            return None


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def _yes(text: str) -> bool:
    return text.strip().lower() in {"1", "on", "true", "yes", "是", "y"}


def item_from_form(form: ItemForm, *, delegations: tuple[Delegation, ...] = ()) -> Item:
    """Read the form into an item; ``delegations`` are kept as they are (edited apart).

    Raises:
        ValidationError: a field cannot be read (not a number, unknown choice, malformed
            material line); every such problem is listed in Chinese.
    """
    r = _Reader()
    item_type = r.choice(ItemType, form.item_type, "事项类型")
    home_tier = r.choice(Tier, form.home_tier, "实施层级")
    project_type = r.choice(ProjectType, form.project_type, "办件类型")
    limits: dict[str, TimeLimit | None] = {}
    for key, label, days_text, unit_text, note in (
        ("statutory", "法定时限", form.statutory_days, form.statutory_unit, form.statutory_note),
        ("promised", "承诺时限", form.promised_days, form.promised_unit, form.promised_note),
    ):
        days = r.integer(days_text, f"{label}天数")
        unit = r.choice(LimitUnit, unit_text, f"{label}单位")
        limits[key] = (
            TimeLimit(days=days, unit=unit, note=note.strip())
            if days is not None and unit
            else None
        )
    extension = r.integer(form.extension_days, "可延长天数", default=0)
    issuance = r.integer(form.issuance_days, "发证期限")
    warning = r.integer(form.warning_days, "预警提前天数", default=1)
    visits = r.integer(form.on_site_visits, "到现场次数", default=1)
    materials = _materials(r, form.materials)
    procedures = _procedures(r, form.special_procedures)
    objects: list[ServiceObject] = []
    for text in form.service_objects.replace(",", " ").split():
        obj = r.choice(ServiceObject, text, "服务对象")
        if obj is not None:
            objects.append(obj)
    if r.problems or item_type is None or home_tier is None or project_type is None:
        raise ValidationError(r.problems, message="事项表单有无法识别的内容，未保存。")
    return Item(
        code=form.code.strip(),
        name=form.name.strip(),
        item_type=item_type,
        codes=ItemCodes(
            basic=form.code_basic.strip(),
            implementation=form.code_implementation.strip(),
            handle_item=form.code_handle_item.strip(),
            local=form.code_local.strip(),
        ),
        lead_department=form.lead_department.strip(),
        home_tier=home_tier,
        project_type=project_type,
        statutory=limits["statutory"],
        promised=limits["promised"],
        extension_days=extension or 0,
        extension_approver=form.extension_approver.strip(),
        issuance_days=issuance,
        warning_days=1 if warning is None else warning,
        special_procedures=tuple(procedures),
        delegations=delegations,
        parallel_departments=tuple(re.split(r"[、,，\s]+", form.parallel_departments.strip()))
        if form.parallel_departments.strip()
        else (),
        legal_basis=form.legal_basis.strip(),
        conditions=tuple(_lines(form.conditions)),
        materials=tuple(materials),
        service_objects=tuple(objects),
        on_site_visits=1 if visits is None else visits,
        online=_yes(form.online),
        result_name=form.result_name.strip(),
        commitment_mode=_yes(form.commitment_mode),
        fee=Fee(
            charged=_yes(form.fee_charged),
            basis=form.fee_basis.strip(),
            standard=form.fee_standard.strip(),
        ),
        contact=Contact(
            address=form.address.strip(),
            hours=form.hours.strip(),
            phone=form.phone.strip(),
            complaint_phone=form.complaint_phone.strip(),
        ),
        summary=form.summary.strip(),
    )


def _materials(r: _Reader, text: str) -> list[Material]:
    found: list[Material] = []
    for n, line in enumerate(_lines(text), start=1):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 3:
            r.problems.append(
                f"申请材料第 {n} 行“{line}”格式不对，应为 "
                "编号|名称|形式|要求|来源|原件份数|复印件份数|说明"
            )
            continue
        parts += [""] * (8 - len(parts))
        form = r.choice(MaterialForm, parts[2], f"申请材料第 {n} 行的形式")
        requirement = r.choice(
            MaterialRequirement,
            parts[3] or MaterialRequirement.REQUIRED.value,
            f"申请材料第 {n} 行的要求",
        )
        source = r.choice(
            MaterialSource, parts[4] or MaterialSource.APPLICANT.value, f"申请材料第 {n} 行的来源"
        )
        original = r.integer(parts[5], f"申请材料第 {n} 行的原件份数", default=0)
        copy = r.integer(parts[6], f"申请材料第 {n} 行的复印件份数", default=0)
        if form and requirement and source and original is not None and copy is not None:
            found.append(
                Material(
                    code=parts[0],
                    name=parts[1],
                    form=form,
                    requirement=requirement,
                    source=source,
                    copies=Copies(original=original, copy=copy),
                    notes="|".join(parts[7:]).strip("|"),
                )
            )
    return found


def _procedures(r: _Reader, text: str) -> list[SpecialProcedure]:
    found: list[SpecialProcedure] = []
    for n, line in enumerate(_lines(text), start=1):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 3:
            r.problems.append(
                f"特别程序第 {n} 行“{line}”格式不对，应为 "
                "名称|种类|是否计入时限(是/否)|依据|一般天数"
            )
            continue
        parts += [""] * (5 - len(parts))
        kind = r.choice(ProcedureKind, parts[1], f"特别程序第 {n} 行的种类")
        days = r.integer(parts[4], f"特别程序第 {n} 行的一般天数")
        if kind is not None and not (parts[4] and days is None):
            found.append(
                SpecialProcedure(
                    name=parts[0],
                    kind=kind,
                    counts_toward_limit=_yes(parts[2]),
                    basis=parts[3],
                    typical_days=days,
                )
            )
    return found


class DelegationForm(msgspec.Struct, kw_only=True):
    """The delegate form as typed."""

    mode: str = ""
    tier: str = ""
    node_ids: str = ""
    effective_from: str = ""
    note: str = ""
    revision: str = ""


def delegation_from_form(form: DelegationForm) -> Delegation:
    """Read the delegate form.

    Raises:
        ValidationError: every field that cannot be read.
    """
    r = _Reader()
    mode = r.choice(DelegationMode, form.mode, "下放方式")
    tier = r.choice(Tier, form.tier, "下放层级")
    effective = _date(r, form.effective_from, "生效日期")
    if not form.effective_from.strip():
        r.problems.append("请填写下放的生效日期")
    nodes = tuple(n for n in re.split(r"[、,，\s]+", form.node_ids.strip()) if n)
    if r.problems or mode is None or tier is None:
        raise ValidationError(r.problems, message="下放表单有无法识别的内容，未保存。")
    return Delegation(
        mode=mode, tier=tier, node_ids=nodes, effective_from=effective, note=form.note.strip()
    )


def _date(r: _Reader, text: str, label: str) -> date | None:
    value = text.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        r.problems.append(f"“{label}”应为 年-月-日 格式的日期（如 2027-01-01），现在是“{value}”")
        return None


class CalendarForm(msgspec.Struct, kw_only=True):
    """The calendar editor as typed: one holiday range per line (``名称 开始 结束``) and one
    make-up working day per line."""

    year: str = ""
    holidays: str = ""
    makeup_workdays: str = ""
    source: str = ""
    revision: str = ""


def calendar_year_from_form(form: CalendarForm) -> CalendarYear:
    """Read the calendar editor's form.

    Raises:
        ValidationError: every line that cannot be read.
    """
    r = _Reader()
    year = r.integer(form.year, "年份")
    if year is None and not r.problems:
        r.problems.append("请填写年份")
    ranges: list[HolidayRange] = []
    for n, line in enumerate(_lines(form.holidays), start=1):
        parts = line.replace("至", " ").replace("～", " ").replace("~", " ").split()
        if len(parts) not in (2, 3):
            r.problems.append(
                f"放假安排第 {n} 行“{line}”格式不对，应为 名称 开始日期 结束日期"
                "（如 春节 2027-02-06 2027-02-13）"
            )
            continue
        name = parts[0]
        first = _date(r, parts[1], f"放假安排第 {n} 行的开始日期")
        # A one-day holiday may be typed with a single date.
        last = _date(r, parts[2], f"放假安排第 {n} 行的结束日期") if len(parts) == 3 else first
        if first and last:
            ranges.append(HolidayRange(name=name, first=first, last=last))
    makeup: list[date] = []
    for n, line in enumerate(_lines(form.makeup_workdays), start=1):
        day = _date(r, line.split()[0], f"调休上班日第 {n} 行")
        if day:
            makeup.append(day)
    if r.problems or year is None:
        raise ValidationError(r.problems, message="放假安排有无法识别的内容，未保存。")
    return CalendarYear(
        year=year, holidays=tuple(ranges), makeup_workdays=tuple(makeup), source=form.source.strip()
    )


def calendar_form_of(year: CalendarYear) -> CalendarForm:
    """The editor filled in from a stored year."""
    return CalendarForm(
        year=str(year.year),
        holidays="\n".join(f"{h.name} {h.first} {h.last}" for h in year.holidays),
        makeup_workdays="\n".join(str(d) for d in year.makeup_workdays),
        source=year.source,
    )


def parse_revision(text: str) -> int | None:
    """The revision a form was rendered at (None when the field was missing or odd)."""
    try:
        return int(text)
    except ValueError:
        return None
