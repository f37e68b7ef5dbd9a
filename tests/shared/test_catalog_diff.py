"""The difference between two releases (shared/catalog_diff.py)."""

from __future__ import annotations

from datetime import date
from importlib.resources import files

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.calendar import DayKind
from shared.calendar_data import YEAR_2025, YEAR_2026, CalendarYear, HolidayRange
from shared.catalog import Catalog, Department, Item, TimeLimit, decode_catalog
from shared.catalog_diff import Snapshot, calendar_changes, diff_releases
from shared.delegation import Delegation, DelegationMode, Tier
from shared.registry import NodeRecord, NodeStatus, Registry
from tests.factories import registry_for

REGISTRY = registry_for({})

# 2027 as a notice might publish it: 国庆 adds 10-04..10-07 (weekdays) and a make-up Saturday.
YEAR_2027 = CalendarYear(
    year=2027,
    holidays=(
        HolidayRange(name="元旦", first=date(2027, 1, 1), last=date(2027, 1, 1)),
        HolidayRange(name="劳动节", first=date(2027, 5, 1), last=date(2027, 5, 2)),
        HolidayRange(name="国庆节", first=date(2027, 10, 1), last=date(2027, 10, 7)),
    ),
    makeup_workdays=(date(2027, 10, 9),),
)


def snap(
    catalog: Catalog,
    calendar: tuple[CalendarYear, ...] = (YEAR_2025, YEAR_2026),
    registry: Registry = REGISTRY,
) -> Snapshot:
    return Snapshot(catalog=catalog, calendar=calendar, registry=registry)


def test_same_release_has_an_empty_diff(demo_catalog: Catalog) -> None:
    diff = diff_releases(snap(demo_catalog), snap(demo_catalog))
    assert diff.is_empty


def test_added_removed_and_changed_items_are_named(demo_catalog: Catalog) -> None:
    first, second, *rest = demo_catalog.items
    changed = msgspec.structs.replace(
        second, name=second.name + "（新）", promised=TimeLimit(days=1), legal_basis="新依据"
    )
    added = msgspec.structs.replace(first, code="NEW1", name="新增事项")
    new = msgspec.structs.replace(demo_catalog, items=(changed, *rest, added))
    diff = diff_releases(snap(demo_catalog), snap(new))
    assert [(n.key, n.name) for n in diff.items_added] == [("NEW1", "新增事项")]
    assert [n.key for n in diff.items_removed] == [first.code]
    assert len(diff.items_changed) == 1
    assert diff.items_changed[0].key == second.code
    assert set(diff.items_changed[0].fields) == {"name", "promised", "legal_basis"}
    assert not diff.delegations and not diff.calendar_days and not diff.is_empty


def test_reordering_items_is_no_change(demo_catalog: Catalog) -> None:
    new = msgspec.structs.replace(demo_catalog, items=tuple(reversed(demo_catalog.items)))
    assert diff_releases(snap(demo_catalog), snap(new)).is_empty


def test_delegations_are_reported_apart_from_item_fields(demo_catalog: Catalog) -> None:
    item = next(i for i in demo_catalog.items if i.home_tier is Tier.COUNTY)
    extra = Delegation(
        mode=DelegationMode.WINDOW_FORWARD,
        tier=Tier.TOWNSHIP,
        node_ids=("zhen-shifan",),
        effective_from=date(2026, 4, 1),
    )
    dropped = item.delegations[:1]
    changed = msgspec.structs.replace(item, delegations=(*item.delegations[1:], extra))
    new = _with_item(demo_catalog, changed)
    diff = diff_releases(snap(demo_catalog), snap(new))
    assert not diff.items_changed
    (change,) = diff.delegations
    assert change.item_code == item.code
    assert change.added == (extra,)
    assert change.removed == dropped


def test_departments_and_county_are_compared(demo_catalog: Catalog) -> None:
    dep = demo_catalog.departments[0]
    new = msgspec.structs.replace(
        demo_catalog,
        county=msgspec.structs.replace(demo_catalog.county, name="另一个县"),
        departments=(
            msgspec.structs.replace(dep, name="改名后的部门"),
            *demo_catalog.departments[1:],
            Department(code="D-NEW", name="新部门", tier=Tier.COUNTY),
        ),
    )
    diff = diff_releases(snap(demo_catalog), snap(new))
    assert diff.county_changed
    assert [d.key for d in diff.departments_added] == ["D-NEW"]
    assert [(d.key, d.fields) for d in diff.departments_changed] == [(dep.code, ("name",))]


def test_a_new_holiday_shows_as_changed_days(demo_catalog: Catalog) -> None:
    holidays = (
        *YEAR_2026.holidays,
        HolidayRange(name="临时", first=date(2026, 3, 9), last=date(2026, 3, 10)),
    )
    changed_2026 = msgspec.structs.replace(YEAR_2026, holidays=holidays)
    diff = diff_releases(snap(demo_catalog), snap(demo_catalog, (YEAR_2025, changed_2026)))
    assert [(c.day, c.before, c.after) for c in diff.calendar_days] == [
        (date(2026, 3, 9), DayKind.WORKDAY, DayKind.HOLIDAY),
        (date(2026, 3, 10), DayKind.WORKDAY, DayKind.HOLIDAY),
    ]


