"""A :class:`~sync.store.SyncStore` kept in memory.

It is the reference against which the SQLite and PostgreSQL stores are tested, and it lets the
property-based convergence tests run thousands of sync rounds quickly. Not for production: it
keeps nothing across restarts.
"""

from __future__ import annotations

import copy
from collections.abc import Collection

import msgspec

from sync.store import CaseRow, Head, LogEntry, Rejection, WriteSet


class MemoryStore:
    """Dict-backed store; ``commit`` is atomic because it swaps in a fully built copy."""

    def __init__(self) -> None:
        self._log: list[LogEntry] = []
        self._by_key: dict[tuple[str, int], LogEntry] = {}
        self._updates: set[bytes] = set()
        self._heads: dict[str, Head] = {}
        self._clients: dict[int, str] = {}
        self._held: dict[tuple[str, int], LogEntry] = {}
        self._rejections: list[Rejection] = []
        self._quarantined: dict[str, str] = {}
        self._states: dict[str, bytes] = {}
        self._rows: dict[str, CaseRow] = {}
        self._parties: dict[str, frozenset[str]] = {}
        self._watermark = 0
        self._feed: dict[str, list[tuple[int, tuple[str, int]]]] = {}
        self._feed_pos = 0
        self._cursors: dict[str, int] = {}

    async def commit(self, writes: WriteSet) -> None:
        """Apply everything or nothing (a failure while building leaves the store unchanged)."""
        staged = copy.copy(self)
        staged._log = list(self._log)
        staged._by_key = dict(self._by_key)
        staged._updates = set(self._updates)
        staged._heads = dict(self._heads)
        staged._clients = dict(self._clients)
        staged._held = dict(self._held)
        staged._rejections = list(self._rejections)
        staged._quarantined = dict(self._quarantined)
        staged._states = dict(self._states)
        staged._rows = dict(self._rows)
        staged._parties = dict(self._parties)
        staged._feed = {child: list(items) for child, items in self._feed.items()}
        staged._cursors = dict(self._cursors)
        staged._apply(writes)
        self.__dict__.update(staged.__dict__)

    def _apply(self, writes: WriteSet) -> None:
        for entry in writes.entries:
            key = (entry.origin, entry.seq)
            if key in self._by_key:
                raise ValueError(f"log already holds {key}")
            stored = msgspec.structs.replace(entry, pos=len(self._log) + 1)
            self._log.append(stored)
            self._by_key[key] = stored
            self._updates.add(entry.update_hash)
        for origin, head in writes.heads.items():
            current = self._heads.get(origin)
            if current is None or head.seq > current.seq:
                self._heads[origin] = head
        for client_id, node in writes.client_claims.items():
            self._clients.setdefault(client_id, node)
        for entry in writes.held:
            self._held[(entry.origin, entry.seq)] = entry
        for key in writes.released:
            self._held.pop(key, None)
        self._rejections.extend(writes.rejections)
        for origin, reason in writes.quarantines.items():
            self._quarantined.setdefault(origin, reason)
        for projection in writes.projections:
            self._states[projection.case_id] = projection.state
            self._rows[projection.case_id] = projection.row
            self._parties[projection.case_id] = projection.parties
        if writes.watermark is not None:
            self._watermark = max(self._watermark, writes.watermark)
        for item in writes.feed:
            key = (item.origin, item.seq)
            if key not in self._by_key:
                raise ValueError(f"feed names {key}, which is not in the log")
            self._feed_pos += 1
            self._feed.setdefault(item.child, []).append((self._feed_pos, key))
        for name, value in writes.cursors.items():
            self._cursors[name] = max(self._cursors.get(name, 0), value)

    async def heads(self, origins: Collection[str] | None = None) -> dict[str, Head]:
        """Heads of these origins (all when None)."""
        if origins is None:
            return dict(self._heads)
        return {o: self._heads[o] for o in origins if o in self._heads}

    async def hashes_at(self, keys: Collection[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
        """Hash of each logged ``(origin, seq)``."""
        return {k: self._by_key[k].hash for k in keys if k in self._by_key}

    async def known_updates(self, update_hashes: Collection[bytes]) -> set[bytes]:
        """Which update hashes are logged."""
        return {h for h in update_hashes if h in self._updates}

    async def client_owners(self, client_ids: Collection[int]) -> dict[int, str]:
        """Owner of each known client id."""
        return {c: self._clients[c] for c in client_ids if c in self._clients}

    async def quarantined(self) -> dict[str, str]:
        """Quarantined origins."""
        return dict(self._quarantined)

    async def held(self, origin: str | None = None) -> list[LogEntry]:
        """Held envelopes, by origin then seq."""
        keys = sorted(k for k in self._held if origin is None or k[0] == origin)
        return [self._held[k] for k in keys]

    async def log_after(self, pos: int, limit: int) -> list[LogEntry]:
        """Log entries after ``pos``."""
        return self._log[pos : pos + limit]

    async def log_end(self) -> int:
        """Highest position."""
        return len(self._log)

    async def case_log(self, case_ids: Collection[str]) -> dict[str, list[LogEntry]]:
        """Entries per case, by position."""
        wanted = set(case_ids)
        found: dict[str, list[LogEntry]] = {}
        for entry in self._log:
            if entry.case_id in wanted:
                found.setdefault(entry.case_id, []).append(entry)
        return found

    async def case_states(self, case_ids: Collection[str]) -> dict[str, bytes]:
        """Projected CRDT states."""
        return {c: self._states[c] for c in case_ids if c in self._states}

    async def case_parties(self, case_ids: Collection[str]) -> dict[str, frozenset[str]]:
        """Projected parties."""
        return {c: self._parties[c] for c in case_ids if c in self._parties}

    async def case_rows(self, case_ids: Collection[str]) -> dict[str, CaseRow]:
        """Projected rows."""
        return {c: self._rows[c] for c in case_ids if c in self._rows}

    async def watermark(self) -> int:
        """Projection watermark."""
        return self._watermark

    async def cursor(self, name: str) -> int:
        """A named cursor."""
        return self._cursors.get(name, 0)

    async def feed_after(self, child: str, after: int, limit: int) -> list[tuple[int, LogEntry]]:
        """Feed entries of a child."""
        items = [(p, self._by_key[k]) for p, k in self._feed.get(child, []) if p > after]
        return items[:limit]

    async def rejections(self, origin: str | None = None) -> list[Rejection]:
        """Rejection evidence."""
        return [r for r in self._rejections if origin is None or r.origin == origin]

    async def reset_projection(self) -> None:
        """Forget the projection."""
        self._states.clear()
        self._rows.clear()
        self._parties.clear()
        self._watermark = 0
