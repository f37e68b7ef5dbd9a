"""Every receiver check, one reason at a time, through :meth:`Replica.receive`.

Envelopes are written by hand (:class:`Writer`): honest ones through :class:`CaseDoc`, forged
ones with raw pycrdt, all sealed with the origin's real key unless the test is about keys. The
receiver is a township with two communities below it; every test asserts the outcome, the
reason, that the case row did not take the refused envelope, and for the quarantining reasons
that the origin's next, honest envelope is refused with ``quarantined_origin``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pycrdt
import pytest

import sync.replica
from shared.calendar import official_calendar
from shared.delegation import Tier
from shared.events import CaseEvent, Rated, RatingChannel, Satisfaction, encode_event
from shared.hlc import Hlc
from shared.registry import NodeRecord, NodeStatus, Registry
from shared.signing import SigningKey, VerifyKey
from sync.casedoc import EVENTS_ROOT, CaseDoc
from sync.envelope import (
    ENVELOPE_FORMAT,
    GENESIS,
    MAX_UPDATE_BYTES,
    Envelope,
    EnvelopeBody,
    open_body,
    seal,
    verify_envelope,
)
from sync.memory_store import MemoryStore
from sync.messages import EnvelopeResult
from sync.projection import REJECTED_FLAG, UNAUTHORIZED_FLAG, decode_view
from sync.reasons import Outcome, Reason
from sync.replica import Replica
from sync.store import CaseRow
from tests.sync.tree import CATALOG, accepted, build_tree, decided, new_case_id, received

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
COUNTY, TOWN, EAST, WEST = "county", "zhen-shifan", "she-dongcun", "she-xicun"
BANNED, SUSPECT, UNENROLLED = "she-beicun", "she-nancun", "she-zhongcun"

Draft = Callable[[Hlc], CaseEvent]
Edit = Callable[[pycrdt.Doc[Any], pycrdt.Array[Any]], None]


# -- the receiver and its registry -------------------------------------------------------------


@dataclass
class Net:
    """Keys and registry of a small county; ``receiver`` is the township's replica."""

    keys: dict[str, SigningKey]
    registry: Registry
    now: list[datetime] = field(default_factory=lambda: [NOW])

    def replica(self, node_id: str = TOWN) -> Replica:
        calendar = official_calendar()
        return Replica(
            MemoryStore(),
            node_id=node_id,
            key=self.keys[node_id],
            registry=lambda: self.registry,
            catalog_for=lambda version: CATALOG if version == 1 else None,
            calendar=lambda: calendar,
            clock=lambda: self.now[0],
        )

    def writer(self, node_id: str, key: SigningKey | None = None) -> Writer:
        return Writer(node_id, key or self.keys[node_id])


def make_net() -> Net:
    layout = [
        (COUNTY, Tier.COUNTY, None, NodeStatus.ACTIVE, "XZX"),
        (TOWN, Tier.TOWNSHIP, COUNTY, NodeStatus.ACTIVE, "SFZ"),
        (EAST, Tier.COMMUNITY, TOWN, NodeStatus.ACTIVE, "DCS"),
        (WEST, Tier.COMMUNITY, TOWN, NodeStatus.ACTIVE, "XCS"),
        (BANNED, Tier.COMMUNITY, TOWN, NodeStatus.REVOKED, "BCS"),
        (SUSPECT, Tier.COMMUNITY, TOWN, NodeStatus.QUARANTINED, "NCS"),
        (UNENROLLED, Tier.COMMUNITY, TOWN, NodeStatus.ACTIVE, "ZCS"),
    ]
    keys = {node_id: SigningKey.generate() for node_id, *_ in layout}
    nodes = tuple(
        NodeRecord(
            node_id=node_id,
            name=node_id,
            tier=tier,
            parent=parent,
            short_code=code,
            public_key="" if node_id == UNENROLLED else keys[node_id].public_key.to_text(),
            status=status,
            status_reason="" if status is NodeStatus.ACTIVE else "县级中心处置",
        )
        for node_id, tier, parent, status, code in layout
    )
    return Net(keys=keys, registry=Registry(nodes=nodes))


# -- the origin, writing envelopes by hand -----------------------------------------------------


