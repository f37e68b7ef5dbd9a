"""The node registry as administrators see it: each node's last contact, backlog and version.

The county learns about contact in the sync endpoint (:meth:`NodeContactService.on_served`):
the authenticated caller (always a township) is a direct contact; every origin whose records
the call carried (the township's own and its communities') has its records relayed. A
community never calls the county, so for it the page shows when its records last arrived and
through whom, labelled as such, rather than pretending to a contact the county never had.

Backlog has three honest parts: envelopes from the node held at the county (a chain gap),
records queued at the county for the node that it has not confirmed storing (direct children
only), and what the node itself reported it still had to push (an upper bound).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from central.db.node_contact_tables import node_overview, record_call, record_relayed
from shared.delegation import Tier
from shared.errors import ValidationError
from shared.registry import COUNTY_NODE_ID, NodeRecord, NodeStatus
from shared.signing import VerifyKey
from sync.messages import SyncRequest, SyncResponse
from sync.reasons import Outcome

logger = logging.getLogger(__name__)

ARRIVED = frozenset({Outcome.ACCEPTED, Outcome.DUPLICATE, Outcome.HELD})
MAX_TOKEN_HOURS = 24 * 30


@dataclass(frozen=True)
class NodeView:
    """One node of the registry tree with what the county knows of its contact."""

    node_id: str
    name: str
    tier: str
    tier_label: str
    parent: str | None
    depth: int
    short_code: str
    fingerprint: str | None
    enrolled_at: datetime | None
    status: str
    status_label: str
    status_reason: str
    status_since: datetime | None
    last_contact: datetime | None
    """Last authenticated sync call by the node itself (townships only)."""
    calls: int
    last_relayed: datetime | None
    """When records originated by the node last arrived at the county."""
    relayed_by: str | None
    last_record_at: datetime | None
    """When the county stored the node's newest record (from the envelope log)."""
    software: str | None
    reported_waiting: int | None
    feed_waiting: int | None
    """Records queued at the county for the node, not yet confirmed (direct children only)."""
    held: int

    @property
    def contact_kind(self) -> str:
        """``direct``, ``relayed`` or ``none``: how the county knows the node is alive."""
        if self.last_contact is not None:
            return "direct"
        if self.last_relayed is not None:
            return "relayed"
        return "none"

    @property
    def seen_at(self) -> datetime | None:
        """The latest sign of life of any kind."""
        known = [t for t in (self.last_contact, self.last_relayed, self.last_record_at) if t]
        return max(known) if known else None


