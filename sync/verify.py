"""The receiver checks of a batch of envelopes, before anything is stored.

The order is the one documented in :mod:`sync.reasons`: origin, form, signature, chain, clock,
replay and client ownership. Structural and semantic rules need the case document and run at
projection (:mod:`sync.projection`), after the envelope is logged.

Signatures are checked per run: for the envelopes of one origin that extend its chain without a
break, every ``prev`` link is recomputed and only the last envelope's signature is verified, since
it commits to the hash of every earlier one. If that signature fails, each envelope is verified on
its own and the longest valid prefix is kept. This is what makes catching up after days offline
cheap: a backlog of 100,000 envelopes from one township costs a few dozen signature checks.

Nothing here touches storage: :func:`check_batch` is given what it needs to know in a
:class:`CheckContext` and returns one :class:`Verdict` per envelope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from shared.errors import InvalidError, SignatureInvalidError
from shared.hlc import Hlc
from shared.registry import NodeStatus, Registry
from shared.signing import VerifyKey
from sync.envelope import GENESIS, Envelope, EnvelopeBody, open_body, verify_envelope
from sync.reasons import Outcome, Reason
from sync.store import Head, LogEntry

DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000
"""How far ahead of the receiver's clock an envelope's HLC may be before it is held."""


# One per envelope of a batch; plain values only (gc=False, as sync.envelope explains).
class Verdict(msgspec.Struct, frozen=True, gc=False):
    """The outcome for one envelope; ``entry`` is set whenever the body decoded."""

    envelope: Envelope
    outcome: Outcome
    reason: Reason | None = None
    detail: str = ""
    entry: LogEntry | None = None
    body: EnvelopeBody | None = None


@dataclass
class CheckContext:
    """What the receiver knows, fetched from its store for this batch."""

    registry: Registry
    heads: dict[str, Head]
    quarantined: dict[str, str]
    logged_hashes: dict[tuple[str, int], bytes]
    known_updates: set[bytes]
    client_owners: dict[int, str]
    now_ms: int
    chained: frozenset[str] = frozenset()
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS
    keys: dict[str, VerifyKey] = field(default_factory=dict)
    """Parsed keys by origin (filled on demand)."""

    def key_of(self, origin: str) -> VerifyKey | None:
        """The origin's public key from the registry (parsed once)."""
        if origin not in self.keys:
            record = self.registry.get(origin)
            if record is None or not record.public_key:
                return None
            self.keys[origin] = VerifyKey.from_text(record.public_key)
        return self.keys[origin]


def decode_all(envelopes: Sequence[Envelope]) -> list[tuple[Envelope, EnvelopeBody | None, str]]:
    """Decode every body; undecodable ones carry the reason text."""
    decoded: list[tuple[Envelope, EnvelopeBody | None, str]] = []
    for envelope in envelopes:
        try:
            decoded.append((envelope, open_body(envelope), ""))
        except InvalidError as exc:
            decoded.append((envelope, None, exc.message))
    return decoded


Item = tuple[int, Envelope, EnvelopeBody, LogEntry]
"""An envelope's batch index, the envelope, its decoded body and its index entry."""

Prepared = tuple[Envelope, EnvelopeBody | None, str, LogEntry | None]
"""An envelope with its decoded body (or the decoding problem) and its index entry."""


def prepare(envelopes: Sequence[Envelope]) -> list[Prepared]:
    """Decode and index each envelope once (hashing is the costly part of a large batch)."""
    return [
        (envelope, body, problem, LogEntry.of(envelope, body) if body is not None else None)
        for envelope, body, problem in decode_all(envelopes)
    ]


def check_batch(
    envelopes: Sequence[Envelope], ctx: CheckContext, prepared: Sequence[Prepared] | None = None
) -> list[Verdict]:
    """Verdicts for ``envelopes``, in the same order.

    Envelopes of one origin are judged in ``seq`` order whatever their order in the batch, so a
    batch may mix origins freely. ``prepared`` (from :func:`prepare`) saves decoding twice.
    """
    verdicts: dict[int, Verdict] = {}
    by_origin: dict[str, list[Item]] = {}
    for index, (envelope, body, problem, entry) in enumerate(prepared or prepare(envelopes)):
        if body is None or entry is None:
            verdicts[index] = Verdict(envelope, Outcome.REJECTED, Reason.MALFORMED, problem)
        else:
            by_origin.setdefault(body.origin, []).append((index, envelope, body, entry))
    claimed: dict[int, str] = {}
    updates: set[bytes] = set()
    for origin, items in by_origin.items():
        items.sort(key=lambda item: item[2].seq)
        for index, verdict in _check_origin(origin, items, ctx, claimed, updates):
            verdicts[index] = verdict
    return [verdicts[i] for i in range(len(envelopes))]


