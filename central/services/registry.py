"""The node registry at the county: tokens, enrollment, revocation, quarantine.

Every change republishes the release, so the new registry (and with it a node's key or its
revocation) reaches every tier with the next sync.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from central.db.registry_store import RegistryStore
from central.services.releases import CurrentRelease, ReleaseService
from shared.delegation import Tier
from shared.errors import ConflictError, InvalidError, NotFoundError, PermissionDeniedError
from shared.registry import COUNTY_NODE_ID, NodeRecord, NodeStatus, Registry
from shared.signing import SigningKey, VerifyKey
from sync.enrollment import EnrollRequest, EnrollResponse, new_token, split_token, token_hash

DEFAULT_TOKEN_HOURS = 72


@dataclass(frozen=True)
class IssuedToken:
    """A token to hand to the installer of a node (shown once, never stored in clear)."""

    node_id: str
    token: str
    expires_at: datetime


class RegistryService:
    """Registers nodes and keeps the registry in the published release."""

    def __init__(
        self,
        store: RegistryStore,
        releases: ReleaseService,
        county_key: Callable[[], SigningKey],
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._releases = releases
        self._county_key = county_key
        self._clock = clock

    async def ensure_county(self, name: str, short_code: str) -> None:
        """Register the county itself (with its key) if it is not registered yet."""
        try:
            await self._store.node(COUNTY_NODE_ID)
        except NotFoundError:
            record = NodeRecord(
                node_id=COUNTY_NODE_ID,
                name=name,
                tier=Tier.COUNTY,
                parent=None,
                short_code=short_code,
                public_key=self._county_key().public_key.to_text(),
            )
            await self._store.add_node(record, self._clock())

    async def issue_token(
        self,
        record: NodeRecord,
        *,
        by: str,
        hours: int = DEFAULT_TOKEN_HOURS,
    ) -> IssuedToken:
        """Enter a node in the registry (without key) and issue its one-time token.

        Raises:
            InvalidError: the node would break the tree.
            ConflictError: the id or short code is taken.
        """
        if record.public_key:
            raise InvalidError("新节点的公钥由节点自己在注册时提交。")
        nodes = await self._store.nodes()
        problems = Registry(nodes=(*nodes, record)).validate()
        if problems:
            raise InvalidError("；".join(problems), code="registry_invalid")
        now = self._clock()
        await self._store.add_node(record, now)
        token, hashed = new_token(self._county_key().public_key.fingerprint())
        expires = now + timedelta(hours=hours)
        await self._store.add_token(hashed, record.node_id, expires, by, now)
        return IssuedToken(record.node_id, token, expires)

    async def enroll(self, request: EnrollRequest) -> EnrollResponse:
        """Bind a node's public key to its registry entry, once, and republish.

        Raises:
            PermissionDeniedError: unknown, expired or used token, or a revoked node.
            InvalidError: malformed key, or a token issued by another county.
        """
        secret, fingerprint = split_token(request.token)
        county = self._county_key().public_key
        if fingerprint != county.fingerprint().replace(":", ""):
            raise InvalidError("该令牌不是本县中心签发的。", code="token_foreign")
        VerifyKey.from_text(request.public_key)
        hashed = token_hash(secret)
        row = await self._store.token(hashed)
        now = self._clock()
        if row is None:
            raise PermissionDeniedError("注册令牌无效。", code="token_unknown")
        if row["used_at"] is not None:
            raise PermissionDeniedError(
                "注册令牌已使用过，请向县中心申请新令牌。", code="token_used"
            )
        if row["expires_at"] < now:
            raise PermissionDeniedError(
                "注册令牌已过期，请向县中心申请新令牌。", code="token_expired"
            )
        node = await self._store.node(row["node_id"])
        if node.status is NodeStatus.REVOKED:
            raise PermissionDeniedError("该节点已被吊销，不能注册。", code="node_revoked")
        if not await self._store.use_token(hashed, now):
            raise PermissionDeniedError("注册令牌已使用过。", code="token_used")
        await self._store.set_key(node.node_id, request.public_key, now)
        release = await self._releases.publish(by=f"enroll:{node.node_id}")
        enrolled = await self._store.node(node.node_id)
        return EnrollResponse(node=enrolled, county_key=county.to_text(), release=release.signed)

    async def set_status(
        self, node_id: str, status: NodeStatus, *, reason: str, by: str
    ) -> CurrentRelease:
        """Revoke, quarantine or reinstate a node and republish.

        Raises:
            NotFoundError: no such node. ConflictError: the county itself. InvalidError: no reason.
        """
        if node_id == COUNTY_NODE_ID:
            raise ConflictError("不能更改县中心自身的状态。")
        if not reason.strip():
            raise InvalidError("请填写原因。", code="reason_required")
        await self._store.node(node_id)
        await self._store.set_status(node_id, status, reason, self._clock())
        return await self._releases.publish(by=by)
