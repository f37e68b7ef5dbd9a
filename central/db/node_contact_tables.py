"""What the county knows of each node's contact with it: the ``node_contact`` table and its SQL.

Two kinds of contact are kept apart because they mean different things:

* ``last_contact``: the node itself called the county's sync endpoint and was authenticated
  (only the county's direct children, the townships, ever do);
* ``last_relayed``: records originated by the node reached the county, carried by
  ``relayed_by`` (a community's records arrive through its township, so this is all the
  county can honestly say about a community).

``software`` and ``reported_waiting`` are what the caller put in its request; ``pull_after`` is
the feed position the caller confirmed it had stored, from which the county counts what is still
waiting for it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from piccolo.columns import BigInt, Text, Timestamptz
from piccolo.engine.base import Engine
from piccolo.table import Table

from central.db.reconcile_sql import run


class NodeContact(Table, tablename="node_contact"):
    """The latest contact of one node with the county."""

    node_id = Text(primary_key=True)
    last_contact = Timestamptz(null=True, default=None)
    calls = BigInt(default=0)
    software = Text(default="")
    reported_waiting = BigInt(null=True, default=None)
    pull_after = BigInt(default=0)
    last_relayed = Timestamptz(null=True, default=None)
    relayed_by = Text(null=True, default=None)


NODE_CONTACT_TABLES: tuple[type[Table], ...] = (NodeContact,)

_CALL_UPSERT = """
INSERT INTO node_contact (node_id, last_contact, calls, software, reported_waiting, pull_after)
VALUES ({}, {}, 1, {}, {}, {})
ON CONFLICT (node_id) DO UPDATE SET last_contact = excluded.last_contact,
    calls = node_contact.calls + 1,
    software = CASE WHEN excluded.software <> '' THEN excluded.software
                    ELSE node_contact.software END,
    reported_waiting = excluded.reported_waiting,
    pull_after = CASE WHEN excluded.pull_after > node_contact.pull_after
                      THEN excluded.pull_after ELSE node_contact.pull_after END
"""

_RELAY_UPSERT = """
INSERT INTO node_contact (node_id, last_relayed, relayed_by) VALUES {rows}
ON CONFLICT (node_id) DO UPDATE SET last_relayed = excluded.last_relayed,
    relayed_by = excluded.relayed_by
"""


async def record_call(
    engine: Engine,  # type: ignore[type-arg]
    node_id: str,
    at: datetime,
    *,
    software: str,
    reported_waiting: int | None,
    pull_after: int,
) -> None:
    """Note an authenticated sync call by ``node_id``."""
    await run(
        engine, _CALL_UPSERT, [node_id, at, software[:40], reported_waiting, max(0, pull_after)]
    )


async def record_relayed(
    engine: Engine,  # type: ignore[type-arg]
    origins: Collection[str],
    at: datetime,
    relayed_by: str,
) -> None:
    """Note that records of ``origins`` arrived, carried by ``relayed_by``; one statement."""
    if not origins:
        return
    ordered = sorted(origins)
    rows = ", ".join(["({}, {}, {})"] * len(ordered))
    params: list[Any] = []
    for origin in ordered:
        params.extend((origin, at, relayed_by))
    await run(engine, _RELAY_UPSERT.format(rows=rows), params)


OVERVIEW_SQL = """
SELECT n.node_id, n.name, n.tier, n.parent, n.short_code, n.public_key, n.status,
       n.status_reason, n.status_since, n.created_at, n.enrolled_at,
       c.last_contact, c.calls, c.software, c.reported_waiting, c.pull_after,
       c.last_relayed, c.relayed_by,
       (SELECT COUNT(*) FROM sync_held h WHERE h.origin = n.node_id) AS held,
       (SELECT COUNT(*) FROM sync_feed f
         WHERE f.child = n.node_id AND f.feed_pos > COALESCE(c.pull_after, 0)) AS feed_waiting,
       (SELECT MAX(l.received_at) FROM sync_head sh
         JOIN sync_log l ON l.origin = sh.origin AND l.seq = sh.seq
         WHERE sh.origin = n.node_id) AS last_record_at
FROM node_entry n
LEFT JOIN node_contact c ON c.node_id = n.node_id
ORDER BY n.id
"""


async def node_overview(engine: Engine) -> Sequence[dict[str, Any]]:  # type: ignore[type-arg]
    """Every registered node with its contact and backlog figures, in registration order."""
    return [dict(row) for row in await run(engine, OVERVIEW_SQL)]