def _check_origin(
    origin: str,
    pool: list[Item],
    ctx: CheckContext,
    claimed: dict[int, str],
    updates: set[bytes],
) -> list[tuple[int, Verdict]]:
    barrier = _origin_barrier(origin, ctx)
    if barrier is not None:
        reason, detail = barrier
        return [(i, Verdict(e, Outcome.REJECTED, reason, detail, en, b)) for i, e, b, en in pool]
    if origin not in ctx.chained:
        return _check_unchained(origin, pool, ctx, claimed, updates)
    out, chain, held = _chain(origin, pool, ctx)
    head = ctx.heads.get(origin)
    last_hlc = head.hlc if head else None
    for position, (index, envelope, body, entry) in enumerate(chain):
        verdict = _check_clock_and_ownership(
            origin, body, entry, last_hlc=last_hlc, ctx=ctx, claimed=claimed, updates=updates
        )
        if verdict is None:
            last_hlc = body.hlc
            claimed[body.client_id] = origin
            updates.add(entry.update_hash)
            out.append((index, Verdict(envelope, Outcome.ACCEPTED, None, "", entry, body)))
            continue
        out.append((index, verdict))
        held = [*chain[position + 1 :], *held]
        break
    out.extend((i, _after_break(origin, e, en, b)) for i, e, b, en in held)
    return out


def _chain(
    origin: str, pool: list[Item], ctx: CheckContext
) -> tuple[list[tuple[int, Verdict]], list[Item], list[Item]]:
    """Split an origin's envelopes into settled verdicts, the authentic run that extends its
    chain (in seq order) and those that must wait.

    A conflicting envelope (another body for a seq already held) counts as a fork only when its
    own signature is valid: only the origin's key can prove that the origin equivocated, so an
    unsigned fake can never get an honest node quarantined.
    """
    head = ctx.heads.get(origin)
    end_seq = head.seq if head else 0
    end_hash = head.hash if head else GENESIS
    out: list[tuple[int, Verdict]] = []
    known: dict[int, bytes] = {}
    remaining: list[Item] = []
    for item in pool:
        seq, digest = item[2].seq, item[3].hash
        if seq <= end_seq:
            logged = ctx.logged_hashes.get((origin, seq))
            if logged == digest:
                out.append(
                    (item[0], Verdict(item[1], Outcome.DUPLICATE, None, "", item[3], item[2]))
                )
            else:
                out.append((item[0], _conflict(origin, item, ctx)))
        else:
            remaining.append(item)
    chain: list[Item] = []
    while True:
        run = _linked_run(remaining, end_seq, end_hash)
        if not run:
            break
        vouched = _vouched_length(origin, run, ctx)
        chain.extend(run[:vouched])
        for item in run[:vouched]:
            remaining.remove(item)
            known[item[2].seq] = item[3].hash
        if vouched:
            end_seq, end_hash = run[vouched - 1][2].seq, run[vouched - 1][3].hash
        if vouched == len(run):
            break
        suspect = run[vouched]
        remaining.remove(suspect)
        if suspect is run[-1]:
            # Nothing after it vouches for its body yet. A later record may (a relay that
            # mangled only the signature bytes), or a genuine record for this seq may arrive
            # and show it forged: it waits, and its reason says why.
            detail = f"节点 {origin} 的第 {suspect[2].seq} 号记录签名无效，待后续记录核验"
            verdict = Verdict(
                suspect[1], Outcome.HELD, Reason.BAD_SIGNATURE, detail, suspect[3], suspect[2]
            )
            out.append((suspect[0], verdict))
            break
        detail = f"节点 {origin} 的第 {suspect[2].seq} 号记录签名无效"
        out.append(
            (suspect[0], _reject(suspect[1], Reason.BAD_SIGNATURE, detail, suspect[3], suspect[2]))
        )
    held: list[Item] = []
    for item in remaining:
        seq = item[2].seq
        if (seq <= end_seq and known.get(seq) != item[3].hash) or (
            seq == end_seq + 1 and item[2].prev != end_hash
        ):
            # Another body for a seq already settled, or the next seq built on a different
            # past: nothing can ever make it link.
            out.append((item[0], _conflict(origin, item, ctx)))
        elif item[2].seq <= end_seq:
            out.append((item[0], Verdict(item[1], Outcome.DUPLICATE, None, "", item[3], item[2])))
        else:
            held.append(item)
    return out, chain, held


def _linked_run(remaining: list[Item], end_seq: int, end_hash: bytes) -> list[Item]:
    """The longest run in ``remaining`` that continues the chain from ``(end_seq, end_hash)``."""
    by_seq: dict[int, list[Item]] = {}
    for item in remaining:
        by_seq.setdefault(item[2].seq, []).append(item)
    run: list[Item] = []
    seq, prev = end_seq + 1, end_hash
    while True:
        nxt = next((i for i in by_seq.get(seq, []) if i[2].prev == prev), None)
        if nxt is None:
            return run
        run.append(nxt)
        seq, prev = seq + 1, nxt[3].hash


def _vouched_length(origin: str, run: list[Item], ctx: CheckContext) -> int:
    """How many envelopes at the start of ``run`` are authentic.

    A valid signature on envelope k vouches for every earlier body of the run, because each
    ``prev`` commits to the hash of the one before. So the run is checked from its end: in the
    honest case one signature settles the whole run.
    """
    key = ctx.key_of(origin)
    if key is None:
        return 0
    for position in range(len(run) - 1, -1, -1):
        try:
            verify_envelope(run[position][1], key)
        except SignatureInvalidError:
            continue
        return position + 1
    return 0


