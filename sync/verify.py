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

from shared.errors import InvalidError, SignatureInvalidError
from shared.hlc import Hlc
from shared.registry import NodeStatus, Registry
from shared.signing import VerifyKey
from sync.envelope import GENESIS, Envelope, EnvelopeBody, open_body, verify_envelope
from sync.reasons import Outcome, Reason
from sync.store import Head, LogEntry

DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000
"""How far ahead of the receiver's clock an envelope's HLC may be before it is held."""


@dataclass(frozen=True, slots=True)
class Verdict:
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
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS
    keys: dict[str, VerifyKey] = field(default_factory=dict)

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


def check_batch(envelopes: Sequence[Envelope], ctx: CheckContext) -> list[Verdict]:
    """Verdicts for ``envelopes``, in the same order.

    Envelopes of one origin are judged in ``seq`` order whatever their order in the batch, so a
    batch may mix origins freely.
    """
    verdicts: dict[int, Verdict] = {}
    by_origin: dict[str, list[tuple[int, Envelope, EnvelopeBody]]] = {}
    for index, (envelope, body, problem) in enumerate(decode_all(envelopes)):
        if body is None:
            verdicts[index] = Verdict(envelope, Outcome.REJECTED, Reason.MALFORMED, problem)
        else:
            by_origin.setdefault(body.origin, []).append((index, envelope, body))
    claimed: dict[int, str] = {}
    updates: set[bytes] = set()
    for origin, items in by_origin.items():
        items.sort(key=lambda item: item[2].seq)
        for index, verdict in _check_origin(origin, items, ctx, claimed, updates):
            verdicts[index] = verdict
    return [verdicts[i] for i in range(len(envelopes))]


def _check_origin(
    origin: str,
    items: list[tuple[int, Envelope, EnvelopeBody]],
    ctx: CheckContext,
    claimed: dict[int, str],
    updates: set[bytes],
) -> list[tuple[int, Verdict]]:
    barrier = _origin_barrier(origin, ctx)
    if barrier is not None:
        reason, detail = barrier
        return [
            (i, Verdict(e, Outcome.REJECTED, reason, detail, LogEntry.of(e, b), b))
            for i, e, b in items
        ]
    out, run = _chain(origin, items, ctx)
    last_hlc = head.hlc if (head := ctx.heads.get(origin)) else None
    authentic = _authenticated_prefix(origin, run, ctx)
    for position, (index, envelope, body, entry) in enumerate(run):
        if position >= authentic:
            if position == authentic:
                detail = f"节点 {origin} 的第 {body.seq} 号记录签名无效"
                out.append((index, _reject(envelope, Reason.BAD_SIGNATURE, detail, entry, body)))
            else:
                out.append((index, _after_break(origin, envelope, entry, body)))
            continue
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
        for later_index, later_envelope, later_body, later_entry in run[position + 1 :]:
            out.append((later_index, _after_break(origin, later_envelope, later_entry, later_body)))
        break
    return out


def _chain(
    origin: str, items: list[tuple[int, Envelope, EnvelopeBody]], ctx: CheckContext
) -> tuple[list[tuple[int, Verdict]], list[tuple[int, Envelope, EnvelopeBody, LogEntry]]]:
    """Verdicts for an origin's envelopes that cannot extend its chain, and the run that does."""
    head = ctx.heads.get(origin)
    expected_seq = (head.seq if head else 0) + 1
    expected_prev = head.hash if head else GENESIS
    out: list[tuple[int, Verdict]] = []
    run: list[tuple[int, Envelope, EnvelopeBody, LogEntry]] = []
    seen_in_batch: dict[int, bytes] = {}
    broken = False
    for index, envelope, body in items:
        entry = LogEntry.of(envelope, body)
        earlier = ctx.logged_hashes.get((origin, body.seq)) or seen_in_batch.get(body.seq)
        if body.seq < expected_seq or body.seq in seen_in_batch:
            if earlier == entry.hash:
                out.append((index, Verdict(envelope, Outcome.DUPLICATE, None, "", entry, body)))
            else:
                detail = f"节点 {origin} 的第 {body.seq} 号记录已有另一份不同内容"
                out.append((index, _reject(envelope, Reason.FORK, detail, entry, body)))
            continue
        if broken or body.seq > expected_seq:
            detail = f"等待节点 {origin} 的第 {expected_seq} 号记录"
            out.append((index, Verdict(envelope, Outcome.HELD, Reason.GAP, detail, entry, body)))
            broken = True
            continue
        if body.prev != expected_prev:
            detail = f"节点 {origin} 的第 {body.seq} 号记录与前一条记录的摘要不符"
            out.append((index, _reject(envelope, Reason.FORK, detail, entry, body)))
            broken = True
            continue
        seen_in_batch[body.seq] = entry.hash
        run.append((index, envelope, body, entry))
        expected_seq, expected_prev = body.seq + 1, entry.hash
    return out, run


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


def _authenticated_prefix(
    origin: str, run: list[tuple[int, Envelope, EnvelopeBody, LogEntry]], ctx: CheckContext
) -> int:
    """How many envelopes at the start of ``run`` are authentic (mode B, then fallback)."""
    if not run:
        return 0
    key = ctx.key_of(origin)
    if key is None:
        return 0
    try:
        verify_envelope(run[-1][1], key)
    except SignatureInvalidError:
        pass
    else:
        return len(run)
    for position, (_, envelope, _, _) in enumerate(run):
        try:
            verify_envelope(envelope, key)
        except SignatureInvalidError:
            return position
    return len(run)


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
