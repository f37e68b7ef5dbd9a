"""Projection in helper processes writes exactly what projection on the event loop writes, and
survives a helper that dies or fails."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.calendar import official_calendar
from shared.registry import COUNTY_NODE_ID, Registry
from sync.envelope import open_body
from sync.memory_store import MemoryStore
from sync.projection import ProjectionContext, project_case
from sync.projection_helpers import (
    CaseJob,
    Helper,
    HelperContext,
    HelperLostError,
    ProjectionHelpers,
    auto_helpers,
)
from sync.replica import Replica
from sync.store import LogEntry, SyncStore
from tests.sync.test_verify import EAST, WEST, Net, make_net, rated
from tests.sync.tree import (
    CATALOG,
    accepted,
    build_tree,
    decided,
    forwarded,
    new_case_id,
    received,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def helpers() -> Iterator[ProjectionHelpers]:
    """Two helpers for the module (starting one takes a fraction of a second), slices of 3."""
    pool = ProjectionHelpers(2, slice_cases=3)
    yield pool
    pool.close()


def replica(net: Net, helpers: ProjectionHelpers | None) -> Replica:
    made = net.replica()
    if helpers is not None:
        made._helpers = helpers
    return made


def mixed_backlog(net: Net, count: int = 12) -> tuple[list[Any], list[str]]:
    """Cases of two communities, interleaved: handed over, decided by a community that may not,
    rated; and one forged record half-way that quarantines its origin."""
    east, west = net.writer(EAST), net.writer(WEST)
    cases = [new_case_id() for _ in range(count)]
    envelopes = []
    for number, case_id in enumerate(cases):
        writer, node = (east, EAST) if number % 2 else (west, WEST)
        envelopes.append(writer.write(case_id, received(case_id, node), accepted(case_id, node)))
    for number, case_id in enumerate(cases):
        writer, node = (east, EAST) if number % 2 else (west, WEST)
        if number % 3 == 0:
            envelopes.append(writer.write(case_id, forwarded(case_id, node, EAST, "community")))
        if number % 4 == 1:
            envelopes.append(writer.write(case_id, decided(case_id, node)))  # not delegated
        if number in (1, 7):
            envelopes.append(east.forge(case_id, lambda _doc, array: array.append("不是事件")))
        envelopes.append(writer.write(case_id, rated(case_id, node)))
    return envelopes, cases


async def snapshot(store: SyncStore, cases: list[str]) -> dict[str, Any]:
    """Everything projection writes, in a comparable form."""
    return {
        "rows": await store.case_rows(cases),
        "states": await store.case_states(cases),
        "parties": await store.case_parties(cases),
        "quarantined": await store.quarantined(),
        "rejections": sorted(
            (r.origin, r.seq, r.reason, r.detail, r.case_id) for r in await store.rejections()
        ),
        "feed": {
            child: [(e.origin, e.seq) for _, e in await store.feed_after(child, 0, 10_000)]
            for child in (EAST, WEST)
        },
        "watermark": await store.watermark(),
    }


async def projected(net: Net, pool: ProjectionHelpers | None, envelopes: list[Any]) -> Replica:
    made = replica(net, pool)
    await made.receive(envelopes, project=False)
    await made.project()
    assert await made.backlog() == 0
    return made


async def test_helpers_project_what_the_loop_projects(helpers: ProjectionHelpers) -> None:
    net = make_net()
    envelopes, cases = mixed_backlog(net)
    loop_only = await projected(net, None, envelopes)
    helped = await projected(net, helpers, envelopes)
    expected = await snapshot(loop_only.store, cases)
    assert expected["quarantined"] and expected["rejections"]
    assert any(row.flags for row in expected["rows"].values())  # the unauthorised decisions
    assert await snapshot(helped.store, cases) == expected
    assert len(await helpers.available()) == 2  # they did take part (and are still there)


async def test_a_helper_returns_the_outcomes_of_project_case(helpers: ProjectionHelpers) -> None:
    net = make_net()
    envelopes, _ = mixed_backlog(net)
    by_case: dict[str, list[LogEntry]] = {}
    for envelope in envelopes:
        entry = LogEntry.of(envelope, open_body(envelope))
        by_case.setdefault(entry.case_id, []).append(entry)
    jobs = [CaseJob(case_id, None, entries, None, []) for case_id, entries in by_case.items()]
    ctx = net.replica()._context()
    barred = {WEST: ("测试隔离", 5)}
    (helper, *_) = await helpers.available()
    got = await helpers.project(helper, jobs, ctx, barred)
    expected = [
        project_case(job.case_id, None, job.entries, ctx, quarantined=barred) for job in jobs
    ]
    assert any(o.rejections for o in expected) and any(o.quarantines for o in expected)
    assert [vars(o) for o in got] == [vars(o) for o in expected]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_helpers_agree_with_the_loop_for_any_order_and_chunking(
    helpers: ProjectionHelpers, data: st.DataObject, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = make_net()
    envelopes, cases = mixed_backlog(net, count=data.draw(st.integers(4, 14)))
    # Any order, duplicates included: what is held, rejected or pending must match too.
    order = data.draw(st.permutations(envelopes))
    extra = data.draw(st.lists(st.sampled_from(envelopes), max_size=4))
    received_ = [*order, *extra]
    chunk = data.draw(st.sampled_from([2, 5, 10_000]))

    async def both() -> None:
        loop_only = await projected_any(net, None, received_)
        helped = await projected_any(net, helpers, received_)
        assert await snapshot(helped.store, cases) == await snapshot(loop_only.store, cases)

    with monkeypatch.context() as patched:
        patched.setattr("sync.replica.PROJECTION_CHUNK", chunk)
        anyio.run(both)


async def projected_any(net: Net, pool: ProjectionHelpers | None, envelopes: list[Any]) -> Replica:
    """Like :func:`projected`, for a backlog that may hold envelopes back (gaps)."""
    made = replica(net, pool)
    await made.receive(envelopes, project=False)
    await made.project()
    return made


async def test_a_helper_that_dies_leaves_its_work_to_the_loop() -> None:
    pool = ProjectionHelpers(1, slice_cases=2)
    try:
        net = make_net()
        envelopes, cases = mixed_backlog(net)
        (helper,) = await pool.available()
        helper._process.kill()
        helper._process.join()
        loop_only = await projected(net, None, envelopes)
        helped = await projected(net, pool, envelopes)
        assert await snapshot(helped.store, cases) == await snapshot(loop_only.store, cases)
        assert helper.lost and await pool.available() == []
    finally:
        pool.close()


async def test_a_dead_helper_is_reported_as_lost() -> None:
    pool = ProjectionHelpers(1)
    try:
        (helper,) = await pool.available()
        helper._process.kill()
        helper._process.join()
        with pytest.raises(HelperLostError):
            await pool.project(helper, [], context(), {})
    finally:
        pool.close()


async def test_a_failure_in_a_helper_is_raised_with_its_traceback(
    helpers: ProjectionHelpers,
) -> None:
    (helper, *_) = await helpers.available()
    job = CaseJob(
        case_id=new_case_id(), state=b"not a pycrdt state", entries=[], previous_view=None, retry=[]
    )
    with pytest.raises(RuntimeError, match="projection failed in a helper process"):
        await helpers.project(helper, [job], context(), {})
    # The helper answered with the failure and goes on working.
    assert await helpers.project(helper, [], context(), {}) == []


async def test_the_context_travels_once_and_a_catalog_when_first_needed() -> None:
    pool = ProjectionHelpers(1, slice_cases=2)
    sent: list[HelperContext] = []
    context_for = pool._context_for

    def recorded(helper: Helper, ctx: ProjectionContext) -> bytes | None:
        data = context_for(helper, ctx)
        if data is not None:
            sent.append(pickle.loads(data))
        return data

    pool._context_for = recorded  # type: ignore[method-assign]
    try:
        net = make_net()
        east = net.writer(EAST)
        first = [new_case_id() for _ in range(6)]
        helped = replica(net, pool)
        await helped.receive([east.write(c, received(c, EAST)) for c in first])
        # First without catalogs; the helper asks for version 1 and gets it with the context.
        assert [sorted(c.catalogs) for c in sent] == [[], [1]]
        assert sent[1].catalogs[1] == CATALOG and sent[1].registry == net.registry
        # A new registry (a new release) travels once more, with the catalog.
        net.registry = Registry(nodes=net.registry.nodes)
        later = [new_case_id() for _ in range(6)]
        await helped.receive([east.write(c, received(c, EAST)) for c in later])
        assert [sorted(c.catalogs) for c in sent] == [[], [1], [1]]
        logged = [e.envelope for e in await helped.store.log_after(0, 1_000)]
        loop_only = await projected(net, None, logged)
        assert await snapshot(helped.store, first + later) == await snapshot(
            loop_only.store, first + later
        )
    finally:
        pool.close()


def context() -> ProjectionContext:
    return ProjectionContext(
        node_id=EAST,
        registry=Registry(nodes=()),
        catalog_for=lambda _version: None,
        calendar=official_calendar(),
        now=datetime(2026, 11, 23, tzinfo=UTC),
    )


def test_auto_helpers_leave_one_core_to_the_loop() -> None:
    assert 0 <= auto_helpers() <= 3


async def test_no_helpers_means_the_loop_alone() -> None:
    pool = ProjectionHelpers(0)
    net = make_net()
    envelopes, cases = mixed_backlog(net)
    helped = await projected(net, pool, envelopes)
    loop_only = await projected(net, None, envelopes)
    assert await snapshot(helped.store, cases) == await snapshot(loop_only.store, cases)
    assert await pool.available() == []


async def test_a_push_projected_while_it_arrives_equals_a_rebuild_from_the_log(
    store: SyncStore, helpers: ProjectionHelpers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A township pushes 30 cases in rounds of 7 envelopes to a county whose helpers start
    # projecting after every 10 logged entries, while the rounds keep coming.
    monkeypatch.setattr("sync.replica.HELPED_PROJECTION_CHUNK", 10)
    tree = build_tree(lambda name: store if name == COUNTY_NODE_ID else MemoryStore(), batch_size=7)
    county = tree.county.replica
    county._helpers = helpers
    town = tree.township
    cases = [new_case_id() for _ in range(30)]
    for case_id in cases:
        await town.record(case_id, received(case_id, town.node_id), accepted(case_id, town.node_id))
    for case_id in cases[::2]:
        await town.record(case_id, rated(case_id, town.node_id))
    assert town.client is not None
    report = await town.client.sync_once()
    assert report.accepted == report.pushed == 45
    await wait_projected(county)
    projected_rows = await store.case_rows(cases)
    assert len(projected_rows) == 30
    # The same log projected again on the loop alone, from nothing.
    await store.reset_projection()
    county._helpers = None
    await county.project()
    assert await store.case_rows(cases) == projected_rows


async def wait_projected(replica: Replica) -> None:
    for _ in range(500):
        task = replica._projector
        if (task is None or task.done()) and await replica.backlog() == 0:
            return
        await anyio.sleep(0.01)
    raise AssertionError("the county did not finish projecting")