def _conflict(origin: str, item: Item, ctx: CheckContext) -> Verdict:
    _, envelope, body, entry = item
    key = ctx.key_of(origin)
    try:
        if key is None:
            raise SignatureInvalidError("no key")
        verify_envelope(envelope, key)
    except SignatureInvalidError:
        detail = f"节点 {origin} 的第 {body.seq} 号记录签名无效"
        return _reject(envelope, Reason.BAD_SIGNATURE, detail, entry, body)
    detail = f"节点 {origin} 的第 {body.seq} 号记录已有另一份经其签名的不同内容（疑似节点被复制）"
    return _reject(envelope, Reason.FORK, detail, entry, body)


def _check_unchained(
    origin: str,
    pool: list[Item],
    ctx: CheckContext,
    claimed: dict[int, str],
    updates: set[bytes],
) -> list[tuple[int, Verdict]]:
    """Envelopes of an origin outside this receiver's subtree, relayed down by its parent.

    A parent sends a child only the records of cases the child's subtree takes part in, so such
    an origin's sequence has legitimate holes here: each envelope stands on its own signature.
    """
    key = ctx.key_of(origin)
    out: list[tuple[int, Verdict]] = []
    for index, envelope, body, entry in pool:
        logged = ctx.logged_hashes.get((origin, body.seq))
        if logged == entry.hash:
            out.append((index, Verdict(envelope, Outcome.DUPLICATE, None, "", entry, body)))
            continue
        if logged is not None:
            out.append((index, _conflict(origin, (index, envelope, body, entry), ctx)))
            continue
        try:
            if key is None:
                raise SignatureInvalidError("no key")
            verify_envelope(envelope, key)
        except SignatureInvalidError:
            detail = f"节点 {origin} 的第 {body.seq} 号记录签名无效"
            out.append((index, _reject(envelope, Reason.BAD_SIGNATURE, detail, entry, body)))
            continue
        verdict = _check_clock_and_ownership(
            origin, body, entry, last_hlc=None, ctx=ctx, claimed=claimed, updates=updates
        )
        if verdict is None:
            claimed[body.client_id] = origin
            updates.add(entry.update_hash)
            verdict = Verdict(envelope, Outcome.ACCEPTED, None, "", entry, body)
        out.append((index, verdict))
    return out


def _origin_barrier(origin: str, ctx: CheckContext) -> tuple[Reason, str] | None:
    record = ctx.registry.get(origin)
    if record is None or not record.public_key:
        return Reason.UNKNOWN_ORIGIN, f"节点 {origin} 未在县级登记或尚未完成注册"
    if record.status is NodeStatus.REVOKED:
        return Reason.REVOKED_ORIGIN, f"节点 {origin} 已被吊销：{record.status_reason}"
    if record.status is NodeStatus.QUARANTINED or origin in ctx.quarantined:
        why = ctx.quarantined.get(origin) or record.status_reason
        return Reason.QUARANTINED_ORIGIN, f"节点 {origin} 已被隔离：{why}"
    return None


def _check_clock_and_ownership(
    origin: str,
    body: EnvelopeBody,
    entry: LogEntry,
    *,
    last_hlc: Hlc | None,
    ctx: CheckContext,
    claimed: dict[int, str],
    updates: set[bytes],
) -> Verdict | None:
    envelope = entry.envelope
    if body.hlc.wall_ms > ctx.now_ms + ctx.max_skew_ms:
        ahead = (body.hlc.wall_ms - ctx.now_ms) // 60_000
        detail = f"节点 {origin} 的记录时间超前本机约 {ahead} 分钟，待时间校准后接收"
        return Verdict(envelope, Outcome.HELD, Reason.CLOCK_AHEAD, detail, entry, body)
    if last_hlc is not None and body.hlc < last_hlc:
        detail = f"节点 {origin} 的第 {body.seq} 号记录时间早于其上一条记录"
        return _reject(envelope, Reason.CLOCK_REGRESSION, detail, entry, body)
    if entry.update_hash in ctx.known_updates or entry.update_hash in updates:
        detail = f"节点 {origin} 的第 {body.seq} 号记录重复提交了已收到的更新"
        return _reject(envelope, Reason.REPLAY, detail, entry, body)
    owner = ctx.client_owners.get(body.client_id) or claimed.get(body.client_id)
    if owner is not None and owner != origin:
        detail = f"节点 {origin} 使用了节点 {owner} 的写入标识 {body.client_id}"
        return _reject(envelope, Reason.FOREIGN_CLIENT, detail, entry, body)
    return None


def _after_break(origin: str, envelope: Envelope, entry: LogEntry, body: EnvelopeBody) -> Verdict:
    detail = f"节点 {origin} 此前的记录未被接收，本条暂存"
    return Verdict(envelope, Outcome.HELD, Reason.GAP, detail, entry, body)


def _reject(
    envelope: Envelope, reason: Reason, detail: str, entry: LogEntry, body: EnvelopeBody
) -> Verdict:
    return Verdict(envelope, Outcome.REJECTED, reason, detail, entry, body)
