"""The service guide (办事指南) as residents and clerks read it, derived from the catalog.

Both the county portal and every node's kiosk show the same guide; this module turns catalog
items into display entries so the two cannot drift apart.
"""

from __future__ import annotations

from datetime import date

import msgspec

from shared.catalog import Catalog, Item, Material, MaterialRequirement, TimeLimit
from shared.delegation import Tier
from shared.errors import NotFoundError


class GuideMaterial(msgspec.Struct, frozen=True, kw_only=True):
    """One material line: what to bring, in what form, how many."""

    name: str
    form: str
    requirement: str
    deferrable: bool
    copies: str
    notes: str


class GuideEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One item as the guide shows it at a particular service point."""

    code: str
    name: str
    item_type: str
    project_type: str
    department: str
    promised: str
    statutory: str
    decided_here: bool
    handling_tier: str
    summary: str
    conditions: tuple[str, ...]
    materials: tuple[GuideMaterial, ...]
    legal_basis: str
    fee: str
    place: str
    hours: str
    phone: str
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
    try:
        department = catalog.department(item.lead_department).name
    except NotFoundError:
        department = item.lead_department
    return GuideEntry(
        code=item.code,
        name=item.name,
        item_type=item.item_type.label,
        project_type=item.project_type.label,
        department=department,
        promised=limit_text(item.promised),
        statutory=limit_text(item.statutory),
        decided_here=handling is here,
        handling_tier=handling.label,
        summary=item.summary,
        conditions=item.conditions,
        materials=tuple(_material(m) for m in item.materials),
        legal_basis=item.legal_basis,
        fee=(item.fee.standard or "收费") if item.fee.charged else "不收费",
        place=item.contact.address,
        hours=item.contact.hours,
        phone=item.contact.phone,
        online=item.online,
        on_site_visits=item.on_site_visits,
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
        notes=material.notes,
    )