def _when(value: Any) -> datetime | None:
    """A timestamp from either driver (SQLite hands computed columns back as text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _fingerprint(public_key: str) -> str | None:
    if not public_key:
        return None
    try:
        return VerifyKey.from_text(public_key).fingerprint()
    except ValueError:
        return "?"


class NodeContactService:
    """Records contact from the sync endpoint and lists the registry tree with it."""

    def __init__(self, engine: Any, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    async def on_served(
        self, caller: NodeRecord, request: SyncRequest, response: SyncResponse
    ) -> None:
        """Note a successful sync call; a failure here is logged, never fails the sync."""
        now = self._clock()
        origins = {r.origin for r in response.results if r.outcome in ARRIVED}
        try:
            await record_call(
                self._engine,
                caller.node_id,
                now,
                software=request.software,
                reported_waiting=request.waiting,
                pull_after=request.pull_after,
            )
            await record_relayed(self._engine, origins, now, caller.node_id)
        except Exception:  # the records are already stored; contact is only bookkeeping
            logger.warning("could not record the contact of node %s", caller.node_id, exc_info=True)

    async def tree(self, visible: Collection[str] | None = None) -> list[NodeView]:
        """The registry tree, county first, each node followed by its children.

        ``visible`` limits it to a supervisor's subtree (None: every node).
        """
        rows = await node_overview(self._engine)
        by_parent: dict[str | None, list[dict[str, Any]]] = {}
        for row in rows:
            by_parent.setdefault(row["parent"], []).append(row)
        ordered: list[NodeView] = []
        seen: set[str] = set()

        def walk(parent: str | None, depth: int) -> None:
            for row in by_parent.get(parent, []):
                if row["node_id"] in seen:
                    continue
                seen.add(row["node_id"])
                if visible is None or row["node_id"] in visible:
                    ordered.append(_view(row, depth))
                walk(row["node_id"], depth + 1)

        walk(None, 0)
        return ordered

    async def node(self, node_id: str) -> NodeView | None:
        """One node of the tree, or None."""
        return next((n for n in await self.tree() if n.node_id == node_id), None)


def _view(row: dict[str, Any], depth: int) -> NodeView:
    tier = Tier(row["tier"])
    status = NodeStatus(row["status"])
    direct_child = row["parent"] == COUNTY_NODE_ID
    return NodeView(
        node_id=row["node_id"],
        name=row["name"],
        tier=tier.value,
        tier_label=tier.label,
        parent=row["parent"],
        depth=depth,
        short_code=row["short_code"],
        fingerprint=_fingerprint(row["public_key"] or ""),
        enrolled_at=_when(row["enrolled_at"]),
        status=status.value,
        status_label=status.label,
        status_reason=row["status_reason"] or "",
        status_since=_when(row["status_since"]),
        last_contact=_when(row["last_contact"]),
        calls=int(row["calls"] or 0),
        last_relayed=_when(row["last_relayed"]),
        relayed_by=row["relayed_by"],
        last_record_at=_when(row["last_record_at"]),
        software=row["software"] or None,
        reported_waiting=None if row["reported_waiting"] is None else int(row["reported_waiting"]),
        feed_waiting=int(row["feed_waiting"] or 0) if direct_child else None,
        held=int(row["held"] or 0),
    )


# Administrator input


STATUS_CHOICES = {status.value: status for status in NodeStatus}
NEW_NODE_TIERS = (Tier.TOWNSHIP, Tier.COMMUNITY)


@dataclass(frozen=True)
class NewNode:
    """A checked request to register a node and issue its enrollment token."""

    record: NodeRecord
    hours: int


def parse_new_node(
    *,
    node_id: str,
    name: str,
    tier: str,
    parent: str,
    short_code: str,
    hours: Any,
) -> NewNode:
    """Check what an administrator typed for a new node; every problem at once, in Chinese.

    Raises:
        ValidationError: one or more fields are missing or malformed (the tree itself is
            checked by the registry service when the node is added).
    """
    problems: list[str] = []
    node_id, name, parent = node_id.strip(), name.strip(), parent.strip()
    short_code = short_code.strip().upper()
    if not node_id:
        problems.append("请填写节点标识（小写字母、数字和连字符，如 zhen-shifan）。")
    if not name:
        problems.append("请填写节点名称。")
    elif len(name) > 200:
        problems.append("节点名称不能超过 200 个字符。")
    tiers = {t.value: t for t in NEW_NODE_TIERS}
    if tier not in tiers:
        problems.append("层级只能是乡镇（街道）级或村（社区）级。")
    if not parent:
        problems.append("请选择上级节点。")
    if not short_code:
        problems.append("请填写节点简码（用于受理编号，2 至 8 位字母或数字）。")
    elif not (2 <= len(short_code) <= 8 and short_code.isascii() and short_code.isalnum()):
        problems.append("节点简码应为 2 至 8 位字母或数字。")
    token_hours: int | None = None
    try:
        token_hours = int(str(hours).strip() or "72")
    except ValueError:
        problems.append("令牌有效期应为整数小时。")
    if token_hours is not None and not 1 <= token_hours <= MAX_TOKEN_HOURS:
        problems.append(f"令牌有效期应在 1 至 {MAX_TOKEN_HOURS} 小时之间。")
    if problems:
        raise ValidationError(problems)
    assert token_hours is not None
    record = NodeRecord(
        node_id=node_id,
        name=name,
        tier=tiers[tier],
        parent=parent,
        short_code=short_code,
    )
    return NewNode(record=record, hours=token_hours)


def parse_status(value: str) -> NodeStatus:
    """A node status from its code.

    Raises:
        ValidationError: not one of active, quarantined, revoked.
    """
    status = STATUS_CHOICES.get(value.strip())
    if status is None:
        raise ValidationError(["状态只能是正常（active）、隔离（quarantined）或吊销（revoked）。"])
    return status


def check_reason(reason: str) -> str:
    """A required, trimmed reason for a status change.

    Raises:
        ValidationError: empty or longer than 500 characters.
    """
    text = reason.strip()
    if not text:
        raise ValidationError(["请填写更改节点状态的原因。"])
    if len(text) > 500:
        raise ValidationError(["原因不能超过 500 个字符。"])
    return text