def test_adding_next_year_lists_only_what_the_notice_decided() -> None:
    days = calendar_changes((YEAR_2025, YEAR_2026), (YEAR_2025, YEAR_2026, YEAR_2027))
    # 1 Jan, 1-2 May and 1-3 Oct were already provisional holidays; the rest is new.
    assert {(c.day, c.after) for c in days} == {
        (date(2027, 10, 4), DayKind.HOLIDAY),
        (date(2027, 10, 5), DayKind.HOLIDAY),
        (date(2027, 10, 6), DayKind.HOLIDAY),
        (date(2027, 10, 7), DayKind.HOLIDAY),
        (date(2027, 10, 9), DayKind.MAKEUP),
    }


def test_renaming_a_holiday_is_no_change() -> None:
    renamed = msgspec.structs.replace(
        YEAR_2026,
        holidays=tuple(
            msgspec.structs.replace(h, name=h.name + "假期") for h in YEAR_2026.holidays
        ),
        source="另一个来源",
    )
    assert calendar_changes((YEAR_2025, YEAR_2026), (YEAR_2025, renamed)) == ()


def test_nodes_added_removed_and_changed() -> None:
    county, township, community = REGISTRY.nodes
    revoked = msgspec.structs.replace(community, status=NodeStatus.REVOKED, status_reason="撤销")
    added = NodeRecord(
        node_id="zhen-two", name="二镇", tier=Tier.TOWNSHIP, parent="county", short_code="EZ"
    )
    new = Registry(nodes=(county, revoked, added))
    old = Registry(nodes=(county, township, community))
    diff = diff_releases(
        Snapshot(catalog=_tiny(), calendar=(YEAR_2026,), registry=old),
        Snapshot(catalog=_tiny(), calendar=(YEAR_2026,), registry=new),
    )
    assert [n.key for n in diff.nodes_added] == ["zhen-two"]
    assert [n.key for n in diff.nodes_removed] == [township.node_id]
    assert [(n.key, set(n.fields)) for n in diff.nodes_changed] == [
        (community.node_id, {"status", "status_reason"})
    ]


# --- properties -------------------------------------------------------------------------------


def _tiny() -> Catalog:
    return decode_catalog((files("tongban") / "demo_catalog.json").read_bytes())


def _with_item(catalog: Catalog, item: Item) -> Catalog:
    return msgspec.structs.replace(
        catalog, items=tuple(item if i.code == item.code else i for i in catalog.items)
    )


_BASE = _tiny()
_CALENDARS = (
    (YEAR_2025, YEAR_2026),
    (YEAR_2026,),
    (YEAR_2025, YEAR_2026, YEAR_2027),
    (
        YEAR_2025,
        msgspec.structs.replace(
            YEAR_2026,
            makeup_workdays=(*YEAR_2026.makeup_workdays, date(2026, 3, 7)),
        ),
    ),
)


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    items = list(_BASE.items)
    keep = draw(st.lists(st.booleans(), min_size=len(items), max_size=len(items)))
    chosen: list[Item] = []
    for original, kept in zip(items, keep, strict=True):
        if not kept:
            continue
        item = original
        if draw(st.booleans()):
            item = msgspec.structs.replace(
                item, warning_days=draw(st.integers(min_value=0, max_value=2))
            )
        if draw(st.booleans()):
            item = msgspec.structs.replace(
                item,
                delegations=(
                    *item.delegations,
                    Delegation(
                        mode=draw(st.sampled_from(list(DelegationMode))),
                        tier=Tier.COMMUNITY,
                        effective_from=date(2026, 5, draw(st.integers(1, 2))),
                    ),
                ),
            )
        chosen.append(item)
    if draw(st.booleans()):
        chosen.reverse()
    nodes = REGISTRY.nodes[: draw(st.integers(min_value=1, max_value=len(REGISTRY.nodes)))]
    if draw(st.booleans()):
        nodes = (*nodes[:-1], msgspec.structs.replace(nodes[-1], public_key="ed25519:x"))
    return Snapshot(
        catalog=msgspec.structs.replace(_BASE, items=tuple(chosen)),
        calendar=draw(st.sampled_from(_CALENDARS)),
        registry=Registry(nodes=nodes),
    )


def _compared(s: Snapshot) -> tuple[object, ...]:
    days = tuple((c.day, c.after) for c in calendar_changes(_CALENDARS[0], s.calendar))
    return (
        s.catalog.county,
        {i.code: msgspec.json.encode(i) for i in s.catalog.items},
        {d.code: d for d in s.catalog.departments},
        days,
        {n.node_id: n for n in s.registry.nodes},
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_diff_with_itself_is_empty(a: Snapshot) -> None:
    assert diff_releases(a, a).is_empty


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), snapshots())
def test_diff_is_empty_exactly_when_the_compared_parts_agree(a: Snapshot, b: Snapshot) -> None:
    assert diff_releases(a, b).is_empty == (_compared(a) == _compared(b))


@pytest.mark.parametrize("calendar", _CALENDARS)
def test_calendar_changes_are_symmetric(calendar: tuple[CalendarYear, ...]) -> None:
    forward = calendar_changes(_CALENDARS[0], calendar)
    backward = calendar_changes(calendar, _CALENDARS[0])
    assert [(c.day, c.before, c.after) for c in forward] == [
        (c.day, c.after, c.before) for c in backward
    ]
