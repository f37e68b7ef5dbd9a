"""A backlog of one case applied at once (:meth:`CaseDoc.apply_batch`), against one by one."""

from __future__ import annotations

from typing import Any

import pycrdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.events import CaseEvent
from sync.casedoc import CaseDoc, Check
from tests.sync.test_casedoc import CASE, TOWN, _extend, event, forge, text, written

COUNTY = "county"


def transactions(sizes: list[int], node_id: str = TOWN) -> list[tuple[bytes, str, int]]:
    """One writer per transaction (a fresh client id each, as local writes do), chained."""
    state: bytes | None = None
    items = []
    number = 0
    for size in sizes:
        events = [event(number + k, node_id=node_id) for k in range(1, size + 1)]
        number += size
        update, state, client = written(state, events)
        items.append((update, node_id, client))
    return items


def one_by_one(state: bytes | None, items: list[tuple[bytes, str, int]]) -> CaseDoc:
    doc = CaseDoc.load(state)
    for update, origin, client in items:
        assert doc.apply_checked(update, origin=origin, client_id=client, case_id=CASE).ok
    return doc


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=6))
def test_casedoc_batch_of_a_new_case_adds_exactly_what_one_by_one_adds(sizes: list[int]) -> None:
    items = transactions(sizes)
    doc = CaseDoc.load(None)
    added = doc.apply_batch(items, case_id=CASE)
    reference = one_by_one(None, items)
    assert added is not None
    assert list(added) == reference.events()[0]
    assert doc.event_texts() == reference.event_texts()
    assert CaseDoc.load(doc.state()).event_texts() == reference.event_texts()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3), min_size=2, max_size=5))
def test_casedoc_batch_on_a_known_case_adds_only_the_new_events(sizes: list[int]) -> None:
    items = transactions(sizes)
    first = one_by_one(None, items[:1])
    doc = CaseDoc.load(first.state())
    added = doc.apply_batch(items[1:], case_id=CASE)
    assert added is not None
    assert sorted(text(e) for e in added) == sorted(
        set(one_by_one(None, items).event_texts()) - set(first.event_texts())
    )


def test_casedoc_batch_of_a_new_case_from_two_nodes_attributes_each_event() -> None:
    town_update, town_state, town_client = written(None, [event(1), event(2)])
    county_update, _, county_client = written(town_state, [event(3, node_id=COUNTY)])
    items = [(town_update, TOWN, town_client), (county_update, COUNTY, county_client)]
    doc = CaseDoc.load(None)
    added = doc.apply_batch(items, case_id=CASE)
    assert added == (event(1), event(2), event(3, node_id=COUNTY))
    swapped = [(town_update, COUNTY, town_client), (county_update, TOWN, county_client)]
    assert CaseDoc.load(None).apply_batch(swapped, case_id=CASE) is None


def _foreign_event(_doc: pycrdt.Doc[Any], array: pycrdt.Array[Any]) -> None:
    array.extend([text(event(1)), text(event(2, node_id=COUNTY))])


BAD_NEW_CASES: dict[str, Any] = {
    "event_of_another_node": _foreign_event,
    "event_of_another_case": _extend(text(event(1)), text(event(2, case_id="case-2"))),
    "not_an_event": _extend(text(event(1)), "not json"),
    "not_text": _extend(text(event(1)), 5),
}


@pytest.mark.parametrize("name", list(BAD_NEW_CASES))
def test_casedoc_batch_of_a_new_case_refuses_anything_unusual_and_leaves_it_empty(
    name: str,
) -> None:
    good = transactions([1])
    forged, client = forge(None, BAD_NEW_CASES[name])
    doc = CaseDoc.load(None)
    assert doc.apply_batch([*good, (forged, TOWN, client)], case_id=CASE) is None
    assert doc.event_texts() == []
    # The one-by-one path then says precisely what is wrong, and keeps the honest update.
    update, origin, good_client = good[0]
    ok = doc.apply_checked(update, origin=origin, client_id=good_client, case_id=CASE)
    assert ok == Check(ok=True, added=(event(1),))
    verdict = doc.apply_checked(forged, origin=TOWN, client_id=client, case_id=CASE)
    assert not verdict.ok


def test_casedoc_batch_events_are_those_of_the_stored_document() -> None:
    items = transactions([2, 1, 3])
    doc = CaseDoc.load(None)
    added = doc.apply_batch(items, case_id=CASE)
    stored: list[CaseEvent] = CaseDoc.load(doc.state()).events()[0]
    assert added is not None and list(added) == stored
