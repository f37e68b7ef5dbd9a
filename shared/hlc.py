"""Hybrid logical clock timestamps.

Every case event carries an HLC stamp. Ordering events by ``(hlc, node_id, event_id)`` gives
every tier the same total order, which is what makes the fold deterministic. The wall part is
milliseconds since the Unix epoch (UTC), so an HLC is also a readable time of record; the
counter orders events that share a millisecond or that arrive from a node whose clock is ahead.

The functions are pure: the caller passes the physical clock reading in, so tests and replays
are reproducible.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from shared.errors import InvalidError


class Hlc(msgspec.Struct, frozen=True, order=True, array_like=True):
    """A hybrid-logical-clock timestamp: physical milliseconds and a logical counter."""

    wall_ms: int
    counter: int = 0

    def encode(self) -> str:
        """Fixed-width text form that sorts like the timestamp itself."""
        return f"{self.wall_ms:015d}-{self.counter:06d}"

    @classmethod
    def decode(cls, text: str) -> Hlc:
        """Parse the text form made by :meth:`encode`.

        Raises:
            InvalidError: the text is not an HLC.
        """
        wall, sep, counter = text.partition("-")
        if not sep or not wall.isdigit() or not counter.isdigit():
            raise InvalidError(f"不是有效的混合逻辑时钟值：{text!r}", code="hlc_invalid")
        return cls(int(wall), int(counter))

    def as_datetime(self) -> datetime:
        """The wall part as an aware UTC datetime."""
        return datetime.fromtimestamp(self.wall_ms / 1000, tz=UTC)


def hlc_now(previous: Hlc | None, now_ms: int) -> Hlc:
    """Stamp a local event.

    Args:
        previous: the last stamp this node issued or observed, if any.
        now_ms: the node's physical clock, milliseconds since the epoch.

    Returns:
        A stamp strictly greater than ``previous``.
    """
    if previous is None or now_ms > previous.wall_ms:
        return Hlc(now_ms, 0)
    return Hlc(previous.wall_ms, previous.counter + 1)


def hlc_receive(local: Hlc | None, remote: Hlc, now_ms: int) -> Hlc:
    """Advance the local clock on receiving a remote stamp.

    Args:
        local: the last stamp this node issued or observed, if any.
        remote: the stamp carried by the received event.
        now_ms: the node's physical clock, milliseconds since the epoch.

    Returns:
        A stamp greater than both ``local`` and ``remote``.
    """
    candidates = [now_ms, remote.wall_ms] + ([local.wall_ms] if local else [])
    wall = max(candidates)
    if local is not None and wall == local.wall_ms == remote.wall_ms:
        counter = max(local.counter, remote.counter) + 1
    elif local is not None and wall == local.wall_ms:
        counter = local.counter + 1
    elif wall == remote.wall_ms:
        counter = remote.counter + 1
    else:
        counter = 0
    return Hlc(wall, counter)
