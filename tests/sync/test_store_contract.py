"""The SyncStore contract: every backend must behave exactly like the MemoryStore reference.

Only the ``store`` fixture (tests/sync/conftest.py) and the protocol are used, so a new backend
joins the suite by registering itself there.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from shared.hlc import Hlc
from shared.signing import SigningKey
from sync.envelope import ENVELOPE_FORMAT, GENESIS, SIGNING_DOMAIN, EnvelopeBody, seal
from sync.memory_store import MemoryStore
from sync.reasons import Reason
from sync.store import (
    CaseProjection,
    CaseRow,
    FeedEntry,
    Head,
    LogEntry,
    Rejection,
    SyncStore,
    WriteSet,
)

pytestmark = pytest.mark.anyio

KEY = SigningKey.from_private_bytes(bytes(range(32)))
CHINA = timezone(timedelta(hours=8))
WALL = 1_772_416_800_000  # 2026-03-02 10:00 China time
BIG_CLIENT = 2**53 - 1


def chain(
    origin: str,
    count: int,
    *,
    start: int = 1,
    cases: tuple[str, ...] = ("case-1",),
    client_id: int = 7,
    tag: str = "",
) -> list[LogEntry]:
    """``count`` sealed envelopes of ``origin`` from ``start``, linked by ``prev``."""
    prev = GENESIS if start == 1 else hashlib.sha256(f"{origin}:{start - 1}".encode()).digest()
    entries = []
    for offset in range(count):
        seq = start + offset
        body = EnvelopeBody(
            format=ENVELOPE_FORMAT,
            origin=origin,
            seq=seq,
            prev=prev,
            case_id=cases[offset % len(cases)],
            hlc=Hlc(WALL + seq * 1000, seq % 4),
            client_id=client_id,
            update=b"\x00\x01\xff" + f"{origin}/{seq}/{tag}".encode(),
        )
        envelope = seal(KEY, body)
        entries.append(LogEntry.of(envelope, body))
        prev = envelope.hash
    return entries


def logged(entries: list[LogEntry], first_pos: int) -> list[LogEntry]:
    return [msgspec.structs.replace(e, pos=first_pos + i) for i, e in enumerate(entries)]


def head_of(entry: LogEntry) -> Head:
    return Head(origin=entry.origin, seq=entry.seq, hash=entry.hash, hlc=entry.hlc)


def case_row(case_id: str, **changes: Any) -> CaseRow:
    row = CaseRow(
        case_id=case_id,
        item_code="000123456000-01",
        catalog_version=3,
        origin_node="town-a",
        handling_node="county",
        status="accepted",
        receipt_no="TB-2026-000017",
        applicant_name="张三",
        received_on=date(2026, 3, 2),
        accepted_on=date(2026, 3, 3),
        promised_due=date(2026, 3, 16),
        statutory_due=date(2026, 4, 1),
        due_provisional=True,
        paused=False,
        finished=False,
        light="yellow",
        flags=("overdue_risk", "补正"),
        events_count=5,
        last_hlc=Hlc(WALL + 5, 2),
        state_json=b'{"status":"accepted","note":"\xe5\x8a\x9e"}',
    )
    return row if not changes else CaseRow(**{**_fields(row), **changes})


def _fields(row: CaseRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__struct_fields__}


def bare_row(case_id: str) -> CaseRow:
    return CaseRow(
        case_id=case_id,
        item_code=None,
        catalog_version=None,
        origin_node=None,
        handling_node=None,
        status="draft",
        receipt_no=None,
        applicant_name=None,
        received_on=None,
        accepted_on=None,
        promised_due=None,
        statutory_due=None,
        due_provisional=False,
        paused=True,
        finished=True,
        light=None,
        flags=(),
        events_count=0,
        last_hlc=Hlc(0, 0),
        state_json=b"",
    )


def projection(case_id: str, parties: set[str], **changes: Any) -> CaseProjection:
    return CaseProjection(
        case_id=case_id,
        state=b"\x01\x00state-" + case_id.encode(),
        row=case_row(case_id, **changes),
        parties=frozenset(parties),
    )


def rejection(entry: LogEntry, reason: Reason, detail: str, minute: int) -> Rejection:
    return Rejection(
        origin=entry.origin,
        seq=entry.seq,
        hash=entry.hash,
        case_id=entry.case_id,
        reason=reason,
        detail=detail,
        envelope=entry.envelope,
        received_at=datetime(2026, 3, 2, 10, minute, 5, 123456, tzinfo=CHINA),
    )


async def snapshot(store: SyncStore, entries: list[LogEntry], cases: list[str]) -> dict[str, Any]:
    """Everything readable about ``entries`` and ``cases``, to compare before and after."""
    children = ["child-a", "child-b"]
    return {
        "heads": await store.heads(),
        "log": await store.log_after(0, 100_000),
        "end": await store.log_end(),
        "hashes": await store.hashes_at([(e.origin, e.seq) for e in entries]),
        "updates": await store.known_updates([e.update_hash for e in entries]),
        "owners": await store.client_owners([e.client_id for e in entries] + [1, 2, 3]),
        "quarantined": await store.quarantined(),
        "held": await store.held(),
        "rejections": await store.rejections(),
        "case_log": await store.case_log(cases),
        "states": await store.case_states(cases),
        "rows": await store.case_rows(cases),
        "parties": await store.case_parties(cases),
        "watermark": await store.watermark(),
        "cursors": [await store.cursor(n) for n in ("pull", "push", "other")],
        "feed": [await store.feed_after(child, 0, 100_000) for child in children],
    }


def everything(entries: list[LogEntry], extra_held: list[LogEntry]) -> WriteSet:
    """A write set that touches every table."""
    return WriteSet(
        entries=entries,
        heads={e.origin: head_of(e) for e in entries},
        client_claims={1: "town-a", 2: "town-b"},
        held=extra_held,
        released=[("town-a", 1)],
        rejections=[rejection(entries[0], Reason.FORK, "同序号不同记录", 1)],
        quarantines={"town-b": Reason.FORK.value},
        projections=[projection("case-x", {"town-a", "county"})],
        watermark=99,
        feed=[FeedEntry(child="child-a", origin=e.origin, seq=e.seq) for e in entries],
        cursors={"pull": 50, "push": 9},
    )


async def test_store_empty_reads_return_nothing(store: SyncStore) -> None:
    assert await store.heads() == {}
    assert await store.heads(["town-a"]) == {}
    assert await store.hashes_at([("town-a", 1)]) == {}
    assert await store.known_updates([b"\x00" * 32]) == set()
    assert await store.client_owners([7]) == {}
    assert await store.quarantined() == {}
    assert await store.held() == []
    assert await store.log_after(0, 10) == []
    assert await store.log_end() == 0
    assert await store.case_log(["case-1"]) == {}
    assert await store.case_states(["case-1"]) == {}
    assert await store.case_parties(["case-1"]) == {}
    assert await store.case_rows(["case-1"]) == {}
    assert await store.watermark() == 0
    assert await store.cursor("pull") == 0
    assert await store.feed_after("child-a", 0, 10) == []
    assert await store.rejections() == []


async def test_store_empty_collections_and_empty_write_set_are_harmless(store: SyncStore) -> None:
    await store.commit(WriteSet())
    entries = chain("town-a", 2)
    await store.commit(WriteSet(entries=entries))
    await store.commit(WriteSet())
    assert await store.log_end() == 2
    assert await store.heads([]) == {}
    assert await store.hashes_at([]) == {}
    assert await store.known_updates([]) == set()
    assert await store.client_owners([]) == {}
    assert await store.case_log([]) == {}
    assert await store.case_rows([]) == {}
    assert await store.log_after(0, 0) == []


async def test_log_entries_round_trip_exactly(store: SyncStore) -> None:
    first = chain("乡镇-甲", 1, cases=("办件-001",), client_id=BIG_CLIENT)
    later = chain("town-b", 2, start=40, cases=("case-b",), client_id=0)
    await store.commit(WriteSet(entries=first + later))
    got = await store.log_after(0, 10)
    assert got == logged(first + later, 1)
    assert got[0].prev == b""
    assert got[0].hlc == Hlc(WALL + 1000, 1)
    assert got[0].client_id == BIG_CLIENT
    assert got[1].prev == hashlib.sha256(b"town-b:39").digest()
    for entry in got:
        assert type(entry.envelope.body) is bytes
        assert entry.envelope.hash == entry.hash
        assert entry.envelope.sig == KEY.sign(SIGNING_DOMAIN + entry.envelope.body)


async def test_commit_assigns_pos_in_list_order_across_commits(store: SyncStore) -> None:
    a = chain("town-a", 3)
    b = chain("town-b", 2)
    await store.commit(WriteSet(entries=[b[0], a[0], a[1]]))
    await store.commit(WriteSet(entries=[a[2], b[1]]))
    assert await store.log_after(0, 10) == logged([b[0], a[0], a[1], a[2], b[1]], 1)
    assert await store.log_end() == 5


async def test_log_after_pages_by_pos(store: SyncStore) -> None:
    entries = chain("town-a", 7)
    await store.commit(WriteSet(entries=entries))
    expected = logged(entries, 1)
    assert await store.log_after(0, 3) == expected[0:3]
    assert await store.log_after(3, 3) == expected[3:6]
    assert await store.log_after(6, 3) == expected[6:7]
    assert await store.log_after(7, 3) == []
    assert await store.log_after(2, 0) == []


async def test_hashes_and_updates_report_only_logged_entries(store: SyncStore) -> None:
    a = chain("town-a", 3)
    await store.commit(WriteSet(entries=a[:2]))
    assert await store.hashes_at([("town-a", 1), ("town-a", 2), ("town-a", 3), ("x", 1)]) == {
        ("town-a", 1): a[0].hash,
        ("town-a", 2): a[1].hash,
    }
    probe = [a[0].update_hash, a[2].update_hash, a[0].update_hash, b"\x00" * 32]
    assert await store.known_updates(probe) == {a[0].update_hash}


async def test_case_log_groups_by_case_in_pos_order(store: SyncStore) -> None:
    a = chain("town-a", 4, cases=("case-1", "case-2"))
    b = chain("town-b", 2, cases=("case-2",))
    await store.commit(WriteSet(entries=[a[0], b[0], a[1]]))
    await store.commit(WriteSet(entries=[a[3], b[1], a[2]]))
    pos = {(e.origin, e.seq): e.pos for e in await store.log_after(0, 10)}
    got = await store.case_log(["case-2", "case-1", "case-9", "case-1"])
    assert set(got) == {"case-1", "case-2"}
    assert got["case-1"] == [
        msgspec.structs.replace(e, pos=pos[(e.origin, e.seq)]) for e in a[0::2]
    ]
    assert [(e.origin, e.seq, e.pos) for e in got["case-2"]] == [
        ("town-b", 1, 2),
        ("town-a", 2, 3),
        ("town-a", 4, 4),
        ("town-b", 2, 5),
    ]


async def test_heads_only_move_forward(store: SyncStore) -> None:
    a = chain("town-a", 4)
    b = chain("town-b", 1)
    await store.commit(WriteSet(heads={"town-a": head_of(a[2]), "town-b": head_of(b[0])}))
    await store.commit(WriteSet(heads={"town-a": head_of(a[1])}))
    forged = Head(origin="town-a", seq=3, hash=b"\xee" * 32, hlc=Hlc(1, 1))
    await store.commit(WriteSet(heads={"town-a": forged}))
    assert await store.heads() == {"town-a": head_of(a[2]), "town-b": head_of(b[0])}
    await store.commit(WriteSet(heads={"town-a": head_of(a[3])}))
    assert await store.heads(["town-a", "nobody"]) == {"town-a": head_of(a[3])}


async def test_client_claims_keep_the_first_owner(store: SyncStore) -> None:
    await store.commit(WriteSet(client_claims={BIG_CLIENT: "town-a", 0: "town-a"}))
    await store.commit(WriteSet(client_claims={BIG_CLIENT: "town-b", 8: "town-b"}))
    got = await store.client_owners([BIG_CLIENT, 0, 8, 9])
    assert got == {BIG_CLIENT: "town-a", 0: "town-a", 8: "town-b"}


async def test_held_entries_are_sorted_replaced_and_released(store: SyncStore) -> None:
    a = chain("town-a", 5)
    b = chain("town-b", 3)
    await store.commit(WriteSet(held=[b[2], a[4], a[2], b[1]]))
    assert await store.held() == [a[2], a[4], b[1], b[2]]
    assert await store.held("town-b") == [b[1], b[2]]
    again = chain("town-a", 5, tag="again")[4]
    await store.commit(WriteSet(held=[again], released=[("town-b", 2), ("nobody", 3)]))
    assert await store.held() == [a[2], again, b[2]]
    # Held and released in one write set: the release is applied after the hold.
    await store.commit(WriteSet(held=[a[3]], released=[("town-a", 3), ("town-a", 4)]))
    assert await store.held() == [again, b[2]]
    assert await store.held("nobody") == []


async def test_rejections_round_trip_oldest_first(store: SyncStore) -> None:
    a = chain("town-a", 2)
    b = chain("town-b", 1)
    first = rejection(a[1], Reason.FORK, "同一序号出现两份记录：" + a[0].hash.hex(), 1)
    second = rejection(b[0], Reason.BAD_SIGNATURE, "", 2)
    third = rejection(a[0], Reason.UNAUTHORIZED_ACTION, "无权受理", 0)
    await store.commit(WriteSet(rejections=[first, second]))
    await store.commit(WriteSet(rejections=[third]))
    got = await store.rejections()
    assert got == [first, second, third]
    # The instant and its precision are kept; the offset it is shown in may be normalised.
    assert got[0].received_at.tzinfo is not None
    assert got[0].received_at.microsecond == 123456
    assert got[0].reason is Reason.FORK
    assert await store.rejections("town-a") == [first, third]
    assert await store.rejections("nobody") == []


async def test_quarantine_keeps_the_first_reason(store: SyncStore) -> None:
    await store.commit(WriteSet(quarantines={"town-a": "fork"}))
    await store.commit(WriteSet(quarantines={"town-a": "replay", "town-b": "foreign_client"}))
    assert await store.quarantined() == {"town-a": "fork", "town-b": "foreign_client"}


async def test_projection_round_trips_states_rows_and_parties(store: SyncStore) -> None:
    full = projection("case-1", {"town-a", "county", "乡镇-乙"})
    bare = CaseProjection(case_id="case-2", state=b"", row=bare_row("case-2"), parties=frozenset())
    await store.commit(WriteSet(projections=[full, bare]))
    ids = ["case-1", "case-2", "case-3"]
    assert await store.case_states(ids) == {"case-1": full.state, "case-2": b""}
    assert await store.case_rows(ids) == {"case-1": full.row, "case-2": bare.row}
    assert await store.case_parties(ids) == {"case-1": full.parties, "case-2": frozenset()}
    row = (await store.case_rows(["case-1"]))["case-1"]
    assert row.flags == ("overdue_risk", "补正")
    assert row.promised_due == date(2026, 3, 16)
    assert row.last_hlc == Hlc(WALL + 5, 2)
    assert row.due_provisional is True


async def test_projection_upsert_replaces_state_row_and_parties(store: SyncStore) -> None:
    await store.commit(WriteSet(projections=[projection("case-1", {"town-a", "town-b"})]))
    newer = projection("case-1", {"county"}, status="finished", finished=True, flags=())
    latest = projection("case-1", {"county", "town-c"}, status="closed", receipt_no=None)
    await store.commit(WriteSet(projections=[newer, latest]))
    assert await store.case_rows(["case-1"]) == {"case-1": latest.row}
    assert await store.case_parties(["case-1"]) == {"case-1": frozenset({"county", "town-c"})}
    assert await store.case_states(["case-1"]) == {"case-1": latest.state}


async def test_watermark_moves_forward_only(store: SyncStore) -> None:
    await store.commit(WriteSet(watermark=5))
    await store.commit(WriteSet(watermark=3))
    assert await store.watermark() == 5
    await store.commit(WriteSet(cursors={"pull": 1}))
    assert await store.watermark() == 5
    await store.commit(WriteSet(watermark=9))
    assert await store.watermark() == 9


async def test_cursors_move_forward_only_and_independently(store: SyncStore) -> None:
    await store.commit(WriteSet(cursors={"pull": 10, "push": 2}))
    await store.commit(WriteSet(cursors={"pull": 4, "push": 3}))
    assert [await store.cursor(n) for n in ("pull", "push", "never")] == [10, 3, 0]


async def test_feed_per_child_pages_with_after_and_limit(store: SyncStore) -> None:
    a = chain("town-a", 4)
    await store.commit(WriteSet(entries=a[:2]))
    # Feed items may name entries of the same write set as well as earlier ones.
    feed = [FeedEntry("child-a", "town-a", 2), FeedEntry("child-b", "town-a", 1)]
    feed += [FeedEntry("child-a", "town-a", 3), FeedEntry("child-a", "town-a", 1)]
    await store.commit(WriteSet(entries=a[2:], feed=feed))
    await store.commit(WriteSet(feed=[FeedEntry("child-a", "town-a", 4)]))
    by_pos = {e.seq: e for e in await store.log_after(0, 10)}
    child_a = await store.feed_after("child-a", 0, 10)
    assert [e for _, e in child_a] == [by_pos[2], by_pos[3], by_pos[1], by_pos[4]]
    positions = [p for p, _ in child_a]
    assert positions == sorted(set(positions))
    assert await store.feed_after("child-a", positions[1], 2) == child_a[2:4]
    assert await store.feed_after("child-a", positions[3], 5) == []
    assert await store.feed_after("child-a", 0, 1) == child_a[:1]
    child_b = await store.feed_after("child-b", 0, 10)
    assert [e for _, e in child_b] == [by_pos[1]]
    assert child_b[0][0] not in positions
    assert await store.feed_after("child-c", 0, 10) == []


@pytest.mark.parametrize("where", ["already_logged", "within_write_set"])
async def test_commit_with_duplicate_entry_leaves_nothing(store: SyncStore, where: str) -> None:
    a = chain("town-a", 6)
    await store.commit(WriteSet(entries=a[:2], held=[a[5]], cursors={"pull": 1}))
    before = await snapshot(store, a, ["case-1", "case-x"])
    duplicate = a[1] if where == "already_logged" else a[2]
    with pytest.raises(ValueError):
        await store.commit(everything([a[2], a[3], duplicate], [a[4]]))
    assert await snapshot(store, a, ["case-1", "case-x"]) == before
    # A failed commit uses up no positions.
    await store.commit(WriteSet(entries=[a[2]]))
    assert await store.log_after(2, 5) == logged([a[2]], 3)


async def test_commit_with_feed_item_not_in_log_leaves_nothing(store: SyncStore) -> None:
    a = chain("town-a", 6)
    await store.commit(WriteSet(entries=a[:2], feed=[FeedEntry("child-b", "town-a", 1)]))
    before = await snapshot(store, a, ["case-1", "case-x"])
    writes = everything(a[2:4], [a[5]])
    writes.feed.append(FeedEntry("child-b", "town-a", 5))
    with pytest.raises(ValueError):
        await store.commit(writes)
    assert await snapshot(store, a, ["case-1", "case-x"]) == before
    await store.commit(WriteSet(entries=a[2:3], feed=[FeedEntry("child-b", "town-a", 3)]))
    assert await store.log_end() == 3
    assert [e.seq for _, e in await store.feed_after("child-b", 0, 10)] == [1, 3]


async def test_reset_projection_keeps_log_heads_feed_and_cursors(store: SyncStore) -> None:
    a = chain("town-a", 4)
    await store.commit(everything(a[:3], [a[3]]))
    cases = ["case-1", "case-x"]
    before = await snapshot(store, a, cases)
    await store.reset_projection()
    after = await snapshot(store, a, cases)
    assert (after["states"], after["rows"], after["parties"], after["watermark"]) == ({}, {}, {}, 0)
    kept = set(before) - {"states", "rows", "parties", "watermark"}
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}
    assert before["states"] and before["watermark"] == 99
    await store.commit(WriteSet(projections=[projection("case-x", {"town-a"})], watermark=3))
    assert await store.watermark() == 3
    assert await store.case_parties(cases) == {"case-x": frozenset({"town-a"})}


async def test_large_key_collections_are_answered_in_full(store: SyncStore) -> None:
    n = 3000
    entries = [
        e
        for o in range(3)
        for e in chain(f"town-{o}", n // 3, cases=tuple(f"c{o}-{i}" for i in range(n // 3)))
    ]
    cases = [e.case_id for e in entries]
    await store.commit(
        WriteSet(
            entries=entries,
            heads={f"o{i}": Head(f"o{i}", 1, b"h", Hlc(i)) for i in range(n)},
            client_claims={i: f"o{i}" for i in range(n)},
            projections=[projection(c, {"county"}) for c in cases],
        )
    )
    absent = [("town-0", n), ("nobody", 1)]
    hashes = await store.hashes_at([(e.origin, e.seq) for e in entries] + absent)
    assert hashes == {(e.origin, e.seq): e.hash for e in entries}
    updates = await store.known_updates([e.update_hash for e in entries] + [b"\x01" * 32])
    assert updates == {e.update_hash for e in entries}
    assert len(await store.heads([f"o{i}" for i in range(n + 5)])) == n
    assert await store.client_owners(range(n + 5)) == {i: f"o{i}" for i in range(n)}
    case_log = await store.case_log([*cases, "missing"])
    assert {c: [e.pos for e in log] for c, log in case_log.items()} == {
        c: [i + 1] for i, c in enumerate(cases)
    }
    assert len(await store.case_states(cases)) == n
    assert await store.case_rows(cases) == {c: case_row(c) for c in cases}
    assert set((await store.case_parties(cases)).values()) == {frozenset({"county"})}


async def test_store_matches_memory_store_over_random_write_sets(store: SyncStore) -> None:
    rng = random.Random(20260302)
    reference = MemoryStore()
    origins = ["town-a", "town-b", "town-c"]
    cases = ["case-1", "case-2", "case-3"]
    known = [
        e for i, o in enumerate(origins) for e in chain(o, 20, cases=tuple(cases), client_id=i)
    ]
    for step in range(40):
        logged_keys = {(e.origin, e.seq) for e in await reference.log_after(0, 1000)}
        fresh = [e for e in known if (e.origin, e.seq) not in logged_keys]
        entries = rng.sample(fresh, min(len(fresh), rng.randint(0, 3)))
        if step % 9 == 4:
            entries.append(rng.choice([e for e in known if (e.origin, e.seq) in logged_keys]))
        feedable = [e for e in known if (e.origin, e.seq) in logged_keys] + entries
        feed = [
            FeedEntry(rng.choice(["child-a", "child-b"]), e.origin, e.seq)
            for e in rng.sample(feedable, min(len(feedable), rng.randint(0, 2)))
        ]
        if step % 11 == 7:
            feed.append(FeedEntry("child-a", "nobody", 1))
        parties = set(rng.sample(origins, rng.randint(0, 3)))
        writes = WriteSet(
            entries=entries,
            heads={e.origin: head_of(e) for e in rng.sample(known, 2)},
            client_claims={rng.randint(0, 5): rng.choice(origins)},
            held=rng.sample(known, rng.randint(0, 2)),
            released=[(rng.choice(origins), rng.randint(1, 20))],
            rejections=[rejection(rng.choice(known), Reason.REPLAY, f"第{step}次", 3)],
            quarantines={rng.choice(origins): rng.choice(["fork", "replay"])},
            projections=[projection(rng.choice(cases), parties, events_count=step)],
            watermark=rng.choice([None, step, step // 2]),
            feed=feed,
            cursors={rng.choice(["pull", "push"]): rng.randint(0, 30)},
        )
        if step % 13 == 12:
            await reference.reset_projection()
            await store.reset_projection()
        outcomes = []
        for target in (reference, store):
            try:
                await target.commit(writes)
                outcomes.append("ok")
            except ValueError:
                outcomes.append("refused")
        assert outcomes[0] == outcomes[1], step
        mine = await snapshot(store, known, cases)
        theirs = await snapshot(reference, known, cases)
        # Feed positions may be numbered differently; entries and their order must agree.
        for view in (mine, theirs):
            view["feed"] = [[e for _, e in child] for child in view["feed"]]
        assert mine == theirs, step
