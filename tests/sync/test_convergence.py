"""Convergence of the county → township → community tree under random operations.

Each scenario is a list of operations drawn by hypothesis: records at every tier, syncs on
random links (sometimes twice in a row), links cut and restored, responses lost after the parent
committed, and old envelopes re-sent out of band. At the end every link is healed and the tree
synced until nothing moves, and then every tier that holds a case must hold the same envelopes
and project the same row, the county must hold every case, and nothing may be held or rejected.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from shared.errors import UnavailableError
from shared.events import CaseEvent, Rated, RatingChannel, Satisfaction
from shared.hlc import Hlc
from sync.client import SyncClient
from sync.reasons import Outcome
from tests.sync.tree import (
    NOW,
    Member,
    Tree,
    accepted,
    build_tree,
    decided,
    forwarded,
    new_case_id,
    received,
    transport_to,
    urged,
)

COUNTY, TOWN, COMMUNITY = "county", "zhen-shifan", "she-dongcun"
DECIDER = {"X19": TOWN, "X12": TOWN, "X02": COUNTY}
"""Who decides each item used here (catalog: X19/X12 township, X02 county)."""


# -- a transport that can lose the response after the parent has committed --------------------


class Flaky(httpx.AsyncBaseTransport):
    """Passes requests to the parent; loses the next ``lose`` responses on the way back."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lose = 0
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        response = await self.inner.handle_async_request(request)
        if self.lose:
            self.lose -= 1
            await response.aread()
            raise httpx.ReadError("connection reset after the parent answered", request=request)
        return response


def flaky_tree(batch_size: int = 2) -> tuple[Tree, dict[str, Flaky]]:
    """The in-process tree with small batches and a :class:`Flaky` transport on each link."""
    tree = build_tree(batch_size=batch_size)
    flaky: dict[str, Flaky] = {}
    for member in (tree.community, tree.township):
        assert member.parent is not None
        transport = Flaky(transport_to(member, member.parent, lambda: NOW))
        flaky[member.node_id] = transport
        member.client = SyncClient(
            member.replica,
            parent_url=f"http://{member.parent.node_id}.test",
            key=member.key,
            clock=lambda: NOW,
            release_version=lambda: None,
            install_release=lambda raw: None,
            transport=transport,
            batch_size=batch_size,
            pull_limit=batch_size,
        )
    return tree, flaky


def rated(case_id: str, node_id: str) -> Callable[[Hlc], CaseEvent]:
    return lambda hlc: Rated(
        id=str(uuid.uuid4()),
        case_id=case_id,
        node_id=node_id,
        actor="kiosk",
        hlc=hlc,
        level=Satisfaction(4),
        channel=RatingChannel.HALL_TABLET,
    )


# -- the scenario ------------------------------------------------------------------------------


@dataclass
class Case:
    case_id: str
    origin: str
    item: str
    forwarded: bool = False
    decided: bool = False


