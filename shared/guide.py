"""The service guide (办事指南) as residents and clerks read it, derived from the catalog.

Both the county portal and every node's kiosk show the same guide; this module turns catalog
items into display entries so the two cannot drift apart.
"""

from __future__ import annotations

from datetime import date

import msgspec

from shared.catalog import (
    Catalog,
    Item,
    Material,
    MaterialRequirement,
    SpecialProcedure,
    TimeLimit,
)
from shared.delegation import Tier
from shared.errors import NotFoundError


class GuideMaterial(msgspec.Struct, frozen=True, kw_only=True):
    """One material line: what to bring, in what form, how many."""

    name: str
    form: str
    requirement: str
    deferrable: bool
    copies: str
    source: str
    notes: str


class GuideProcedure(msgspec.Struct, frozen=True, kw_only=True):
    """A 特别程序 the case may need, and whether its time counts toward the limits."""

    name: str
    kind: str
    counts_toward_limit: bool
    typical_days: int | None
    basis: str


class GuideEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One item as the guide shows it at a particular service point."""

    code: str
    name: str
    basic_code: str
    implementation_code: str
    item_type: str
    project_type: str
    department: str
    parallel_departments: tuple[str, ...]
    service_objects: tuple[str, ...]
    promised: str
    promised_note: str
    statutory: str
    statutory_note: str
    decided_here: bool
    handling_tier: str
    summary: str
    conditions: tuple[str, ...]
    materials: tuple[GuideMaterial, ...]
    special_procedures: tuple[GuideProcedure, ...]
    legal_basis: str
    commitment_mode: bool
    result_name: str
    fee: str
    fee_basis: str
    place: str
    hours: str
    phone: str
    complaint_phone: str
    online: bool
    on_site_visits: int


class GuidePage(msgspec.Struct, frozen=True, kw_only=True):
    """A guide listing and the catalog version it was drawn from (None: no catalog yet)."""

    catalog_version: int | None
    entries: tuple[GuideEntry, ...]


def guide_for(
    catalog: Catalog, tier: Tier, node_id: str, on: date, query: str = ""
) -> tuple[GuideEntry, ...]:
    """Entries a service point of ``tier`` can take on ``on``, filtered by ``query``.

    The query matches the item name, its project key or any of its official codes, so a clerk
    can type part of a name or paste a code from a provincial list.
    """
    needle = query.strip().lower()
    entries = []
    for item in catalog.items_for(tier, node_id, on):
        if needle and not _matches(item, needle):
            continue
        handling = item.handling_tier_for(tier, node_id, on) or item.home_tier
        entries.append(_entry(catalog, item, handling, tier))
    return tuple(entries)


def county_guide(catalog: Catalog, query: str = "") -> tuple[GuideEntry, ...]:
    """Every item of the county, each shown with the tier that decides it by default.

    The county portal lists the whole catalog, including items residents apply for at their
    township or community; ``decided_here`` then means decided at the county.
    """
    needle = query.strip().lower()
    return tuple(
        _entry(catalog, item, item.home_tier, Tier.COUNTY)
        for item in catalog.items
        if not needle or _matches(item, needle)
    )


def guide_entry(catalog: Catalog, code: str, tier: Tier, node_id: str, on: date) -> GuideEntry:
    """One item's full guide entry as seen from this service point.

    Raises:
        NotFoundError: the item does not exist or cannot be taken at this point.
    """
    item = catalog.item(code)
    if not item.can_accept_at(tier, node_id, on):
        raise NotFoundError(f"本服务点不受理事项 {item.name}（{code}）。", code="item_not_offered")
    handling = item.handling_tier_for(tier, node_id, on) or item.home_tier
    return _entry(catalog, item, handling, tier)


def limit_text(limit: TimeLimit | None) -> str:
    """Chinese description of a limit: "当场办结", "5个工作日" or "无"."""
    if limit is None:
        return "无"
    if limit.days == 0:
        return "当场办结"
    return limit.describe()


def _matches(item: Item, needle: str) -> bool:
    haystack = [item.name, item.code, *item.codes.named().values()]
    return any(needle in text.lower() for text in haystack if text)


def _entry(catalog: Catalog, item: Item, handling: Tier, here: Tier) -> GuideEntry:
    return GuideEntry(
        code=item.code,
        name=item.name,
        basic_code=item.codes.basic,
        implementation_code=item.codes.implementation,
        item_type=item.item_type.label,
        project_type=item.project_type.label,
        department=_department_name(catalog, item.lead_department),
        parallel_departments=tuple(
            _department_name(catalog, code) for code in item.parallel_departments
        ),
        service_objects=tuple(o.label for o in item.service_objects),
        promised=limit_text(item.promised),
        promised_note=item.promised.note if item.promised else "",
        statutory=limit_text(item.statutory),
        statutory_note=item.statutory.note if item.statutory else "",
        decided_here=handling is here,
        handling_tier=handling.label,
        summary=item.summary,
        conditions=item.conditions,
        materials=tuple(_material(m) for m in item.materials),
        special_procedures=tuple(_procedure(p) for p in item.special_procedures),
        legal_basis=item.legal_basis,
        commitment_mode=item.commitment_mode,
        result_name=item.result_name,
        fee=(item.fee.standard or "收费") if item.fee.charged else "不收费",
        fee_basis=item.fee.basis if item.fee.charged else "",
        place=item.contact.address,
        hours=item.contact.hours,
        phone=item.contact.phone,
        complaint_phone=item.contact.complaint_phone,
        online=item.online,
        on_site_visits=item.on_site_visits,
    )


def _department_name(catalog: Catalog, code: str) -> str:
    try:
        return catalog.department(code).name
    except NotFoundError:
        return code


def _procedure(procedure: SpecialProcedure) -> GuideProcedure:
    return GuideProcedure(
        name=procedure.name,
        kind=procedure.kind.label,
        counts_toward_limit=procedure.counts_toward_limit,
        typical_days=procedure.typical_days,
        basis=procedure.basis,
    )


def _material(material: Material) -> GuideMaterial:
    parts = []
    if material.copies.original:
        parts.append(f"原件{material.copies.original}份")
    if material.copies.copy:
        parts.append(f"复印件{material.copies.copy}份")
    return GuideMaterial(
        name=material.name,
        form=material.form.label,
        requirement=material.requirement.label,
        deferrable=material.requirement is MaterialRequirement.DEFERRABLE,
        copies="、".join(parts),
        source=material.source.label,
        notes=material.notes,
    )
