"""Replication through the whole tree, in process: community → township → county and back."""

from __future__ import annotations

import pytest

from shared.errors import PermissionDeniedError, UnavailableError
from sync.envelope import open_body
from sync.projection import decode_view
from tests.sync.tree import (
    accepted,
    build_tree,
    decided,
    forwarded,
    new_case_id,
    received,
    urged,
)

pytestmark = pytest.mark.anyio


async def test_community_case_reaches_the_county_with_its_signature_intact() -> None:
    tree = build_tree()
    case = new_case_id()
    await tree.community.record(case, received(case, "she-dongcun"), accepted(case, "she-dongcun"))
    await tree.community.sync()
    await tree.township.sync()

    county_log = await tree.county.store.case_log([case])
    community_log = await tree.community.store.case_log([case])
    assert [e.envelope for e in county_log[case]] == [e.envelope for e in community_log[case]]
    assert open_body(county_log[case][0].envelope).origin == "she-dongcun"
    row = (await tree.county.store.case_rows([case]))[case]
    assert (row.status, row.origin_node, row.item_code) == ("accepted", "she-dongcun", "X19")
    assert row.receipt_no == "DCS-20260302-0001-X"


async def test_decision_and_urge_made_above_flow_back_down() -> None:
    tree = build_tree()
    case = new_case_id()
    community, township, county = tree.community, tree.township, tree.county
    await community.record(
        case,
        received(case, "she-dongcun"),
        accepted(case, "she-dongcun"),
        forwarded(case, "she-dongcun", "zhen-shifan", "township"),
    )
    await community.sync()
    await township.sync()
    await county.record(case, urged(case, "county"))
    await township.sync()
    await township.record(case, decided(case, "zhen-shifan"))
    await township.sync()
    await community.sync()

    rows = {
        m.node_id: (await m.store.case_rows([case]))[case] for m in (community, township, county)
    }
    assert {r.status for r in rows.values()} == {"approved"}
    assert len({r.state_json for r in rows.values()}) == 1
    view = decode_view(rows["she-dongcun"].state_json)
    assert view.state.handling_node == "zhen-shifan"
    assert [u.urge_id for u in view.state.open_urges] == ["u1"]
    assert view.unauthorized == ()


async def test_community_may_not_decide_an_item_it_only_receives() -> None:
    tree = build_tree()
    case = new_case_id()
    await tree.community.record(case, received(case, "she-dongcun"), accepted(case, "she-dongcun"))
    with pytest.raises(PermissionDeniedError):
        await tree.community.record(case, decided(case, "she-dongcun"))
    assert (await tree.community.store.case_rows([case]))[case].status == "accepted"


async def test_node_keeps_working_with_the_link_down_and_catches_up() -> None:
    tree = build_tree()
    tree.community.link_up = False
    cases = [new_case_id() for _ in range(20)]
    for case in cases:
        await tree.community.record(
            case, received(case, "she-dongcun"), accepted(case, "she-dongcun")
        )
    with pytest.raises(UnavailableError):
        await tree.community.sync()
    assert len(await tree.community.rows()) == 20
    tree.community.link_up = True
    report = await tree.community.sync()
    assert report.accepted == 20 and report.rejected == []
    await tree.township.sync()
    assert set(await tree.county.rows()) == set(cases)


async def test_resending_everything_is_harmless() -> None:
    tree = build_tree()
    case = new_case_id()
    await tree.community.record(case, received(case, "she-dongcun"), accepted(case, "she-dongcun"))
    await tree.community.sync()
    log = await tree.community.store.log_after(0, 100)
    results = await tree.township.replica.receive([e.envelope for e in log] * 2)
    assert {r.outcome.value for r in results} == {"duplicate"}
    assert await tree.township.store.log_end() == len(log)