@dataclass
class Scenario:
    """Runs operations against a tree and remembers what it did."""

    tree: Tree
    flaky: dict[str, Flaky]
    rng: random.Random
    restricted: bool
    cases: list[Case] = field(default_factory=list)
    receipts: int = 0

    def member(self, node_id: str) -> Member:
        return self.tree[node_id]

    async def holds(self, node_id: str, case: Case) -> bool:
        return bool(await self.member(node_id).store.case_rows([case.case_id]))

    def pick(self, index: int) -> Case | None:
        return self.cases[index % len(self.cases)] if self.cases else None

    async def run(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        await getattr(self, f"op_{kind}")(*op[1:])

    # records

    async def op_new_case(self, at_township: bool, item_choice: int) -> None:
        if at_township and not self.restricted:
            node, item = TOWN, ("X12", "X02")[item_choice % 2]
        else:
            node, item = COMMUNITY, "X19"
        case = Case(new_case_id(), node, item)
        self.receipts += 1
        receipt = f"{'SFZ' if node == TOWN else 'DCS'}-20260302-{self.receipts:04d}-X"
        await self.member(node).record(
            case.case_id,
            received(case.case_id, node, item),
            accepted(case.case_id, node, receipt),
        )
        self.cases.append(case)

    async def op_forward(self, index: int) -> None:
        case = self.pick(index)
        if case is None or case.forwarded or case.decided or DECIDER[case.item] == case.origin:
            return
        to = DECIDER[case.item]
        tier = "county" if to == COUNTY else "township"
        await self.member(case.origin).record(
            case.case_id, forwarded(case.case_id, case.origin, to, tier)
        )
        case.forwarded = True

    async def op_decide(self, index: int) -> None:
        case = self.pick(index)
        if case is None or case.decided:
            return
        decider = DECIDER[case.item]
        if not await self.holds(decider, case):
            return
        await self.member(decider).record(case.case_id, decided(case.case_id, decider))
        case.decided = True

    async def op_urge(self, index: int) -> None:
        case = self.pick(index)
        if case is None or not await self.holds(COUNTY, case):
            return
        if self.restricted and not await self._county_write_goes_straight_down():
            return
        urge = f"u-{uuid.uuid4().hex[:8]}"
        await self.tree.county.record(case.case_id, urged(case.case_id, COUNTY, urge))
        if self.restricted:
            await self.tree.township.sync()

    async def op_rate(self, index: int, tier: int) -> None:
        case = self.pick(index)
        node = (COMMUNITY, TOWN, COUNTY)[tier % 3]
        if case is None or not await self.holds(node, case):
            return
        if node == COUNTY and self.restricted and not await self._county_write_goes_straight_down():
            return
        await self.member(node).record(case.case_id, rated(case.case_id, node))
        if node == COUNTY and self.restricted:
            await self.tree.township.sync()

    async def _county_write_goes_straight_down(self) -> bool:
        """Restricted runs let the county write only when the township pulls it at once."""
        township = self.tree.township
        if not township.link_up:
            return False
        await township.sync()  # first drain what is already waiting
        return True

    # links

    async def op_sync(self, child: int, twice: bool) -> None:
        member = (self.tree.community, self.tree.township)[child % 2]
        for _ in range(2 if twice else 1):
            try:
                await member.sync()
            except UnavailableError:
                assert not member.link_up

    async def op_drop(self, child: int) -> None:
        member = (self.tree.community, self.tree.township)[child % 2]
        if not member.link_up:
            return
        transport = self.flaky[member.node_id]
        transport.lose = 1
        with pytest.raises(UnavailableError):
            await member.sync()
        assert transport.lose == 0

    async def op_cut(self, child: int) -> None:
        (self.tree.community, self.tree.township)[child % 2].link_up = False

    async def op_restore(self, child: int) -> None:
        (self.tree.community, self.tree.township)[child % 2].link_up = True

    # re-sending

    async def op_refeed(self, tier: int) -> None:
        """Old envelopes a tier already holds, shuffled and re-sent: all duplicates."""
        member = (self.tree.community, self.tree.township, self.tree.county)[tier % 3]
        log = await member.store.log_after(0, 100_000)
        if not log:
            return
        sample = self.rng.sample(log, k=self.rng.randint(1, len(log)))
        results = await member.replica.receive([e.envelope for e in sample])
        assert {r.outcome for r in results} == {Outcome.DUPLICATE}

    async def op_resend_up(self, child: int) -> None:
        """A child's whole push history delivered again to its parent, in order."""
        member = (self.tree.community, self.tree.township)[child % 2]
        assert member.parent is not None
        entries, _ = await member.replica.outgoing(0, 100_000)
        results = await member.parent.replica.receive([e.envelope for e in entries])
        assert {r.outcome for r in results} <= {Outcome.ACCEPTED, Outcome.DUPLICATE}

    async def op_resend_down(self, child: int) -> None:
        """A child's feed delivered again from the start, in feed order."""
        member = (self.tree.community, self.tree.township)[child % 2]
        assert member.parent is not None
        feed = await member.parent.store.feed_after(member.node_id, 0, 100_000)
        results = await member.replica.receive([entry.envelope for _, entry in feed])
        assert {r.outcome for r in results} <= {Outcome.ACCEPTED, Outcome.DUPLICATE}

    # the end

    async def heal(self) -> None:
        for member in (self.tree.community, self.tree.township):
            member.link_up = True
        stores = [m.store for m in self.tree.members.values()]
        for _ in range(6):
            before = [await s.log_end() for s in stores]
            await self.tree.community.sync()
            await self.tree.township.sync()
            await self.tree.community.sync()
            if [await s.log_end() for s in stores] == before:
                return
        raise AssertionError("the tree did not become quiescent")

    async def check(self) -> None:
        tree = self.tree
        members = list(tree.members.values())
        for member in members:
            assert await member.store.held() == [], member.node_id
            assert await member.store.rejections() == [], member.node_id
            assert await member.store.quarantined() == {}, member.node_id
            await check_heads(member)
        ids = [case.case_id for case in self.cases]
        county_rows = await tree.county.store.case_rows(ids)
        assert set(county_rows) == set(ids)
        county_logs = await tree.county.store.case_log(ids)
        for member in members:
            rows = await member.store.case_rows(ids)
            logs = await member.store.case_log(list(rows))
            for case_id, row in rows.items():
                assert msgspec.msgpack.encode(row) == msgspec.msgpack.encode(
                    county_rows[case_id]
                ), (member.node_id, case_id)
                assert envelopes_of(logs[case_id]) == envelopes_of(county_logs[case_id])
        for case in self.cases:
            # the tiers that took part hold the case
            takers = {case.origin, DECIDER[case.item]} if case.forwarded else {case.origin}
            for node in takers:
                assert case.case_id in await tree[node].store.case_rows([case.case_id])
            status = county_rows[case.case_id].status
            assert (status == "approved") == case.decided, (case, status)


def envelopes_of(entries: list[Any]) -> dict[tuple[str, int], tuple[bytes, bytes]]:
    found = {(e.origin, e.seq): (e.envelope.body, e.envelope.sig) for e in entries}
    assert len(found) == len(entries)
    return found


async def check_heads(member: Member) -> None:
    """A tier holds its subtree's seqs 1..n with the head at n; origins from above (which it
    receives only for the cases it takes part in) have no head: their sequence has holes here."""
    log = await member.store.log_after(0, 1_000_000)
    seqs: dict[str, list[int]] = {}
    for entry in log:
        seqs.setdefault(entry.origin, []).append(entry.seq)
    heads = await member.store.heads()
    subtree = member.replica.registry.subtree(member.node_id)
    assert {o: h.seq for o, h in heads.items()} == {
        o: max(s) for o, s in seqs.items() if o in subtree
    }
    for origin, found in seqs.items():
        if origin in subtree:
            assert sorted(found) == list(range(1, len(found) + 1)), (member.node_id, origin)


# -- strategies --------------------------------------------------------------------------------

small = st.integers(min_value=0, max_value=50)
SYNC = st.tuples(st.just("sync"), small, st.booleans())
OPERATIONS = st.one_of(
    st.tuples(st.just("new_case"), st.booleans(), small),
    st.tuples(st.just("forward"), small),
    st.tuples(st.just("decide"), small),
    st.tuples(st.just("decide"), small),
    st.tuples(st.just("urge"), small),
    st.tuples(st.just("urge"), small),
    st.tuples(st.just("rate"), small, small),
    SYNC,
    SYNC,
    SYNC,
    SYNC,
    st.tuples(st.just("drop"), small),
    st.tuples(st.just("cut"), small),
    st.tuples(st.just("restore"), small),
    st.tuples(st.just("refeed"), small),
    st.tuples(st.just("resend_up"), small),
    st.tuples(st.just("resend_down"), small),
)
SCENARIOS = st.lists(OPERATIONS, min_size=12, max_size=40)


async def play(ops: list[tuple[Any, ...]], seed: int, *, restricted: bool) -> None:
    tree, flaky = flaky_tree()
    scenario = Scenario(tree, flaky, random.Random(seed), restricted)
    await scenario.op_new_case(False, 0)
    for op in ops:
        await scenario.run(op)
    await scenario.heal()
    await scenario.check()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ops=SCENARIOS, seed=st.integers(0, 2**16))
