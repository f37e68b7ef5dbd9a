"""Validation rules of the service-item catalog, reported in Chinese.

Every message names the item code and the field so an administrator editing the catalog file
can find the spot. The rules follow 行政许可法 (arts. 24, 42, 45, 82) and the element set of
GB/T 39046; see :mod:`shared.catalog` for the schema.
"""

from __future__ import annotations

from collections import Counter

from shared.catalog import (
    CATALOG_FORMAT,
    MAX_CODE_LENGTH,
    USCC_CHARS,
    Catalog,
    Item,
    ItemType,
    MaterialRequirement,
)
from shared.delegation import Tier, delegation_problems
from shared.terms import LimitUnit, ProjectType


def _duplicates(values: list[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def _code_problems(item: Item) -> list[str]:
    at = f"事项 {item.code}"
    problems: list[str] = []
    if not item.code.strip():
        problems.append(f"事项“{item.name}”的事项编号（code）为空")
    elif len(item.code) > MAX_CODE_LENGTH:
        problems.append(f"{at} 的事项编号（code）超过 {MAX_CODE_LENGTH} 个字符")
    if not item.name.strip():
        problems.append(f"{at} 的事项名称（name）为空")
    named = item.codes.named()
    if not any(v.strip() for v in named.values()):
        problems.append(
            f"{at} 的编码（codes）全部为空，基本编码、实施编码、业务办理项编码、"
            "地方编码至少要填一项"
        )
    for field, value in named.items():
        if len(value) > MAX_CODE_LENGTH:
            problems.append(f"{at} 的编码 codes.{field} 超过 {MAX_CODE_LENGTH} 个字符")
    return problems


def _limit_problems(item: Item) -> list[str]:
    at = f"事项 {item.code}"
    problems: list[str] = []
    statutory, promised = item.statutory, item.promised
    for field, limit in (("statutory", statutory), ("promised", promised)):
        if limit is not None and limit.days < 0:
            problems.append(f"{at} 的时限（{field}）不能为负数")
    for field, value in (
        ("extension_days", item.extension_days),
        ("warning_days", item.warning_days),
        ("issuance_days", item.issuance_days or 0),
        ("on_site_visits", item.on_site_visits),
    ):
        if value < 0:
            problems.append(f"{at} 的 {field} 不能为负数")
    if statutory and promised:
        if statutory.unit is not promised.unit:
            problems.append(
                f"{at} 的法定时限（statutory）与承诺时限（promised）单位不一致，"
                "办件时限只能使用一种单位"
            )
        elif promised.days > statutory.days:
            problems.append(
                f"{at} 的承诺时限（promised）{promised.describe()}超过了"
                f"法定时限（statutory）{statutory.describe()}"
            )
    if item.project_type is ProjectType.IMMEDIATE:
        if promised is None or promised.days != 0:
            problems.append(f"{at} 是即办件，承诺时限（promised）应为 0（当场办结）")
    elif item.project_type is not ProjectType.OTHER:
        if promised is None:
            problems.append(
                f"{at} 是{item.project_type.label}，必须填写承诺时限（promised），电子监察以它为准"
            )
        elif promised.days == 0:
            problems.append(
                f"{at} 的承诺时限（promised）为 0，只有即办件可以当场办结；"
                "请改为即办件或填写承诺天数"
            )
    if item.item_type is ItemType.LICENCE:
        if statutory is None:
            problems.append(f"{at} 是行政许可，必须填写法定时限（statutory）")
        elif statutory.unit is not LimitUnit.WORKING_DAYS:
            problems.append(
                f"{at} 是行政许可，法定时限（statutory）应以工作日计（行政许可法第八十二条）"
            )
    return problems


def _material_problems(item: Item) -> list[str]:
    at = f"事项 {item.code}"
    problems: list[str] = []
    for code in _duplicates([m.code for m in item.materials]):
        problems.append(f"{at} 的申请材料编号（materials.code）{code} 重复")
    for m in item.materials:
        if not m.code.strip() or not m.name.strip():
            problems.append(f"{at} 有申请材料的编号或名称（materials）为空")
        if m.copies.original < 0 or m.copies.copy < 0:
            problems.append(f"{at} 的申请材料 {m.code} 份数（copies）不能为负数")
    requirements = {m.requirement for m in item.materials}
    if (
        MaterialRequirement.DEFERRABLE in requirements
        and MaterialRequirement.REQUIRED not in requirements
    ):
        problems.append(
            f"{at} 的申请材料（materials）只有容缺后补材料，容缺受理要求主要材料齐全，"
            "至少要有一项必要材料"
        )
    return problems


def _department_problems(item: Item) -> list[str]:
    at = f"事项 {item.code}"
    problems: list[str] = []
    if not item.lead_department.strip():
        problems.append(f"{at} 未填写实施（牵头）部门（lead_department）")
    parallel = item.parallel_departments
    if item.project_type is ProjectType.JOINT:
        if not parallel:
            problems.append(f"{at} 是联办件，至少要有一个并联部门（parallel_departments）")
    elif parallel:
        problems.append(
            f"{at} 不是联办件，不应填写并联部门（parallel_departments）；"
            "如需多部门联合办理，请把办件类型改为联办件"
        )
    if item.lead_department in parallel:
        problems.append(f"{at} 的并联部门（parallel_departments）不能包含牵头部门")
    for code in _duplicates(list(parallel)):
        problems.append(f"{at} 的并联部门（parallel_departments）{code} 重复")
    return problems


def _procedure_problems(item: Item) -> list[str]:
    at = f"事项 {item.code}"
    problems: list[str] = []
    for p in item.special_procedures:
        if not p.name.strip():
            problems.append(f"{at} 有特别程序（special_procedures）名称为空")
        if p.kind.art45 and p.counts_toward_limit:
            problems.append(
                f"{at} 的特别程序“{p.name}”属于{p.kind.label}，依行政许可法第四十五条"
                "不计入办理时限（counts_toward_limit 应为 false）"
            )
        if p.typical_days is not None and p.typical_days < 0:
            problems.append(f"{at} 的特别程序“{p.name}”所需天数（typical_days）不能为负数")
    if item.fee.charged and not item.fee.basis.strip():
        problems.append(f"{at} 收费（fee.charged），但未填写收费依据（fee.basis）")
    return problems


def item_problems(item: Item) -> list[str]:
    """Problems inside one item (see :meth:`shared.catalog.Item.validate`)."""
    is_licence = item.item_type is ItemType.LICENCE
    problems = [
        *_code_problems(item),
        *_limit_problems(item),
        *_material_problems(item),
        *_department_problems(item),
        *_procedure_problems(item),
    ]
    if is_licence and item.home_tier is Tier.COMMUNITY:
        problems.append(
            f"事项 {item.code} 是行政许可，实施层级（home_tier）不能是村（社区）级："
            "村（社区）不是行政机关"
        )
    problems += delegation_problems(
        item.code, item.home_tier, item.delegations, is_licence=is_licence
    )
    return problems


def catalog_problems(catalog: Catalog) -> list[str]:
    """Every problem in a catalog (see :meth:`shared.catalog.Catalog.validate`)."""
    problems: list[str] = []
    if catalog.format != CATALOG_FORMAT:
        problems.append(f"事项目录格式版本（format）应为 {CATALOG_FORMAT}")
    county = catalog.county
    if len(county.code) != 6 or not county.code.isdigit():
        problems.append(f"县级行政区划代码（county.code）“{county.code}”应为 6 位数字")
    if not county.name.strip():
        problems.append("县名称（county.name）为空")
    for code in _duplicates([d.code for d in catalog.departments]):
        problems.append(f"部门编号（departments.code）{code} 重复")
    for d in catalog.departments:
        if not d.code.strip() or not d.name.strip():
            problems.append("有部门的编号或名称（departments）为空")
        if d.uscc and (len(d.uscc) != 18 or not set(d.uscc) <= USCC_CHARS):
            problems.append(
                f"部门 {d.code} 的统一社会信用代码（uscc）应为 18 位数字或大写字母"
                "（不含 I、O、Z、S、V）"
            )
    departments = {d.code: d for d in catalog.departments}
    for code in _duplicates([i.code for i in catalog.items]):
        problems.append(f"事项编号（items.code）{code} 重复")
    for item in catalog.items:
        problems += item.validate()
        lead = departments.get(item.lead_department)
        if item.lead_department and lead is None:
            problems.append(
                f"事项 {item.code} 的实施（牵头）部门（lead_department）"
                f"{item.lead_department} 不在部门列表中"
            )
        elif lead is not None and lead.tier is not item.home_tier:
            problems.append(
                f"事项 {item.code} 的实施部门 {lead.code} 属于{lead.tier.label}，"
                f"与事项的实施层级（home_tier）{item.home_tier.label}不一致"
            )
        for code in item.parallel_departments:
            if code not in departments:
                problems.append(
                    f"事项 {item.code} 的并联部门（parallel_departments）{code} 不在部门列表中"
                )
    return problems
