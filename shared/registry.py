"""The node registry: every service point of the county, its place in the tree and its key.

The registry travels inside each signed catalog release, so every tier knows the same tree and
the same public keys: a township can check a community's envelope without asking the county,
and a revocation reaches every receiver with the next release.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

import msgspec

from shared.delegation import Tier

COUNTY_NODE_ID = "county"
"""The county centre's own node id: it signs envelopes (decisions, urges) like any node."""

_NODE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class NodeStatus(StrEnum):
    """Whether a node's records are accepted."""

    ACTIVE = "active"
    QUARANTINED = "quarantined"  # a structural violation was seen; records held as evidence only
    REVOKED = "revoked"  # withdrawn by the county; nothing new is accepted

    @property
    def label(self) -> str:
        """Chinese name."""
        return {"active": "正常", "quarantined": "已隔离", "revoked": "已吊销"}[self.value]


class NodeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One node of the tree.

    Attributes:
        parent: the node this one syncs with; None only for the county.
        public_key: Ed25519 public key in ``ed25519:`` text form; "" until enrolled.
        short_code: printed in receipt numbers, unique in the county.
    """

    node_id: str
    name: str
    tier: Tier
    parent: str | None
    short_code: str
    public_key: str = ""
    status: NodeStatus = NodeStatus.ACTIVE
    status_reason: str = ""
    status_since: datetime | None = None


class Registry(msgspec.Struct, frozen=True, kw_only=True, dict=True):
    """All nodes of the county, the county itself included."""

    nodes: tuple[NodeRecord, ...]

    def get(self, node_id: str) -> NodeRecord | None:
        """The node with this id, if registered."""
        return self._index().get(node_id)

    def children(self, node_id: str) -> tuple[NodeRecord, ...]:
        """Nodes whose parent is ``node_id``, in registry order."""
        return tuple(n for n in self.nodes if n.parent == node_id)

    def subtree(self, node_id: str) -> frozenset[str]:
        """``node_id`` and every node below it."""
        found = {node_id}
        frontier = [node_id]
        while frontier:
            current = frontier.pop()
            for child in self.children(current):
                if child.node_id not in found:
                    found.add(child.node_id)
                    frontier.append(child.node_id)
        return frozenset(found)

    def ancestors(self, node_id: str) -> tuple[str, ...]:
        """Parent, grandparent, … up to the county; empty for the county or an unknown node."""
        chain: list[str] = []
        record = self.get(node_id)
        while record is not None and record.parent is not None and record.parent not in chain:
            chain.append(record.parent)
            record = self.get(record.parent)
        return tuple(chain)

    def validate(self) -> list[str]:
        """Every problem with the tree, in Chinese."""
        problems: list[str] = []
        seen: set[str] = set()
        codes: set[str] = set()
        counties = [n for n in self.nodes if n.tier is Tier.COUNTY]
        if len(counties) != 1 or counties[0].node_id != COUNTY_NODE_ID:
            problems.append(f"节点登记表必须恰有一个县级节点，其标识为 {COUNTY_NODE_ID}。")
        for node in self.nodes:
            if node.node_id in seen:
                problems.append(f"节点标识 {node.node_id} 重复。")
            seen.add(node.node_id)
            if node.short_code in codes:
                problems.append(f"节点简码 {node.short_code} 重复（{node.node_id}）。")
            codes.add(node.short_code)
            if not _NODE_ID.match(node.node_id):
                problems.append(f"节点标识 {node.node_id} 格式无效。")
        for node in self.nodes:
            if node.tier is Tier.COUNTY:
                continue
            parent = self.get(node.parent) if node.parent else None
            if parent is None:
                problems.append(f"节点 {node.node_id} 的上级 {node.parent} 未登记。")
            elif parent.tier is Tier.COUNTY and node.tier is not Tier.TOWNSHIP:
                problems.append(f"县级节点之下只能是乡镇节点（{node.node_id}）。")
            elif parent.tier is Tier.TOWNSHIP and node.tier is not Tier.COMMUNITY:
                problems.append(f"乡镇节点之下只能是村（社区）节点（{node.node_id}）。")
            elif parent.tier is Tier.COMMUNITY:
                problems.append(f"村（社区）节点之下不能再有节点（{node.node_id}）。")
        return problems

    def _index(self) -> dict[str, NodeRecord]:
        # Immutable, so the index is built once per instance and kept in its __dict__.
        cached: dict[str, NodeRecord] | None = self.__dict__.get("_node_index")
        if cached is None:
            cached = self.__dict__["_node_index"] = {n.node_id: n for n in self.nodes}
        return cached