def test_convergence_of_community_cases_under_random_faults(
    ops: list[tuple[Any, ...]], seed: int
) -> None:
    """Community cases only, and every county write is pulled down at once.

    Those two limits keep clear of the bugs pinned by the xfail tests below: an origin's
    records on cases a child does not take part in leave gaps in that child's view of the
    origin's chain, and a batch of one origin's records on interleaved cases reaches the child
    out of seq order.
    """
    anyio.run(_restricted, ops, seed)


async def _restricted(ops: list[tuple[Any, ...]], seed: int) -> None:
    await play(ops, seed, restricted=True)


async def _unrestricted(ops: list[tuple[Any, ...]], seed: int) -> None:
    await play(ops, seed, restricted=False)


@settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.generate])
@example(
    ops=[
        ("new_case", True, 0),
        ("sync", 0, False),
        ("sync", 1, False),
        ("urge", 1),
        ("urge", 0),
        ("sync", 1, False),
        ("sync", 0, False),
        ("urge", 0),
    ],
    seed=0,
)
@given(ops=SCENARIOS, seed=st.integers(0, 2**16))
def test_convergence_under_random_operations_at_every_tier(
    ops: list[tuple[Any, ...]], seed: int
) -> None:
    anyio.run(_unrestricted, ops, seed)


