"""Urges: county → handling node (which then goes offline) → the clerk's answer back up.

The county replica of the in-process tree (tests/sync/tree.py) stores into a real county
database, so the urge service, its SQL and the replication feed are the production ones.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from central.db.engine import close_database, make_engine, open_database
from central.db.sync_store import PiccoloSyncStore
from central.services.accounts import CountyRole, CountyUser
from central.services.urges import UrgeForm, UrgeService, check_form
from node.services.reminders import reminder_conditions
from shared.calendar import official_calendar
from shared.catalog import Catalog
from shared.errors import InvalidError, NotFoundError, PermissionDeniedError, ValidationError
from shared.events import UrgeAnswered
from shared.hlc import Hlc
from shared.registry import Registry
from sync.memory_store import MemoryStore
from sync.projection import decode_view
from tests.sync.tree import CATALOG, NOW, Tree, accepted, build_tree, new_case_id, received

pytestmark = pytest.mark.anyio

CAL = official_calendar()
SUPERVISOR = CountyUser(
    user_id=1,
    username="jiancha",
    name="监察员",
    roles=frozenset({CountyRole.SUPERVISOR}),
    home_node="county",
)


@dataclass
class Release:
    catalog: Catalog


class Releases:
    """What the urge service asks of the release service, for the tree's registry."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def calendar_now(self) -> Any:
        return CAL

    def registry_now(self) -> Registry:
        return self._registry

    def cached(self) -> Release:
        return Release(CATALOG)


@dataclass
class Setup:
    tree: Tree
    urges: UrgeService
    engine: Any


@pytest.fixture
async def setup(tmp_path: Path, central_database_url: str | None) -> AsyncIterator[Setup]:
    engine = make_engine(central_database_url, tmp_path / "central.sqlite")
    await open_database(engine)
    tree = build_tree(lambda node: PiccoloSyncStore(engine) if node == "county" else MemoryStore())
    assert tree.registry is not None
    service = UrgeService(engine, tree.county.replica, Releases(tree.registry), lambda: NOW)  # type: ignore[arg-type]
    try:
        yield Setup(tree, service, engine)
    finally:
        await close_database(engine)


def form(kind: str, target: str, request_id: str | None = None, **changes: Any) -> UrgeForm:
    values: dict[str, Any] = {
        "target_kind": kind,
        "target": target,
        "level": "formal",
        "content": "请于3个工作日内办结并反馈",
        "feedback_days": 3,
        "request_id": request_id or str(uuid.uuid4()),
    }
    return UrgeForm(**(values | changes))


async def township_case(s: Setup, receipt: str = "SFZ-20260302-0001-X") -> str:
    case = new_case_id()
    await s.tree.township.record(
        case, received(case, "zhen-shifan"), accepted(case, "zhen-shifan", receipt)
    )
    await s.tree.township.sync()
    return case


async def test_urge_reaches_an_offline_node_and_its_answer_closes_it(setup: Setup) -> None:
    s, township = setup, setup.tree.township
    case = await township_case(s)
    result = await s.urges.urge(SUPERVISOR, form("case", case))
    assert len(result.recorded) == 1 and result.feedback_due == date(2026, 3, 5)
    [urge_id] = result.recorded

    await township.sync()
    township.link_up = False  # the township loses the county from here on
    row = (await township.store.case_rows([case]))[case]
    state = decode_view(row.state_json).state
    assert [(u.urge_id, u.by_unit, u.feedback_due) for u in state.open_urges] == [
        (urge_id, "示范县政务服务中心", date(2026, 3, 5))
    ]
    reminders = reminder_conditions(state, row, CAL, date(2026, 3, 4))
    assert [(r.kind, r.subject) for r in reminders if r.kind.startswith("urge")] == [
        ("urge_due", urge_id)
    ]
    with pytest.raises(Exception):  # noqa: B017 - the link is down
        await township.sync()

    await township.record(
        case,
        lambda hlc: UrgeAnswered(
            id=str(uuid.uuid4()),
            case_id=case,
            node_id="zhen-shifan",
            actor="clerk",
            hlc=hlc,
            urge_id=urge_id,
            answer="已于当日办结",
        ),
    )
    [before] = await s.urges.urges(SUPERVISOR)
    assert (before.answered, before.status_label) == (False, "待反馈")

    township.link_up = True
    await township.sync()
    county_row = (await s.tree.county.store.case_rows([case]))[case]
    assert decode_view(county_row.state_json).state.open_urges == ()
    [after] = await s.urges.urges(SUPERVISOR)
    assert (after.urge_id, after.answered, after.status_label) == (urge_id, True, "已反馈")