@dataclass
class Writer:
    """An origin's envelope chain; honest unless told otherwise."""

    node_id: str
    key: SigningKey
    seq: int = 0
    prev: bytes = GENESIS
    wall: int = NOW_MS - 3_600_000
    states: dict[str, bytes] = field(default_factory=dict)

    def tick(self) -> Hlc:
        self.wall += 1_000
        return Hlc(self.wall, 0)

    def seal(
        self,
        case_id: str,
        update: bytes,
        client_id: int,
        *,
        hlc: Hlc | None = None,
        seq: int | None = None,
        prev: bytes | None = None,
        key: SigningKey | None = None,
        origin: str | None = None,
    ) -> Envelope:
        """Seal the next envelope of the chain (or an explicit ``seq``/``prev``) and advance."""
        body = EnvelopeBody(
            format=ENVELOPE_FORMAT,
            origin=origin or self.node_id,
            seq=self.seq + 1 if seq is None else seq,
            prev=self.prev if prev is None else prev,
            case_id=case_id,
            hlc=hlc or self.tick(),
            client_id=client_id,
            update=update,
        )
        envelope = seal(key or self.key, body)
        self.seq, self.prev = body.seq, envelope.hash
        return envelope

    def write(self, case_id: str, *drafts: Draft, hlc: Hlc | None = None) -> Envelope:
        """An honest transaction: the drafts' events appended by a fresh CaseDoc."""
        events = [draft(self.tick()) for draft in drafts]
        doc = CaseDoc.load(self.states.get(case_id))
        update = doc.append(events)
        self.states[case_id] = doc.state()
        return self.seal(case_id, update, doc.client_id, hlc=hlc or max(e.hlc for e in events))

    def forge(self, case_id: str, edit: Edit, *, declared: int | None = None) -> Envelope:
        """A raw pycrdt transaction on the case (the writer's state is not advanced)."""
        update, client_id = forged(self.states.get(case_id), edit)
        return self.seal(case_id, update, client_id if declared is None else declared)

    def learn(self, case_id: str, envelope: Envelope) -> None:
        """Take another origin's envelope into this writer's copy of the case."""
        doc = CaseDoc.load(self.states.get(case_id))
        body = open_body(envelope)
        assert doc.apply_checked(
            body.update, origin=body.origin, client_id=body.client_id, case_id=case_id
        ).ok
        self.states[case_id] = doc.state()


def forged(state: bytes | None, edit: Edit, client_id: int | None = None) -> tuple[bytes, int]:
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=client_id)
    array = doc.get(EVENTS_ROOT, type=pycrdt.Array)
    if state is not None:
        doc.apply_update(state)
    before = doc.get_state()
    with doc.transaction():
        edit(doc, array)
    return doc.get_update(before), doc.client_id


def rated(case_id: str, node_id: str) -> Draft:
    return lambda hlc: Rated(
        id=str(uuid.uuid4()),
        case_id=case_id,
        node_id=node_id,
        actor="kiosk",
        hlc=hlc,
        level=Satisfaction(5),
        channel=RatingChannel.HALL_TABLET,
    )


def event_text(draft: Draft, hlc: Hlc) -> str:
    return encode_event(draft(hlc)).decode()


# -- assertions --------------------------------------------------------------------------------


def only(results: list[EnvelopeResult]) -> EnvelopeResult:
    assert len(results) == 1
    return results[0]


async def row_of(replica: Replica, case_id: str) -> CaseRow | None:
    return (await replica.store.case_rows([case_id])).get(case_id)


async def assert_refused_later(replica: Replica, writer: Writer, case_id: str) -> None:
    """The origin is quarantined: its next honest envelope is refused and changes nothing."""
    assert writer.node_id in await replica.store.quarantined()
    before = await row_of(replica, case_id)
    end = await replica.store.log_end()
    result = only(await replica.receive([writer.write(case_id, rated(case_id, writer.node_id))]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.QUARANTINED_ORIGIN)
    assert await replica.store.log_end() == end
    assert await row_of(replica, case_id) == before


async def assert_structural(
    replica: Replica, writer: Writer, case_id: str, bad: Envelope, reason: Reason
) -> None:
    """``bad`` is logged (its checks pass) but refused at projection with ``reason``."""
    before = await row_of(replica, case_id)
    result = only(await replica.receive([bad]))
    assert (result.outcome, result.reason) == (Outcome.ACCEPTED, None)
    rejections = await replica.store.rejections(writer.node_id)
    assert [(r.seq, r.reason, r.case_id) for r in rejections] == [(writer.seq, reason, case_id)]
    assert rejections[0].envelope == bad
    assert reason.quarantines
    assert reason.label in (await replica.store.quarantined())[writer.node_id]
    row = await row_of(replica, case_id)
    assert row is not None and before is not None
    # the case keeps exactly what it had; the refused record is only listed as evidence
    assert (row.events_count, row.status, row.last_hlc) == (
        before.events_count,
        before.status,
        before.last_hlc,
    )
    assert decode_view(row.state_json).state == decode_view(before.state_json).state
    assert [(r.origin, r.seq, r.reason) for r in decode_view(row.state_json).rejected] == [
        (writer.node_id, writer.seq, reason.value)
    ]
    assert REJECTED_FLAG in row.flags
    await assert_refused_later(replica, writer, case_id)


async def opened_case(replica: Replica, writer: Writer, item: str = "X19") -> str:
    """A case received and accepted by ``writer``, already held by the receiver."""
    case_id = new_case_id()
    envelope = writer.write(case_id, received(case_id, writer.node_id, item))
    assert only(await replica.receive([envelope])).outcome is Outcome.ACCEPTED
    envelope = writer.write(case_id, accepted(case_id, writer.node_id))
    assert only(await replica.receive([envelope])).outcome is Outcome.ACCEPTED
    row = await row_of(replica, case_id)
    assert row is not None and row.status == "accepted" and row.events_count == 2
    return case_id


# -- 1. origin ---------------------------------------------------------------------------------


async def test_verify_unknown_origin_is_rejected_and_not_applied() -> None:
    net = make_net()
    replica = net.replica()
    stranger = Writer("she-ghost", SigningKey.generate())
    case_id = new_case_id()
    result = only(await replica.receive([stranger.write(case_id, received(case_id, "she-ghost"))]))
    assert (result.origin, result.seq) == ("she-ghost", 1)
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.UNKNOWN_ORIGIN)
    assert await replica.store.log_end() == 0
    assert await row_of(replica, case_id) is None
    assert [r.reason for r in await replica.store.rejections("she-ghost")] == [
        Reason.UNKNOWN_ORIGIN
    ]
    assert await replica.store.quarantined() == {}


