"""Per-case CRDT documents: append, state, and the structural checks on received updates."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pycrdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sync.casedoc as casedoc
from shared.errors import InvalidError
from shared.events import CaseEvent, Urged, UrgeLevel, decode_event, encode_event
from shared.hlc import Hlc
from sync.casedoc import EVENTS_ROOT, CaseDoc, Check, events_of
from sync.reasons import Reason

CASE = "case-1"
TOWN = "town"


def event(
    n: int, *, case_id: str = CASE, node_id: str = TOWN, content: str = "请尽快办理"
) -> Urged:
    return Urged(
        id=str(uuid.UUID(int=n)),
        case_id=case_id,
        node_id=node_id,
        actor="clerk-7",
        hlc=Hlc(1_770_000_000_000 + n, 0),
        urge_id=f"urge-{n}",
        level=UrgeLevel.REMINDER,
        content=content,
        feedback_due=date(2026, 3, 2),
        by_unit="县政务服务中心",
    )


def text(e: CaseEvent) -> str:
    return encode_event(e).decode()


def written(state: bytes | None, events: Sequence[CaseEvent]) -> tuple[bytes, bytes, int]:
    """A writer's transaction: returns (update, new state, client id)."""
    doc = CaseDoc.load(state)
    update = doc.append(events)
    return update, doc.state(), doc.client_id


def base_state(count: int = 3) -> bytes:
    _, state, _ = written(None, [event(n) for n in range(1, count + 1)])
    return state


