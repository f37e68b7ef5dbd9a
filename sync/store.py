"""The storage interface of replication, implemented by the node and by the county.

Everything a receiver knows is derived from its envelope log. A store keeps:

* the **log**: every accepted envelope, exactly as received, numbered by ``pos`` in arrival
  order (the receiver's own order; children pull by it);
* the **heads**: per origin, the last accepted ``seq``, its hash and HLC;
* **held** envelopes waiting for a gap to close or a clock to catch up;
* the **client registry**: which node owns each CRDT client id;
* **rejections** (evidence) and **quarantined** origins;
* the **projection**: per case, the CRDT state, a queryable row and the set of nodes taking part,
  up to a ``watermark`` position of the log;
* the **feed**: per child node, the log entries it should receive, in order;
* named **cursors** (e.g. how far a node has pulled from its parent).

All writes go through :meth:`SyncStore.commit`, which applies one :class:`WriteSet` in a single
transaction: a crash leaves either all of it or none of it, so re-sending and re-projecting are
always safe.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import msgspec

from shared.hlc import Hlc
from sync.envelope import Envelope, EnvelopeBody, update_hash
from sync.reasons import Reason


class LogEntry(msgspec.Struct, frozen=True, gc=False):
    """An envelope with the fields a receiver indexes. ``pos`` is 0 until committed.

    A struct, not a dataclass: a backlog makes hundreds of thousands of them, and a struct of
    immutable values is quicker to make and never traversed by the garbage collector.
    """

    origin: str
    seq: int
    hash: bytes
    prev: bytes
    case_id: str
    hlc: Hlc
    client_id: int
    update_hash: bytes
    envelope: Envelope
    pos: int = 0

    @classmethod
    def of(cls, envelope: Envelope, body: EnvelopeBody) -> LogEntry:
        """Index an envelope whose body has been decoded."""
        return cls(
            origin=body.origin,
            seq=body.seq,
            hash=envelope.hash,
            prev=body.prev,
            case_id=body.case_id,
            hlc=body.hlc,
            client_id=body.client_id,
            update_hash=update_hash(body.update),
            envelope=envelope,
        )


@dataclass(frozen=True, slots=True)
class Head:
    """The newest accepted envelope of one origin."""

    origin: str
    seq: int
    hash: bytes
    hlc: Hlc


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected envelope, kept as evidence for supervision."""

    origin: str
    seq: int
    hash: bytes
    case_id: str
    reason: Reason
    detail: str
    envelope: Envelope
    received_at: datetime


# Plain values only (gc=False, as sync.envelope explains).
class CaseRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The queryable projection of one case (the full fold result is in ``state_json``)."""

    case_id: str
    item_code: str | None
    catalog_version: int | None
    origin_node: str | None
    handling_node: str | None
    status: str
    receipt_no: str | None
    applicant_name: str | None
    received_on: date | None
    accepted_on: date | None
    promised_due: date | None
    statutory_due: date | None
    due_provisional: bool
    paused: bool
    finished: bool
    light: str | None
    flags: tuple[str, ...]
    events_count: int
    last_hlc: Hlc
    state_json: bytes


@dataclass(frozen=True, slots=True)
class CaseProjection:
    """Everything derived for one case at projection time."""

    case_id: str
    state: bytes
    row: CaseRow
    parties: frozenset[str]


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """Log entry ``(origin, seq)`` is to be sent down to ``child``."""

    child: str
    origin: str
    seq: int


@dataclass
class WriteSet:
    """Everything one step writes, applied atomically by :meth:`SyncStore.commit`.

    Attributes:
        entries: new log entries; the store assigns ``pos`` in list order.
        heads: new head per origin (only ever moves forward).
        client_claims: CRDT client id -> owning node, for ids seen for the first time.
        held: envelopes to keep aside; ``released`` removes held ``(origin, seq)`` keys.
        rejections: evidence rows; ``quarantines`` maps origin -> reason (first reason kept).
        projections: per-case state, row and parties to upsert.
        watermark: new projection watermark, if it moves.
        feed: entries to queue for children (entries of this same write set may be named).
        cursors: named cursors to set (they only move forward).
    """

    entries: list[LogEntry] = field(default_factory=list)
    heads: dict[str, Head] = field(default_factory=dict)
    client_claims: dict[int, str] = field(default_factory=dict)
    held: list[LogEntry] = field(default_factory=list)
    released: list[tuple[str, int]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    quarantines: dict[str, str] = field(default_factory=dict)
    projections: list[CaseProjection] = field(default_factory=list)
    watermark: int | None = None
    feed: list[FeedEntry] = field(default_factory=list)
    cursors: dict[str, int] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """Whether committing would change nothing."""
        return not any(
            (
                self.entries,
                self.heads,
                self.client_claims,
                self.held,
                self.released,
                self.rejections,
                self.quarantines,
                self.projections,
                self.watermark is not None,
                self.feed,
                self.cursors,
            )
        )


class SyncStore(Protocol):
    """Storage of one receiver (a node, or the county). Implementations must be safe to call
    from one event loop; they serialise their own writes."""

    async def commit(self, writes: WriteSet) -> None:
        """Apply ``writes`` in one transaction (see :class:`WriteSet`)."""

    async def heads(self, origins: Collection[str] | None = None) -> dict[str, Head]:
        """Heads of these origins (all when None); unknown origins are absent."""

    async def hashes_at(self, keys: Collection[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
        """Hash of the logged envelope at each ``(origin, seq)``; absent when not logged."""

    async def known_updates(self, update_hashes: Collection[bytes]) -> set[bytes]:
        """Which of these update hashes are already in the log."""

    async def client_owners(self, client_ids: Collection[int]) -> dict[int, str]:
        """Owning node of each known client id."""

    async def quarantined(self) -> dict[str, str]:
        """Quarantined origins and why."""

    async def held(self, origin: str | None = None) -> list[LogEntry]:
        """Held envelopes (of one origin, or all), ordered by origin then seq."""

    async def log_after(self, pos: int, limit: int) -> list[LogEntry]:
        """Log entries with ``pos`` greater than ``pos``, ascending, at most ``limit``."""

    async def log_end(self) -> int:
        """The highest ``pos`` in the log (0 when empty)."""

    async def case_log(self, case_ids: Collection[str]) -> dict[str, list[LogEntry]]:
        """Every log entry of each case, ordered by ``pos``; cases without entries absent."""

    async def case_states(self, case_ids: Collection[str]) -> dict[str, bytes]:
        """Projected CRDT state of each case."""

    async def case_parties(self, case_ids: Collection[str]) -> dict[str, frozenset[str]]:
        """Nodes taking part in each projected case."""

    async def case_rows(self, case_ids: Collection[str]) -> dict[str, CaseRow]:
        """Projected rows."""

    async def watermark(self) -> int:
        """Log position up to which every entry is projected."""

    async def cursor(self, name: str) -> int:
        """A named cursor (0 when never set)."""

    async def feed_after(self, child: str, after: int, limit: int) -> list[tuple[int, LogEntry]]:
        """Feed of ``child`` after feed position ``after``: ``(feed_pos, entry)`` ascending."""

    async def rejections(self, origin: str | None = None) -> list[Rejection]:
        """Rejected envelopes (of one origin, or all), oldest first."""

    async def reset_projection(self) -> None:
        """Forget every projected state, row and party and set the watermark to 0, so the
        projection can be rebuilt from the log. The log, heads, feed and cursors stay."""
