"""What changed between two releases: items, departments, delegations, calendar days, nodes.

The release history shows an administrator (and a supervisor asking "why did this deadline
move?") the difference between any two versions. Items and departments are matched by code and
nodes by id, so reordering alone is no change; the calendar is compared day by day by the kind
of each day (工作日、周末、节假日、调休上班日), so renaming a holiday is no change either, while
a newly added holiday or make-up day is listed with its date.

A delegation change is reported on its own (:class:`DelegationChange`) and not as a changed
field of the item, because pushing an item down is a decision of its own in the history.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, TypeVar

import msgspec

from shared.calendar import DayKind, WorkingCalendar, calendar_for
from shared.calendar_data import CalendarYear
from shared.catalog import Catalog, Department, Item
from shared.delegation import Delegation
from shared.registry import NodeRecord, Registry

_T = TypeVar("_T")

__all__ = [
    "DayChange",
    "DelegationChange",
    "FieldsChanged",
    "Named",
    "ReleaseDiff",
    "Snapshot",
    "calendar_changes",
    "diff_releases",
]

_ITEM_FIELDS = tuple(f for f in Item.__struct_fields__ if f not in ("code", "delegations"))
_DEPARTMENT_FIELDS = tuple(f for f in Department.__struct_fields__ if f != "code")
_NODE_FIELDS = tuple(f for f in NodeRecord.__struct_fields__ if f != "node_id")


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The compared parts of one release."""

    catalog: Catalog
    calendar: tuple[CalendarYear, ...]
    registry: Registry


class Named(msgspec.Struct, frozen=True, kw_only=True):
    """An item, department or node that was added or removed."""

    key: str
    name: str


class FieldsChanged(msgspec.Struct, frozen=True, kw_only=True):
    """An item, department or node present on both sides whose listed fields differ."""

    key: str
    name: str
    fields: tuple[str, ...]


class DelegationChange(msgspec.Struct, frozen=True, kw_only=True):
    """Delegations of one item that appear only on one side."""

    item_code: str
    added: tuple[Delegation, ...] = ()
    removed: tuple[Delegation, ...] = ()


class DayChange(msgspec.Struct, frozen=True, kw_only=True):
    """A day whose kind differs between the two calendars."""

    day: date
    before: DayKind
    after: DayKind


class ReleaseDiff(msgspec.Struct, frozen=True, kw_only=True):
    """Everything that differs between two releases; empty when nothing compared differs."""

    county_changed: bool = False
    items_added: tuple[Named, ...] = ()
    items_removed: tuple[Named, ...] = ()
    items_changed: tuple[FieldsChanged, ...] = ()
    delegations: tuple[DelegationChange, ...] = ()
    departments_added: tuple[Named, ...] = ()
    departments_removed: tuple[Named, ...] = ()
    departments_changed: tuple[FieldsChanged, ...] = ()
    calendar_days: tuple[DayChange, ...] = ()
    nodes_added: tuple[Named, ...] = ()
    nodes_removed: tuple[Named, ...] = ()
    nodes_changed: tuple[FieldsChanged, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Whether the two releases agree on every compared part."""
        return self == _EMPTY


_EMPTY = ReleaseDiff()


def _keyed(values: Iterable[_T], key: str) -> dict[str, _T]:
    # Duplicate keys are a validation problem of their own; the last one stands here.
    return {getattr(v, key): v for v in values}


def _differing(old: object, new: object, fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f for f in fields if getattr(old, f) != getattr(new, f))


def _compare(
    old: dict[str, Any], new: dict[str, Any], fields: tuple[str, ...]
) -> tuple[tuple[Named, ...], tuple[Named, ...], tuple[FieldsChanged, ...]]:
    added = tuple(Named(key=k, name=new[k].name) for k in new if k not in old)
    removed = tuple(Named(key=k, name=old[k].name) for k in old if k not in new)
    changed: list[FieldsChanged] = []
    for k, after in new.items():
        before = old.get(k)
        if before is None:
            continue
        differing = _differing(before, after, fields)
        if differing:
            changed.append(FieldsChanged(key=k, name=after.name, fields=differing))
    return added, removed, tuple(changed)


def _delegation_changes(old: dict[str, Item], new: dict[str, Item]) -> tuple[DelegationChange, ...]:
    changes: list[DelegationChange] = []
    # An added or removed item brings or takes its delegations along; only kept items count.
    for code in (c for c in new if c in old):
        before, after = old[code].delegations, new[code].delegations
        added = tuple(d for d in after if d not in before)
        removed = tuple(d for d in before if d not in after)
        if added or removed:
            changes.append(DelegationChange(item_code=code, added=added, removed=removed))
    return tuple(changes)


def _covered(years: tuple[CalendarYear, ...]) -> tuple[date, date] | None:
    if not years:
        return None
    return date(min(y.year for y in years), 1, 1), date(max(y.year for y in years), 12, 31)


def calendar_changes(
    old: tuple[CalendarYear, ...], new: tuple[CalendarYear, ...]
) -> tuple[DayChange, ...]:
    """Days, over the years either side publishes, whose kind differs between the two.

    A year published on one side only is compared against the provisional rule the other side
    applies outside its coverage, so adding next year's notice lists exactly the days the
    notice decided differently from that guess (the lunar holidays and the 调休 days).
    Both sides must be valid calendars (every release's is).
    """
    spans = [s for s in (_covered(old), _covered(new)) if s is not None]
    if not spans or old == new:
        return ()
    first = min(s[0] for s in spans)
    last = max(s[1] for s in spans)
    before_cal = _calendar(old)
    after_cal = _calendar(new)
    changes: list[DayChange] = []
    day = first
    while day <= last:
        before, after = _kind(before_cal, day), _kind(after_cal, day)
        if before is not after:
            changes.append(DayChange(day=day, before=before, after=after))
        day += timedelta(days=1)
    return tuple(changes)


def _calendar(years: tuple[CalendarYear, ...]) -> WorkingCalendar | None:
    return calendar_for(years) if years else None


def _kind(calendar: WorkingCalendar | None, day: date) -> DayKind:
    if calendar is None:
        return DayKind.WORKDAY if day.weekday() < 5 else DayKind.WEEKEND
    return calendar.day_kind(day)


def diff_releases(old: Snapshot, new: Snapshot) -> ReleaseDiff:
    """The difference from ``old`` to ``new`` (added means present in ``new`` only)."""
    old_items = _keyed(old.catalog.items, "code")
    new_items = _keyed(new.catalog.items, "code")
    items_added, items_removed, items_changed = _compare(old_items, new_items, _ITEM_FIELDS)
    deps_added, deps_removed, deps_changed = _compare(
        _keyed(old.catalog.departments, "code"),
        _keyed(new.catalog.departments, "code"),
        _DEPARTMENT_FIELDS,
    )
    nodes_added, nodes_removed, nodes_changed = _compare(
        _keyed(old.registry.nodes, "node_id"),
        _keyed(new.registry.nodes, "node_id"),
        _NODE_FIELDS,
    )
    return ReleaseDiff(
        county_changed=old.catalog.county != new.catalog.county,
        items_added=items_added,
        items_removed=items_removed,
        items_changed=items_changed,
        delegations=_delegation_changes(old_items, new_items),
        departments_added=deps_added,
        departments_removed=deps_removed,
        departments_changed=deps_changed,
        calendar_days=calendar_changes(old.calendar, new.calendar),
        nodes_added=nodes_added,
        nodes_removed=nodes_removed,
        nodes_changed=nodes_changed,
    )
