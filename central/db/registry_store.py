"""The node registry in the county database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from central.db.registry_tables import EnrollmentToken, NodeEntry
from shared.delegation import Tier
from shared.errors import ConflictError, NotFoundError
from shared.registry import NodeRecord, NodeStatus


class RegistryStore:
    """Nodes and enrollment tokens."""

    async def nodes(self) -> list[NodeRecord]:
        """Every registered node, in creation order."""
        rows = await NodeEntry.select().order_by(NodeEntry._meta.primary_key).run()
        return [_record(row) for row in rows]

    async def node(self, node_id: str) -> NodeRecord:
        """One node.

        Raises:
            NotFoundError: no such node.
        """
        row = await NodeEntry.select().where(NodeEntry.node_id == node_id).first().run()
        if row is None:
            raise NotFoundError(f"节点 {node_id} 未登记。", code="node_not_found")
        return _record(row)

    async def add_node(self, record: NodeRecord, created_at: datetime) -> None:
        """Register a node.

        Raises:
            ConflictError: the id or short code is taken.
        """
        taken = (
            await NodeEntry.exists()
            .where(
                (NodeEntry.node_id == record.node_id) | (NodeEntry.short_code == record.short_code)
            )
            .run()
        )
        if taken:
            raise ConflictError(
                f"节点标识 {record.node_id} 或简码 {record.short_code} 已被使用。",
                code="node_exists",
            )
        await NodeEntry.insert(
            NodeEntry(
                node_id=record.node_id,
                name=record.name,
                tier=record.tier.value,
                parent=record.parent,
                short_code=record.short_code,
                public_key=record.public_key,
                status=record.status.value,
                status_reason=record.status_reason,
                status_since=record.status_since,
                created_at=created_at,
            )
        ).run()

    async def set_key(self, node_id: str, public_key: str, at: datetime) -> None:
        """Record the key a node enrolled with."""
        await (
            NodeEntry.update({NodeEntry.public_key: public_key, NodeEntry.enrolled_at: at})
            .where(NodeEntry.node_id == node_id)
            .run()
        )

    async def set_status(self, node_id: str, status: NodeStatus, reason: str, at: datetime) -> None:
        """Revoke, quarantine or reinstate a node."""
        await (
            NodeEntry.update(
                {
                    NodeEntry.status: status.value,
                    NodeEntry.status_reason: reason,
                    NodeEntry.status_since: at,
                }
            )
            .where(NodeEntry.node_id == node_id)
            .run()
        )

    async def add_token(
        self, token_hash: str, node_id: str, expires_at: datetime, by: str, at: datetime
    ) -> None:
        """Store a token by its hash (the secret itself is never stored)."""
        await EnrollmentToken.insert(
            EnrollmentToken(
                token_hash=token_hash,
                node_id=node_id,
                expires_at=expires_at,
                created_by=by,
                created_at=at,
            )
        ).run()

    async def token(self, token_hash: str) -> dict[str, Any] | None:
        """The token row with this hash."""
        row: dict[str, Any] | None = (
            await EnrollmentToken.select()
            .where(EnrollmentToken.token_hash == token_hash)
            .first()
            .run()
        )
        return row

    async def use_token(self, token_hash: str, at: datetime) -> bool:
        """Mark a token used; False when it already was (another enrollment won the race)."""
        rows = (
            await EnrollmentToken.update({EnrollmentToken.used_at: at})
            .where((EnrollmentToken.token_hash == token_hash) & EnrollmentToken.used_at.is_null())
            .returning(EnrollmentToken._meta.primary_key)
            .run()
        )
        return bool(rows)


def _record(row: dict[str, Any]) -> NodeRecord:
    return NodeRecord(
        node_id=row["node_id"],
        name=row["name"],
        tier=Tier(row["tier"]),
        parent=row["parent"],
        short_code=row["short_code"],
        public_key=row["public_key"] or "",
        status=NodeStatus(row["status"]),
        status_reason=row["status_reason"] or "",
        status_since=row["status_since"],
    )