def forge(
    state: bytes | None,
    edit: Callable[[pycrdt.Doc[Any], pycrdt.Array[Any]], None],
    client_id: int | None = None,
) -> tuple[bytes, int]:
    """Raw pycrdt: load ``state`` into a plain Doc, edit it in one transaction, return the diff."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=client_id)
    array = doc.get(EVENTS_ROOT, type=pycrdt.Array)
    if state is not None:
        doc.apply_update(state)
    before = doc.get_state()
    with doc.transaction():
        edit(doc, array)
    return doc.get_update(before), doc.client_id


def check(doc: CaseDoc, update: bytes, client_id: int, origin: str = TOWN) -> Check:
    return doc.apply_checked(update, origin=origin, client_id=client_id, case_id=CASE)


# -- local writes --------------------------------------------------------------------------------


def test_casedoc_append_state_round_trip_to_second_doc():
    events = [event(1), event(2, content='引号"和\\反斜杠\n换行')]
    update, state, client = written(None, events)
    again = CaseDoc.load(state)
    assert again.events() == (events, [])
    assert again.event_texts() == [text(e) for e in events]
    assert events_of(state) == events
    receiver = CaseDoc.load(None)
    assert check(receiver, update, client) == Check(ok=True, added=tuple(events))
    assert receiver.state() == state


def test_casedoc_append_update_is_accepted_with_added_events():
    state = base_state(2)
    update, _, client = written(state, [event(3), event(4)])
    receiver = CaseDoc.load(state)
    assert check(receiver, update, client) == Check(ok=True, added=(event(3), event(4)))
    assert receiver.events()[0] == [event(n) for n in (1, 2, 3, 4)]
    assert CaseDoc.load(receiver.state()).event_texts() == [text(event(n)) for n in (1, 2, 3, 4)]


def test_casedoc_append_is_one_transaction_from_one_client():
    update, _, client = written(base_state(1), [event(2), event(3), event(4)])
    assert pycrdt.get_state(update) != b"\x00"
    assert casedoc._gains({}, casedoc._vector(pycrdt.get_state(update))) == {client: 3}


def test_casedoc_append_nothing_is_refused():
    with pytest.raises(InvalidError) as caught:
        CaseDoc.load(None).append([])
    assert caught.value.code == "no_events"


def test_casedoc_fresh_client_ids_differ_between_loads():
    state = base_state(1)
    ids = {CaseDoc.load(state).client_id for _ in range(50)} | {
        CaseDoc.load(None).client_id for _ in range(50)
    }
    assert len(ids) == 100


def test_casedoc_corrupt_state_is_invalid():
    with pytest.raises(InvalidError) as caught:
        CaseDoc.load(b"\x07garbage")
    assert caught.value.code == "case_doc_corrupt"


def test_casedoc_events_of_nothing_is_empty():
    assert events_of(None) == []
    assert CaseDoc.load(None).event_texts() == []


def test_casedoc_events_lists_undecodable_elements_separately():
    state = base_state(1)
    update, _ = forge(state, lambda _d, a: a.extend(["not json", 5]))
    doc = CaseDoc.load(pycrdt.merge_updates(state, update))
    assert doc.events() == ([event(1)], ["not json", "5"])
    assert doc.event_texts() == [text(event(1)), "not json", "5"]
    with pytest.raises(InvalidError):
        events_of(doc.state())


# -- concurrent writers --------------------------------------------------------------------------


def _two_writers() -> tuple[bytes, list[tuple[bytes, str, int]]]:
    """A base state and, per writer, three transactions made without seeing the other writer."""
    base = base_state(2)
    updates: list[tuple[bytes, str, int]] = []
    for writer, node in enumerate(("town", "county")):
        state = base
        for step in range(3):
            first = 100 * (writer + 1) + 10 * step
            batch = [event(first + k, node_id=node) for k in range(step % 2 + 1)]
            update, state, client = written(state, batch)
            updates.append((update, node, client))
    return base, updates


BASE, UPDATES = _two_writers()


def _deliver(order: list[int]) -> CaseDoc:
    """Apply updates in ``order``; pending ones are retried after each later success."""
    doc = CaseDoc.load(BASE)
    held = [UPDATES[i] for i in order]
    while held:
        progress = []
        for item in held:
            update, node, client = item
            verdict = doc.apply_checked(update, origin=node, client_id=client, case_id=CASE)
            assert verdict.ok, verdict.detail
            if not verdict.pending:
                progress.append(item)
        assert progress, "no update could integrate"
        held = [item for item in held if item not in progress]
    return doc


REFERENCE = _deliver(list(range(len(UPDATES)))).event_texts()


def test_casedoc_reference_convergence_holds_every_event():
    assert len(REFERENCE) == 2 + 2 * (1 + 2 + 1)
    assert sorted(REFERENCE) == sorted(
        [text(event(n)) for n in (1, 2)]
        + [
            text(event(100 * (w + 1) + 10 * s + k, node_id=node))
            for w, node in enumerate(("town", "county"))
            for s in range(3)
            for k in range(s % 2 + 1)
        ]
    )


@settings(max_examples=200, deadline=None)
@given(st.permutations(list(range(len(UPDATES)))))
def test_casedoc_concurrent_writers_converge_in_any_order(order):
    doc = _deliver(order)
    assert doc.event_texts() == REFERENCE
    assert CaseDoc.load(doc.state()).event_texts() == REFERENCE


@pytest.mark.parametrize(("lead_client", "late_client"), [(1, 2**40), (2**40, 1)])
def test_casedoc_concurrent_insert_between_old_elements_reports_only_new(lead_client, late_client):
    # Same left neighbour: pycrdt orders the two inserts by client id, so one of these cases
    # puts the late update's events before the lead's (not at the end of the array).
    base = base_state(1)
    lead, _ = forge(base, _extend(text(event(2))), client_id=lead_client)
    late, _ = forge(base, _extend(text(event(3)), text(event(4))), client_id=late_client)
    doc = CaseDoc.load(base)
    assert check(doc, lead, lead_client) == Check(ok=True, added=(event(2),))
    assert check(doc, late, late_client) == Check(ok=True, added=(event(3), event(4)))
    order = [2, 3, 4] if lead_client < late_client else [3, 4, 2]
    assert doc.events() == ([event(n) for n in [1, *order]], [])


# -- structural rules ----------------------------------------------------------------------------


def _extend(*values: Any) -> Callable[[pycrdt.Doc[Any], pycrdt.Array[Any]], None]:
    return lambda _doc, array: array.extend(list(values))


def _meta_root(doc: pycrdt.Doc[Any], _array: pycrdt.Array[Any]) -> None:
    doc["meta"] = pycrdt.Map({"status": "办结"})


def _map_on_events(doc: pycrdt.Doc[Any], _array: pycrdt.Array[Any]) -> None:
    doc.get(EVENTS_ROOT, type=pycrdt.Map)["status"] = "办结"


def _delete_first(_doc: pycrdt.Doc[Any], array: pycrdt.Array[Any]) -> None:
    del array[0]


def _delete_and_append(_doc: pycrdt.Doc[Any], array: pycrdt.Array[Any]) -> None:
    del array[1]
    array.append(text(event(9)))


def _insert_then_delete(_doc: pycrdt.Doc[Any], array: pycrdt.Array[Any]) -> None:
    array.append(text(event(9)))
    del array[len(array) - 1]


def _nested_map(_doc: pycrdt.Doc[Any], array: pycrdt.Array[Any]) -> None:
    array.append(pycrdt.Map({"kind": "urged"}))


def _meta_and_delete(doc: pycrdt.Doc[Any], array: pycrdt.Array[Any]) -> None:
    _meta_root(doc, array)
    _delete_first(doc, array)


def _delete_and_int(doc: pycrdt.Doc[Any], array: pycrdt.Array[Any]) -> None:
    _delete_first(doc, array)
    array.append(5)


FORGERIES = {
    "meta_root": (_meta_root, Reason.UNKNOWN_ROOT, "meta"),
    "map_entry_on_events": (_map_on_events, Reason.UNKNOWN_ROOT, "status"),
    "deletes_element": (_delete_first, Reason.DELETES_HISTORY, "删除了 1 条"),
    "deletes_and_appends": (_delete_and_append, Reason.DELETES_HISTORY, "删除了 1 条"),
    "insert_then_delete": (_insert_then_delete, Reason.DELETES_HISTORY, "删除记录"),
    "not_json": (_extend("not json"), Reason.MALFORMED_EVENT, "无法解析"),
    "json_not_event": (_extend('{"kind":"teleported"}'), Reason.MALFORMED_EVENT, "无法解析"),
    "int_element": (_extend(5), Reason.MALFORMED_EVENT, "不是事件文本"),
    "nested_map": (_nested_map, Reason.MALFORMED_EVENT, "不是事件文本"),
    "valid_then_int": (_extend(text(event(8)), 7), Reason.MALFORMED_EVENT, "第 2 项"),
    "other_case": (_extend(text(event(8, case_id="case-2"))), Reason.CASE_MISMATCH, "case-2"),
    "other_node": (_extend(text(event(8, node_id="other"))), Reason.FOREIGN_NODE_EVENT, "other"),
    "meta_and_delete": (_meta_and_delete, Reason.UNKNOWN_ROOT, "meta"),
    "delete_and_malformed": (_delete_and_int, Reason.DELETES_HISTORY, "删除"),
    "malformed_and_other_case": (
        _extend(text(event(8, case_id="case-2")), "x"),
        Reason.MALFORMED_EVENT,
        "第 2 项",
    ),
    "other_case_and_node": (
        _extend(text(event(8, case_id="case-2", node_id="other"))),
        Reason.CASE_MISMATCH,
        "case-2",
    ),
}


def _assert_unchanged_and_usable(doc: CaseDoc, state: bytes, texts: list[str]) -> None:
    assert doc.state() == state
    assert doc.event_texts() == texts
    update, _, client = written(state, [event(50)])
    assert check(doc, update, client) == Check(ok=True, added=(event(50),))


@pytest.mark.parametrize("name", list(FORGERIES))
def test_casedoc_forged_update_is_rejected_and_doc_unchanged(name):
    edit, reason, needle = FORGERIES[name]
    state = base_state(3)
    update, client = forge(state, edit)
    doc = CaseDoc.load(state)
    texts = doc.event_texts()
    verdict = check(doc, update, client)
    assert (verdict.ok, verdict.reason, verdict.added, verdict.pending) == (
        False,
        reason,
        (),
        False,
    )
    assert needle in verdict.detail
    _assert_unchanged_and_usable(doc, state, texts)


def test_casedoc_update_under_another_client_id_is_foreign_client():
    state = base_state(2)
    writer: pycrdt.Doc[Any] = pycrdt.Doc(client_id=4242)
    writer.apply_update(state)
    before = writer.get_state()
    with writer.transaction():
        writer.get(EVENTS_ROOT, type=pycrdt.Array).append(text(event(3)))
    update = writer.get_update(before)
    doc = CaseDoc.load(state)
    verdict = check(doc, update, client_id=777)
    assert (verdict.ok, verdict.reason) == (False, Reason.FOREIGN_CLIENT)
    assert "4242" in verdict.detail
    assert "777" in verdict.detail
    _assert_unchanged_and_usable(doc, state, doc.event_texts())
    assert check(doc, update, client_id=4242).ok


def test_casedoc_second_update_under_a_reused_client_id_adds_only_its_own_events():
    state = base_state(1)
    writer: pycrdt.Doc[Any] = pycrdt.Doc(client_id=4242)
    array = writer.get(EVENTS_ROOT, type=pycrdt.Array)
    writer.apply_update(state)
    updates = []
    for n in (2, 3):
        before = writer.get_state()
        with writer.transaction():
            array.append(text(event(n)))
        updates.append(writer.get_update(before))
    before = writer.get_state()
    with writer.transaction():
        array.append(text(event(4)))
        _map_on_events(writer, array)
    hiding = writer.get_update(before)
    doc = CaseDoc.load(state)
    assert check(doc, updates[0], 4242).added == (event(2),)
    assert check(doc, updates[1], 4242).added == (event(3),)
    # Earlier elements of the same client must not count towards this update's clock.
    assert check(doc, hiding, 4242).reason is Reason.UNKNOWN_ROOT


@pytest.mark.parametrize("declared", [-1, 0, 2**64 + 5])
def test_casedoc_odd_declared_client_ids_are_foreign_or_harmless(declared):
    state = base_state(1)
    update, _, _ = written(state, [event(2)])
    doc = CaseDoc.load(state)
    assert check(doc, update, declared).reason is Reason.FOREIGN_CLIENT
    assert check(doc, b"\x00\x00", declared) == Check(ok=True)
    assert doc.state() == state


def test_casedoc_update_mixing_two_clients_is_foreign_client_even_for_valid_events():
    state = base_state(1)
    one, _, one_client = written(state, [event(2)])
    other, _, _ = written(state, [event(3)])
    doc = CaseDoc.load(state)
    verdict = check(doc, pycrdt.merge_updates(one, other), one_client)
    assert verdict.reason is Reason.FOREIGN_CLIENT
    assert doc.state() == state


def test_casedoc_foreign_client_is_checked_before_unknown_root():
    state = base_state(1)
    update, _ = forge(state, _meta_root)
    doc = CaseDoc.load(state)
    assert check(doc, update, client_id=1).reason is Reason.FOREIGN_CLIENT


def test_casedoc_clock_spent_outside_the_event_list_is_unknown_root():
    # A struct that shows nowhere (here a deleted item whose delete record was cut off the
    # update) spends clock that no added event accounts for.
    state = base_state(1)
    writer: pycrdt.Doc[Any] = pycrdt.Doc()
    array = writer.get(EVENTS_ROOT, type=pycrdt.Array)
    writer.apply_update(state)
    before = writer.get_state()
    with writer.transaction():
        array.append("hidden")
    with writer.transaction():
        del array[1]
    with writer.transaction():
        array.append(text(event(2)))
    update = writer.get_update(before)
    delete_set = pycrdt.get_update(update, writer.get_state())[1:]
    assert delete_set != b"\x00"
    assert update.endswith(delete_set)
    stripped = update[: -len(delete_set)] + b"\x00"
    doc = CaseDoc.load(state)
    assert check(doc, update, writer.client_id).reason is Reason.DELETES_HISTORY
    verdict = check(doc, stripped, writer.client_id)
    assert (verdict.ok, verdict.reason) == (False, Reason.UNKNOWN_ROOT)
    assert "写入了 2 个单元，新增事件只有 1 条" in verdict.detail
    _assert_unchanged_and_usable(doc, state, [text(event(1))])


@pytest.mark.parametrize("garbage", [b"", b"\xff\xff\xff", b"not a pycrdt update at all"])
def test_casedoc_undecodable_update_is_rejected_and_doc_unchanged(garbage):
    state = base_state(2)
    doc = CaseDoc.load(state)
    texts = doc.event_texts()
    verdict = check(doc, garbage, client_id=1)
    assert (verdict.ok, verdict.reason) == (False, Reason.UNDECODABLE_UPDATE)
    assert "无法解析" in verdict.detail
    _assert_unchanged_and_usable(doc, state, texts)


def test_casedoc_truncated_update_is_undecodable():
    state = base_state(1)
    update, _, client = written(state, [event(2)])
    doc = CaseDoc.load(state)
    assert check(doc, update[:-3], client).reason is Reason.UNDECODABLE_UPDATE
    assert doc.state() == state


def test_casedoc_delete_of_items_not_yet_held_is_rejected():
    # The delete names an item the receiver has not seen; pycrdt would hold the delete and
    # erase that item when it arrives with someone else's envelope.
    state = base_state(1)
    update, after, client = written(state, [event(2)])
    deleting, deleter = forge(after, lambda _d, a: a.__delitem__(1))
    doc = CaseDoc.load(state)
    verdict = check(doc, deleting, deleter)
    assert (verdict.ok, verdict.reason) == (False, Reason.DELETES_HISTORY)
    assert check(doc, update, client) == Check(ok=True, added=(event(2),))
    assert doc.events() == ([event(1), event(2)], [])


def test_casedoc_failed_check_after_many_updates_restores_exactly():
    state = base_state(1)
    doc = CaseDoc.load(state)
    for n in range(2, 2 + casedoc._COMPACT_AFTER + 5):
        update, state, client = written(state, [event(n)])
        assert check(doc, update, client).ok
    texts = doc.event_texts()
    assert len(texts) == 1 + casedoc._COMPACT_AFTER + 5
    full = doc.state()
    bad, bad_client = forge(state, _delete_first)
    assert check(doc, bad, bad_client).reason is Reason.DELETES_HISTORY
    assert doc.state() == full
    assert doc.event_texts() == texts


def test_casedoc_restore_keeps_own_client_id_and_own_writes():
    state = base_state(1)
    doc = CaseDoc.load(state)
    own = doc.client_id
    doc.append([event(2)])
    bad, bad_client = forge(doc.state(), _meta_root)
    assert not check(doc, bad, bad_client).ok
    assert doc.client_id == own
    update = doc.append([event(3)])
    receiver = CaseDoc.load(state)
    assert check(receiver, update, own).pending  # needs event(2) first
    assert doc.events()[0] == [event(1), event(2), event(3)]


# -- nothing new, pending ------------------------------------------------------------------------


def test_casedoc_empty_and_duplicate_updates_add_nothing():
    state = base_state(1)
    update, _, client = written(state, [event(2)])
    doc = CaseDoc.load(state)
    assert check(doc, b"\x00\x00", client) == Check(ok=True)
    assert check(doc, update, client).added == (event(2),)
    full = doc.state()
    assert check(doc, update, client) == Check(ok=True, added=(), pending=False)
    assert doc.state() == full


def test_pycrdt_pending_is_left_out_of_get_update_and_integrates_when_dependency_arrives():
    state = base_state(1)
    first, after_first, _ = written(state, [event(2)])
    second, _, _ = written(after_first, [event(3)])
    raw: pycrdt.Doc[Any] = pycrdt.Doc()
    array = raw.get(EVENTS_ROOT, type=pycrdt.Array)
    raw.apply_update(state)
    saved = raw.get_update()
    raw.apply_update(second)
    assert len(array) == 1
    assert raw.get_update() == saved  # the pending struct is not in the state
    raw.apply_update(first)  # the dependency arrives: both integrate
    assert [decode_event(t) for t in array.to_py() or []] == [event(1), event(2), event(3)]


def test_casedoc_pending_update_is_reported_and_not_kept():
    state = base_state(1)
    first, after_first, first_client = written(state, [event(2)])
    second, _, second_client = written(after_first, [event(3)])
    doc = CaseDoc.load(state)
    assert check(doc, second, second_client) == Check(ok=True, added=(), pending=True)
    assert doc.state() == state
    # Nothing was held, so the dependency's check sees only its own event ...
    assert check(doc, first, first_client) == Check(ok=True, added=(event(2),))
    # ... and the pending update integrates when applied again.
    assert check(doc, second, second_client) == Check(ok=True, added=(event(3),))
    assert doc.events()[0] == [event(1), event(2), event(3)]


def test_casedoc_pending_update_from_other_origin_is_not_blamed_on_the_dependency():
    state = base_state(1)
    first, after_first, first_client = written(state, [event(2)])
    second, _, _ = written(after_first, [event(3, node_id="county")])
    doc = CaseDoc.load(state)
    assert check(doc, second, 1, origin="county").pending
    assert check(doc, first, first_client) == Check(ok=True, added=(event(2),))


def test_casedoc_pending_update_that_breaks_rules_is_rejected_once_it_integrates():
    state = base_state(1)
    first, after_first, first_client = written(state, [event(2)])
    bad, bad_client = forge(after_first, _extend(text(event(3, case_id="case-9"))))
    doc = CaseDoc.load(state)
    assert check(doc, bad, bad_client).pending
    assert check(doc, first, first_client).ok
    assert check(doc, bad, bad_client).reason is Reason.CASE_MISMATCH