async def test_verify_registered_node_without_key_is_unknown_origin() -> None:
    net = make_net()
    replica = net.replica()
    writer = net.writer(UNENROLLED)
    case_id = new_case_id()
    result = only(await replica.receive([writer.write(case_id, received(case_id, UNENROLLED))]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.UNKNOWN_ORIGIN)
    assert await replica.store.log_end() == 0


async def test_verify_revoked_origin_is_rejected_even_when_signed() -> None:
    net = make_net()
    replica = net.replica()
    writer = net.writer(BANNED)
    case_id = new_case_id()
    result = only(await replica.receive([writer.write(case_id, received(case_id, BANNED))]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.REVOKED_ORIGIN)
    assert "县级中心处置" in result.detail
    assert await replica.store.log_end() == 0
    assert await row_of(replica, case_id) is None
    assert await replica.store.quarantined() == {}


async def test_verify_revocation_in_a_new_release_stops_a_known_origin() -> None:
    net = make_net()
    replica = net.replica()
    writer = net.writer(EAST)
    case_id = await opened_case(replica, writer)
    before = await row_of(replica, case_id)
    net.registry = Registry(
        nodes=tuple(
            msgspec.structs.replace(n, status=NodeStatus.REVOKED) if n.node_id == EAST else n
            for n in net.registry.nodes
        )
    )
    result = only(await replica.receive([writer.write(case_id, rated(case_id, EAST))]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.REVOKED_ORIGIN)
    assert await row_of(replica, case_id) == before


async def test_verify_origin_quarantined_in_the_registry_is_refused() -> None:
    net = make_net()
    replica = net.replica()
    writer = net.writer(SUSPECT)
    case_id = new_case_id()
    result = only(await replica.receive([writer.write(case_id, received(case_id, SUSPECT))]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.QUARANTINED_ORIGIN)
    assert await replica.store.log_end() == 0
    assert await row_of(replica, case_id) is None


async def test_verify_quarantined_origin_refused_for_every_case_other_origins_unaffected() -> None:
    net = make_net()
    replica = net.replica()
    east, west = net.writer(EAST), net.writer(WEST)
    case_id = await opened_case(replica, east)
    bad = east.forge(case_id, lambda _d, a: a.append("不是事件"))
    await replica.receive([bad])
    assert EAST in await replica.store.quarantined()
    other = new_case_id()
    result = only(await replica.receive([east.write(other, received(other, EAST))]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.QUARANTINED_ORIGIN)
    assert await row_of(replica, other) is None
    west_case = await opened_case(replica, west)
    assert (await row_of(replica, west_case)) is not None


# -- 2. form -----------------------------------------------------------------------------------


def _raw_body(**changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "format": ENVELOPE_FORMAT,
        "origin": EAST,
        "seq": 1,
        "prev": GENESIS,
        "case_id": "c",
        "hlc": Hlc(NOW_MS, 0),
        "client_id": 7,
        "update": b"\x00\x00",
    }
    fields.update(changes)
    return msgspec.msgpack.encode(EnvelopeBody(**fields))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"garbage", id="garbage"),
        pytest.param(b"", id="empty"),
        pytest.param(msgspec.msgpack.encode([1, EAST]), id="short"),
        pytest.param(_raw_body(format=2), id="future-format"),
        pytest.param(_raw_body(seq=0), id="seq-zero"),
        pytest.param(_raw_body(seq=2), id="seq-2-genesis-prev"),
        pytest.param(_raw_body(prev=b"\x01" * 32), id="seq-1-with-prev"),
        pytest.param(_raw_body(update=b"\x00" * (MAX_UPDATE_BYTES + 1)), id="oversized"),
    ],
)
async def test_verify_malformed_body_is_rejected(body: bytes) -> None:
    net = make_net()
    replica = net.replica()
    # signed with the origin's real key: form is judged before the signature
    envelope = Envelope(body=body, sig=net.keys[EAST].sign(b"tongban-envelope/v1\x00" + body))
    result = only(await replica.receive([envelope]))
    assert (result.origin, result.seq) == ("", 0)
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.MALFORMED)
    assert await replica.store.log_end() == 0
    rejections = await replica.store.rejections()
    assert [(r.reason, r.envelope) for r in rejections] == [(Reason.MALFORMED, envelope)]
    assert await replica.store.quarantined() == {}


async def test_verify_malformed_envelope_does_not_disturb_the_rest_of_the_batch() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = new_case_id()
    good = east.write(case_id, received(case_id, EAST))
    results = await replica.receive([Envelope(body=b"\x93junk", sig=b""), good])
    assert [(r.outcome, r.reason) for r in results] == [
        (Outcome.REJECTED, Reason.MALFORMED),
        (Outcome.ACCEPTED, None),
    ]
    row = await row_of(replica, case_id)
    assert row is not None and row.events_count == 1


# -- 3. signature ------------------------------------------------------------------------------


async def test_verify_tampered_signature_waits_for_a_voucher_then_yields_to_the_genuine() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = new_case_id()
    good = east.write(case_id, received(case_id, EAST))
    tampered = Envelope(body=good.body, sig=bytes([good.sig[0] ^ 1]) + good.sig[1:])
    result = only(await replica.receive([tampered]))
    # Nothing vouches for it yet: it waits, marked as a bad signature, and is not applied.
    assert (result.outcome, result.reason) == (Outcome.HELD, Reason.BAD_SIGNATURE)
    assert await replica.store.log_end() == 0
    assert await row_of(replica, case_id) is None
    assert await replica.store.quarantined() == {}
    # the genuine envelope is still welcome afterwards
    assert only(await replica.receive([good])).outcome is Outcome.ACCEPTED


async def test_verify_tampered_body_is_rejected() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = new_case_id()
    good = east.write(case_id, received(case_id, EAST))
    body = open_body(good)
    moved = msgspec.msgpack.encode(msgspec.structs.replace(body, case_id=new_case_id()))
    result = only(await replica.receive([Envelope(body=moved, sig=good.sig)]))
    assert (result.outcome, result.reason) == (Outcome.HELD, Reason.BAD_SIGNATURE)
    assert await replica.store.log_end() == 0
    # The genuine record for that seq arrives: it is accepted and the forgery rejected.
    assert only(await replica.receive([good])).outcome is Outcome.ACCEPTED
    rejected = await replica.store.rejections()
    assert [(r.seq, r.reason) for r in rejected] == [(1, Reason.BAD_SIGNATURE)]
    assert await replica.store.held() == []
    assert await replica.store.quarantined() == {}


async def test_verify_envelope_signed_by_another_nodes_key_is_bad_signature() -> None:
    net = make_net()
    replica = net.replica()
    impostor = Writer(EAST, net.keys[WEST])
    case_id = new_case_id()
    result = only(await replica.receive([impostor.write(case_id, received(case_id, EAST))]))
    assert (result.outcome, result.reason) == (Outcome.HELD, Reason.BAD_SIGNATURE)
    assert await replica.store.log_end() == 0


async def test_verify_run_with_bad_tail_signature_keeps_the_valid_prefix() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = new_case_id()
    run = [east.write(case_id, received(case_id, EAST))]
    run += [east.write(case_id, rated(case_id, EAST)) for _ in range(4)]
    tail = Envelope(body=run[-1].body, sig=b"\x00" * 64)
    results = await replica.receive([*run[:-1], tail])
    assert [(r.seq, r.outcome, r.reason) for r in results] == [
        (1, Outcome.ACCEPTED, None),
        (2, Outcome.ACCEPTED, None),
        (3, Outcome.ACCEPTED, None),
        (4, Outcome.ACCEPTED, None),
        (5, Outcome.HELD, Reason.BAD_SIGNATURE),
    ]
    assert (await replica.store.heads([EAST]))[EAST].seq == 4
    row = await row_of(replica, case_id)
    assert row is not None and row.events_count == 4
    # the genuine tail completes the chain later
    assert only(await replica.receive([run[-1]])).outcome is Outcome.ACCEPTED
    row = await row_of(replica, case_id)
    assert row is not None and row.events_count == 5


def _stranger_copy(envelope: Envelope) -> Envelope:
    """The same record with its HLC nudged, re-signed by someone without the origin's key."""
    body = open_body(envelope)
    return seal(SigningKey.generate(), msgspec.structs.replace(body, hlc=Hlc(body.hlc.wall_ms, 5)))


async def test_verify_run_ending_in_a_forged_envelope_keeps_the_prefix() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = new_case_id()
    run = [east.write(case_id, received(case_id, EAST))]
    run += [east.write(case_id, rated(case_id, EAST)) for _ in range(4)]
    results = await replica.receive([run[0], run[1], _stranger_copy(run[2])])
    assert [(r.seq, r.outcome, r.reason) for r in results] == [
        (1, Outcome.ACCEPTED, None),
        (2, Outcome.ACCEPTED, None),
        (3, Outcome.HELD, Reason.BAD_SIGNATURE),
    ]
    assert (await replica.store.heads([EAST]))[EAST].seq == 2
    assert await replica.store.quarantined() == {}
    # the genuine rest of the chain is accepted afterwards
    results = await replica.receive(run[2:])
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert await replica.store.held() == []
    row = await row_of(replica, case_id)
    assert row is not None and row.events_count == 5


async def test_verify_bad_signature_on_a_body_the_chain_vouches_for_is_accepted() -> None:
    # the tail's signature covers every earlier body through the prev hashes
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = new_case_id()
    run = [east.write(case_id, received(case_id, EAST))]
    run += [east.write(case_id, rated(case_id, EAST)) for _ in range(2)]
    mangled = Envelope(body=run[1].body, sig=b"\x01" * 64)
    results = await replica.receive([run[0], mangled, run[2]])
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    row = await row_of(replica, case_id)
    assert row is not None and row.events_count == 3


async def test_verify_forged_envelope_mid_run_does_not_quarantine_the_origin() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = new_case_id()
    run = [east.write(case_id, received(case_id, EAST))]
    run += [east.write(case_id, rated(case_id, EAST)) for _ in range(4)]
    results = await replica.receive([run[0], run[1], _stranger_copy(run[2]), run[3], run[4]])
    assert [(r.seq, r.outcome, r.reason) for r in results][:3] == [
        (1, Outcome.ACCEPTED, None),
        (2, Outcome.ACCEPTED, None),
        (3, Outcome.HELD, Reason.BAD_SIGNATURE),
    ]
    assert Reason.FORK not in {r.reason for r in results}
    assert await replica.store.quarantined() == {}
    await replica.receive(run[2:])
    assert (await replica.store.heads([EAST]))[EAST].seq == 5


async def test_verify_mangled_signature_accepted_below_is_accepted_above() -> None:
    tree = build_tree(batch_size=2)
    community = tree.community.node_id
    writer = Writer(community, tree.community.key)
    case_id = new_case_id()
    run = [writer.write(case_id, received(case_id, community))]
    run += [writer.write(case_id, rated(case_id, community)) for _ in range(2)]
    mangled = Envelope(body=run[1].body, sig=b"\x01" * 64)
    results = await tree.township.replica.receive([run[0], mangled, run[2]])
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    await tree.township.sync()  # pushes [1, 2] then [3]
    assert await tree.county.store.rejections() == []
    assert (await tree.county.store.heads([community]))[community].seq == 3


# -- 4. chain ----------------------------------------------------------------------------------


async def test_verify_duplicate_is_harmless() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    before = await row_of(replica, case_id)
    log = await replica.store.log_after(0, 10)
    results = await replica.receive([e.envelope for e in log] * 2)
    assert {(r.outcome, r.reason) for r in results} == {(Outcome.DUPLICATE, None)}
    assert await replica.store.log_end() == 2
    assert await row_of(replica, case_id) == before
    assert await replica.store.rejections() == []


async def test_verify_gap_is_held_then_released_and_accepted() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = new_case_id()
    first = east.write(case_id, received(case_id, EAST))
    second = east.write(case_id, accepted(case_id, EAST))
    third = east.write(case_id, rated(case_id, EAST))
    results = await replica.receive([third, second])
    assert {(r.seq, r.outcome, r.reason) for r in results} == {
        (2, Outcome.HELD, Reason.GAP),
        (3, Outcome.HELD, Reason.GAP),
    }
    assert await replica.store.log_end() == 0
    assert await row_of(replica, case_id) is None
    assert [h.seq for h in await replica.store.held(EAST)] == [2, 3]
    # re-sending a held envelope does not hold it twice
    assert only(await replica.receive([third])).outcome is Outcome.HELD
    assert [h.seq for h in await replica.store.held(EAST)] == [2, 3]

    result = only(await replica.receive([first]))
    assert (result.outcome, result.reason) == (Outcome.ACCEPTED, None)
    assert await replica.store.held() == []
    assert [(e.seq, e.envelope) for e in await replica.store.log_after(0, 10)] == [
        (1, first),
        (2, second),
        (3, third),
    ]
    assert (await replica.store.heads([EAST]))[EAST].seq == 3
    row = await row_of(replica, case_id)
    assert row is not None and (row.status, row.events_count) == ("accepted", 3)
    assert await replica.store.rejections() == []


async def test_verify_fork_from_a_cloned_node_is_rejected_and_quarantines() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    clone = Writer(EAST, east.key, seq=east.seq, prev=east.prev, wall=east.wall)
    clone.states = dict(east.states)
    mine = east.write(case_id, rated(case_id, EAST))
    theirs = clone.write(case_id, rated(case_id, EAST))
    assert only(await replica.receive([mine])).outcome is Outcome.ACCEPTED
    before = await row_of(replica, case_id)
    result = only(await replica.receive([theirs]))
    assert (result.seq, result.outcome, result.reason) == (3, Outcome.REJECTED, Reason.FORK)
    assert await row_of(replica, case_id) == before
    assert (await replica.store.hashes_at([(EAST, 3)]))[(EAST, 3)] == mine.hash
    assert [r.reason for r in await replica.store.rejections(EAST)] == [Reason.FORK]
    await assert_refused_later(replica, east, case_id)


async def test_verify_fork_on_a_broken_prev_link_is_rejected() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    before = await row_of(replica, case_id)
    update, client = forged(
        east.states[case_id], lambda _d, a: a.append(event_text(rated(case_id, EAST), east.tick()))
    )
    wrong = east.seal(case_id, update, client, prev=b"\x42" * 32)
    result = only(await replica.receive([wrong]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.FORK)
    assert await row_of(replica, case_id) == before
    assert EAST in await replica.store.quarantined()


async def test_verify_fork_inside_one_batch_keeps_the_first_and_rejects_the_second() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    clone = Writer(EAST, east.key)
    case_id = new_case_id()
    mine = east.write(case_id, received(case_id, EAST))
    theirs = clone.write(case_id, received(case_id, EAST))
    results = await replica.receive([mine, theirs])
    assert [(r.outcome, r.reason) for r in results] == [
        (Outcome.ACCEPTED, None),
        (Outcome.REJECTED, Reason.FORK),
    ]
    assert EAST in await replica.store.quarantined()
    # the first copy is logged, but the quarantine already holds when the batch is projected
    assert [(r.seq, r.reason, r.envelope) for r in await replica.store.rejections(EAST)] == [
        (1, Reason.FORK, theirs),
        (1, Reason.QUARANTINED_ORIGIN, mine),
    ]
    row = await row_of(replica, case_id)
    assert row is not None and (row.events_count, row.status) == (0, "incomplete")


async def test_verify_unsigned_fork_does_not_quarantine_the_honest_origin() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    # anyone on the path (or any child) can make up a different body for EAST's seq 2
    first = (await replica.store.log_after(0, 1))[0]
    liar = Writer(EAST, SigningKey.generate(), seq=1, prev=first.hash)
    fake = liar.write(case_id, rated(case_id, EAST))
    result = only(await replica.receive([fake]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.BAD_SIGNATURE)
    assert EAST not in await replica.store.quarantined()


async def test_verify_unsigned_broken_link_does_not_quarantine_the_honest_origin() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    liar = Writer(EAST, SigningKey.generate(), seq=east.seq, prev=b"\x13" * 32)
    fake = liar.write(case_id, rated(case_id, EAST))
    result = only(await replica.receive([fake]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.BAD_SIGNATURE)
    assert EAST not in await replica.store.quarantined()
    # and the honest next envelope is still accepted
    assert only(await replica.receive([east.write(case_id, rated(case_id, EAST))])).outcome is (
        Outcome.ACCEPTED
    )


async def test_verify_replay_of_an_update_at_a_new_seq_is_rejected() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    before = await row_of(replica, case_id)
    original = open_body((await replica.store.log_after(0, 10))[1].envelope)
    again = east.seal(case_id, original.update, original.client_id)
    result = only(await replica.receive([again]))
    assert (result.seq, result.outcome, result.reason) == (3, Outcome.REJECTED, Reason.REPLAY)
    assert await row_of(replica, case_id) == before
    assert (await replica.store.heads([EAST]))[EAST].seq == 2
    assert await replica.store.quarantined() == {}


async def test_verify_replay_of_another_nodes_update_is_rejected() -> None:
    net = make_net()
    replica = net.replica()
    east, west = net.writer(EAST), net.writer(WEST)
    case_id = await opened_case(replica, east)
    before = await row_of(replica, case_id)
    stolen = open_body((await replica.store.log_after(0, 10))[1].envelope)
    result = only(await replica.receive([west.seal(case_id, stolen.update, 99_999)]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.REPLAY)
    assert await row_of(replica, case_id) == before


async def test_verify_replay_inside_one_batch_is_rejected() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = new_case_id()
    first = east.write(case_id, received(case_id, EAST))
    body = open_body(first)
    again = east.seal(case_id, body.update, body.client_id)
    results = await replica.receive([first, again])
    assert [(r.outcome, r.reason) for r in results] == [
        (Outcome.ACCEPTED, None),
        (Outcome.REJECTED, Reason.REPLAY),
    ]
    row = await row_of(replica, case_id)
    assert row is not None and row.events_count == 1


# -- 5. clock ----------------------------------------------------------------------------------


async def test_verify_clock_ahead_is_held_then_accepted_once_the_clock_moves_on() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    before = await row_of(replica, case_id)
    east.wall = NOW_MS + 20 * 60_000  # 20 minutes ahead of the receiver
    ahead = east.write(case_id, rated(case_id, EAST))
    result = only(await replica.receive([ahead]))
    assert (result.outcome, result.reason) == (Outcome.HELD, Reason.CLOCK_AHEAD)
    assert "约 20 分钟" in result.detail
    assert await row_of(replica, case_id) == before
    assert [h.seq for h in await replica.store.held(EAST)] == [3]
    # what follows it waits too
    follow = east.write(case_id, rated(case_id, EAST))
    assert (only(await replica.receive([follow])).outcome) is Outcome.HELD

    net.now[0] = NOW + timedelta(minutes=10)
    assert only(await replica.receive([ahead])).outcome is Outcome.ACCEPTED
    assert await replica.store.held() == []
    assert (await replica.store.heads([EAST]))[EAST].seq == 4
    row = await row_of(replica, case_id)
    assert row is not None and row.events_count == 4
    assert await replica.store.rejections() == []


async def test_verify_small_clock_skew_is_accepted() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    east.wall = NOW_MS + 14 * 60_000
    case_id = new_case_id()
    assert only(await replica.receive([east.write(case_id, received(case_id, EAST))])).outcome is (
        Outcome.ACCEPTED
    )


async def test_verify_clock_ahead_is_released_by_a_later_sync_without_new_records() -> None:
    now = [NOW]
    tree = build_tree(clock=lambda: now[0])
    case_id = new_case_id()
    community = tree.community
    await community.record(case_id, received(case_id, community.node_id))
    await community.sync()
    # the community's clock jumps 30 minutes ahead for one record
    community.replica._clock = lambda: now[0] + timedelta(minutes=30)
    await community.record(case_id, accepted(case_id, community.node_id))
    community.replica._clock = lambda: now[0]
    report = await community.sync()
    assert report.held == 1
    now[0] = NOW + timedelta(hours=1)
    await community.sync()
    await tree.township.sync()
    row = (await tree.county.store.case_rows([case_id])).get(case_id)
    assert row is not None and row.status == "accepted"


async def test_verify_clock_regression_is_rejected() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    before = await row_of(replica, case_id)
    east.wall -= 10_000
    earlier = east.write(case_id, rated(case_id, EAST))
    result = only(await replica.receive([earlier]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.CLOCK_REGRESSION)
    assert await row_of(replica, case_id) == before
    assert (await replica.store.heads([EAST]))[EAST].seq == 2
    assert await replica.store.quarantined() == {}


async def test_verify_clock_regression_inside_a_batch_holds_the_rest() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = new_case_id()
    first = east.write(case_id, received(case_id, EAST))
    east.wall -= 10_000
    second = east.write(case_id, accepted(case_id, EAST))
    third = east.write(case_id, rated(case_id, EAST), hlc=Hlc(east.wall + 60_000, 0))
    results = await replica.receive([first, second, third])
    assert [(r.outcome, r.reason) for r in results] == [
        (Outcome.ACCEPTED, None),
        (Outcome.REJECTED, Reason.CLOCK_REGRESSION),
        (Outcome.HELD, Reason.GAP),
    ]
    row = await row_of(replica, case_id)
    assert row is not None and row.events_count == 1


# -- 6. structure (found at projection; quarantines) -------------------------------------------


async def test_verify_deletes_history_quarantines() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    bad = east.forge(case_id, lambda _d, a: a.__delitem__(0))
    await assert_structural(replica, east, case_id, bad, Reason.DELETES_HISTORY)


async def test_verify_deleting_and_appending_in_one_update_deletes_history() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    text = event_text(rated(case_id, EAST), east.tick())

    def edit(_d: pycrdt.Doc[Any], array: pycrdt.Array[Any]) -> None:
        del array[1]
        array.append(text)

    bad = east.forge(case_id, edit)
    await assert_structural(replica, east, case_id, bad, Reason.DELETES_HISTORY)


async def test_verify_foreign_node_event_quarantines() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    text = event_text(rated(case_id, WEST), east.tick())
    bad = east.forge(case_id, lambda _d, a: a.append(text))
    await assert_structural(replica, east, case_id, bad, Reason.FOREIGN_NODE_EVENT)


async def test_verify_client_id_owned_by_another_node_is_foreign_client() -> None:
    net = make_net()
    replica = net.replica()
    east, west = net.writer(EAST), net.writer(WEST)
    case_id = await opened_case(replica, east)
    before = await row_of(replica, case_id)
    owned = open_body((await replica.store.log_after(0, 10))[0].envelope).client_id
    west.states = dict(east.states)
    text = event_text(rated(case_id, WEST), west.tick())
    update, _ = forged(west.states[case_id], lambda _d, a: a.append(text), client_id=owned)
    bad = west.seal(case_id, update, owned)
    result = only(await replica.receive([bad]))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.FOREIGN_CLIENT)
    assert str(owned) in result.detail
    assert await row_of(replica, case_id) == before
    assert await replica.store.client_owners([owned]) == {owned: EAST}
    await assert_refused_later(replica, west, case_id)


async def test_verify_update_written_under_another_client_id_is_foreign_client() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    text = event_text(rated(case_id, EAST), east.tick())
    update, real = forged(east.states[case_id], lambda _d, a: a.append(text), client_id=424_242)
    bad = east.seal(case_id, update, real + 1)
    await assert_structural(replica, east, case_id, bad, Reason.FOREIGN_CLIENT)


async def test_verify_unknown_root_quarantines() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)

    def edit(doc: pycrdt.Doc[Any], _a: pycrdt.Array[Any]) -> None:
        doc.get("meta", type=pycrdt.Map)["status"] = "approved"

    bad = east.forge(case_id, edit)
    await assert_structural(replica, east, case_id, bad, Reason.UNKNOWN_ROOT)


async def test_verify_malformed_event_quarantines() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    bad = east.forge(case_id, lambda _d, a: a.append('{"kind":"nonsense"}'))
    await assert_structural(replica, east, case_id, bad, Reason.MALFORMED_EVENT)


async def test_verify_non_text_element_is_malformed_event() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    bad = east.forge(case_id, lambda _d, a: a.append(42))
    await assert_structural(replica, east, case_id, bad, Reason.MALFORMED_EVENT)


async def test_verify_case_mismatch_quarantines() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    other = new_case_id()
    text = event_text(rated(other, EAST), east.tick())
    bad = east.forge(case_id, lambda _d, a: a.append(text))
    await assert_structural(replica, east, case_id, bad, Reason.CASE_MISMATCH)


async def test_verify_undecodable_update_quarantines() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    bad = east.seal(case_id, b"\xff\xff\xff not an update", 31_337)
    await assert_structural(replica, east, case_id, bad, Reason.UNDECODABLE_UPDATE)


async def test_verify_structural_violation_refuses_the_rest_of_the_same_batch() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)
    before = await row_of(replica, case_id)
    bad = east.forge(case_id, lambda _d, a: a.append("不是事件"))
    after = east.write(case_id, rated(case_id, EAST))
    results = await replica.receive([bad, after])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert [(r.seq, r.reason) for r in await replica.store.rejections(EAST)] == [
        (3, Reason.MALFORMED_EVENT),
        (4, Reason.QUARANTINED_ORIGIN),
    ]
    row = await row_of(replica, case_id)
    assert row is not None and before is not None
    assert row.events_count == before.events_count


async def test_verify_quarantine_applies_in_log_order_whatever_the_chunking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    net = make_net()
    east = net.writer(EAST)
    good_case, bad_case = new_case_id(), new_case_id()
    batch = [
        east.write(good_case, received(good_case, EAST)),
        east.forge(bad_case, lambda _d, a: a.append("不是事件")),
        east.write(good_case, rated(good_case, EAST)),
    ]
    whole = net.replica()
    await whole.receive(batch)
    monkeypatch.setattr(sync.replica, "PROJECTION_CHUNK", 2)
    chunked = net.replica()
    await chunked.receive(batch)
    assert await whole.store.log_end() == await chunked.store.log_end() == 3
    assert await row_of(whole, good_case) == await row_of(chunked, good_case)


async def test_verify_update_arriving_before_its_dependency_is_applied_when_it_arrives() -> None:
    net = make_net()
    east, west = net.writer(EAST), net.writer(WEST)
    case_id = new_case_id()
    first = east.write(case_id, received(case_id, EAST))
    west.learn(case_id, first)
    builds_on_it = west.write(case_id, rated(case_id, WEST))
    in_order, reversed_order = net.replica(), net.replica()
    await in_order.receive([first, builds_on_it])
    await reversed_order.receive([builds_on_it])
    await reversed_order.receive([first])
    expected = await row_of(in_order, case_id)
    assert expected is not None and expected.events_count == 2
    assert await row_of(reversed_order, case_id) == expected


# -- 7. authority ------------------------------------------------------------------------------


async def test_verify_unauthorized_action_is_kept_as_evidence_and_ignored_by_the_fold() -> None:
    net = make_net()
    replica = net.replica()
    east = net.writer(EAST)
    case_id = await opened_case(replica, east)  # X19: the township decides it, not the community
    before = await row_of(replica, case_id)
    decision = east.write(case_id, decided(case_id, EAST))
    result = only(await replica.receive([decision]))
    assert (result.outcome, result.reason) == (Outcome.ACCEPTED, None)
    row = await row_of(replica, case_id)
    assert row is not None and before is not None
    assert row.status == "accepted"
    assert UNAUTHORIZED_FLAG in row.flags
    assert row.events_count == 3
    view = decode_view(row.state_json)
    assert view.state == decode_view(before.state_json).state
    assert [(u.node_id, u.kind) for u in view.unauthorized] == [(EAST, "decided")]
    assert view.rejected == ()
    assert await replica.store.rejections() == []
    assert await replica.store.quarantined() == {}
    # not a quarantine: the origin's later records still count
    rating = east.write(case_id, rated(case_id, EAST))
    assert only(await replica.receive([rating])).outcome is Outcome.ACCEPTED
    row = await row_of(replica, case_id)
    assert row is not None and row.events_count == 4


async def test_verify_unauthorized_action_is_judged_the_same_at_every_tier() -> None:
    tree = build_tree()
    net_writer = Writer(tree.community.node_id, tree.community.key)
    case_id = new_case_id()
    community = tree.community.node_id
    envelopes = [
        net_writer.write(case_id, received(case_id, community)),
        net_writer.write(case_id, accepted(case_id, community)),
        net_writer.write(case_id, decided(case_id, community)),
    ]
    await tree.community.replica.receive(envelopes)  # as a restore from backup would
    await tree.community.sync()
    await tree.township.sync()
    rows = [
        (await member.store.case_rows([case_id]))[case_id]
        for member in (tree.community, tree.township, tree.county)
    ]
    assert rows[0] == rows[1] == rows[2]
    assert UNAUTHORIZED_FLAG in rows[2].flags and rows[2].status == "accepted"


# -- end to end: one envelope, three tiers -----------------------------------------------------


async def test_verify_community_envelope_is_verified_at_the_county_byte_for_byte() -> None:
    tree = build_tree()
    community = tree.community.node_id
    case_id = new_case_id()
    await tree.community.record(case_id, received(case_id, community), accepted(case_id, community))
    await tree.community.record(case_id, rated(case_id, community))
    await tree.community.sync()
    await tree.township.sync()
    logs = [
        [(e.origin, e.seq, e.envelope) for e in (await m.store.case_log([case_id]))[case_id]]
        for m in (tree.community, tree.township, tree.county)
    ]
    assert logs[0] == logs[1] == logs[2]
    assert [(o, s) for o, s, _ in logs[2]] == [(community, 1), (community, 2)]
    assert tree.registry is not None
    record = tree.registry.get(community)
    assert record is not None
    for _, _, envelope in logs[2]:
        verify_envelope(envelope, VerifyKey.from_text(record.public_key))
    assert await tree.county.store.rejections() == []