# -- the two bugs, deterministically -----------------------------------------------------------


@pytest.mark.anyio
async def test_convergence_upper_records_on_other_cases_leave_no_gap_below() -> None:
    tree = build_tree()
    community, township, county = tree.community, tree.township, tree.county
    shared, own = new_case_id(), new_case_id()
    await community.record(shared, received(shared, COMMUNITY), accepted(shared, COMMUNITY))
    await township.record(own, received(own, TOWN, "X12"), accepted(own, TOWN))
    await community.sync()
    await township.sync()
    await county.record(shared, urged(shared, COUNTY, "u1"))
    await county.record(own, urged(own, COUNTY, "u2"))  # the community never sees this case
    await county.record(shared, urged(shared, COUNTY, "u3"))
    await township.sync()
    await community.sync()
    assert await community.store.held() == []
    rows = [(await m.store.case_rows([shared]))[shared] for m in (community, township, county)]
    assert rows[0] == rows[1] == rows[2]


@pytest.mark.anyio
async def test_convergence_interleaved_upper_records_keep_the_chain_in_order() -> None:
    tree = build_tree()
    community, township, county = tree.community, tree.township, tree.county
    one, two = new_case_id(), new_case_id()
    for case_id in (one, two):
        await community.record(case_id, received(case_id, COMMUNITY), accepted(case_id, COMMUNITY))
    await community.sync()
    await township.sync()
    await county.record(one, urged(one, COUNTY, "u1"))
    await county.record(two, urged(two, COUNTY, "u2"))
    await county.record(one, urged(one, COUNTY, "u3"))
    await township.sync()
    await community.sync()
    await check_heads(community)
    await county.record(two, urged(two, COUNTY, "u4"))
    await township.sync()
    await community.sync()
    assert await community.store.held() == []
    for case_id in (one, two):
        rows = [(await m.store.case_rows([case_id]))[case_id] for m in (community, county)]
        assert rows[0] == rows[1]


@pytest.mark.anyio
async def test_convergence_out_of_order_batch_from_one_origin_is_applied_in_seq_order() -> None:
    tree = build_tree()
    case_id = new_case_id()
    await tree.community.record(case_id, received(case_id, COMMUNITY))
    await tree.community.record(case_id, accepted(case_id, COMMUNITY))
    log = await tree.community.store.log_after(0, 10)
    results = await tree.township.replica.receive([e.envelope for e in reversed(log)])
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    await tree.community.record(case_id, rated(case_id, COMMUNITY))
    report = await tree.community.sync()
    assert (report.held, report.rejected) == (0, [])
    await check_heads(tree.township)
    rows = [(await m.store.case_rows([case_id]))[case_id] for m in (tree.community, tree.township)]
    assert rows[0] == rows[1]