async def test_node_urge_records_one_event_per_open_case_once(setup: Setup) -> None:
    s = setup
    cases = {await township_case(s, f"SFZ-20260302-000{i}-X") for i in (1, 2)}
    request = str(uuid.uuid4())
    first = await s.urges.urge(SUPERVISOR, form("node", "zhen-shifan", request))
    assert len(first.recorded) == 2
    again = await s.urges.urge(SUPERVISOR, form("node", "zhen-shifan", request))
    assert (again.recorded, sorted(again.already)) == ([], sorted(first.recorded))
    listed = await s.urges.urges(SUPERVISOR)
    assert {u.case_id for u in listed} == cases and all(u.target_kind == "node" for u in listed)
    rows = await s.tree.county.store.case_rows(cases)
    assert all(len(decode_view(r.state_json).state.open_urges) == 1 for r in rows.values())


async def test_department_urge_reaches_the_items_of_that_department(setup: Setup) -> None:
    s = setup
    case = await township_case(s)
    department = CATALOG.item("X19").lead_department
    result = await s.urges.urge(SUPERVISOR, form("department", department))
    assert len(result.recorded) == 1
    assert (await s.urges.urges(SUPERVISOR))[0].case_id == case
    with pytest.raises(NotFoundError):
        await s.urges.urge(SUPERVISOR, form("department", "no-such-dept"))


async def test_township_supervisor_cannot_urge_outside_its_subtree(setup: Setup) -> None:
    s = setup
    case = await township_case(s)
    other = CountyUser(
        user_id=2,
        username="beishan",
        name="北山监察",
        roles=frozenset({CountyRole.SUPERVISOR}),
        home_node="zhen-beishan",
        visible=frozenset({"zhen-beishan"}),
    )
    with pytest.raises(NotFoundError):
        await s.urges.urge(other, form("case", case))
    with pytest.raises(PermissionDeniedError):
        await s.urges.urge(other, form("node", "zhen-shifan"))
    own = CountyUser(**{**other.__dict__, "visible": frozenset({"zhen-shifan", "she-dongcun"})})
    assert len((await s.urges.urge(own, form("case", case))).recorded) == 1
    assert await s.urges.urges(other) == []


async def test_bad_forms_and_finished_or_empty_targets_are_refused(setup: Setup) -> None:
    s = setup
    problems = check_form(form("case", "", content="", feedback_days=0, level="x"))
    assert len(problems) == 4
    with pytest.raises(ValidationError):
        await s.urges.urge(SUPERVISOR, form("case", "x", feedback_days=99))
    with pytest.raises(InvalidError):
        await s.urges.urge(SUPERVISOR, form("node", "she-dongcun"))
    with pytest.raises(NotFoundError):
        await s.urges.urge(SUPERVISOR, form("case", "no-such-case"))


def test_feedback_due_counts_working_days() -> None:
    from datetime import UTC, datetime

    service = UrgeService(None, None, Releases(Registry(nodes=())), lambda: NOW)  # type: ignore[arg-type]
    # Friday 2026-03-06 + 1 working day is Monday 2026-03-09
    assert service.feedback_due(1, date(2026, 3, 6)) == date(2026, 3, 9)
    assert service.feedback_due(3) == date(2026, 3, 5)
    assert Hlc(0, 0) < Hlc(1, 0)
    assert datetime(2026, 3, 2, tzinfo=UTC) < NOW
