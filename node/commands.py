"""Operator commands for a node, called by the ``tongban`` command line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx

from node.identity import NodeIdentity, read_identity, write_identity
from node.services.catalog import NodeCatalogService
from node.services.replication import NodeReplication
from node.settings import NodeSettings
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from node.storage.sync_store import NodeSyncStore
from shared.errors import InvalidError, SignatureInvalidError
from shared.signing import SigningKey, VerifyKey
from shared.version import VERSION
from sync.client import SyncReport
from sync.enrollment import EnrollRequest, request_enrollment, split_token
from sync.keys import ensure_private_key, load_private_key
from sync.replica import ProjectionReport


def _now() -> datetime:
    return datetime.now(UTC)


async def init_node(
    settings: NodeSettings,
    *,
    parent_url: str,
    token: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> NodeIdentity:
    """Generate this node's key, enroll it with the county through the parent, and set up.

    The private key is created here and never leaves the data folder; only the public key
    travels. The county key that answers must match the fingerprint inside the token.

    Raises:
        InvalidError: the folder is already a node, or the token is malformed.
        PlatformError: the county refused the enrollment (message says why).
        UnavailableError: the parent cannot be reached; run the command again later.
        SignatureInvalidError: the answering key is not the county's the token names.
    """
    if settings.config_path.exists():
        raise InvalidError(f"该数据目录已初始化为节点：{settings.data_dir}", code="node_exists")
    _, fingerprint = split_token(token)
    key = ensure_private_key(settings.key_path)
    response = await request_enrollment(
        parent_url,
        EnrollRequest(token=token, public_key=key.public_key.to_text(), software_version=VERSION),
        transport=transport,
    )
    county_key = VerifyKey.from_text(response.county_key)
    if county_key.fingerprint().replace(":", "") != fingerprint:
        raise SignatureInvalidError(
            "应答的县级公钥与令牌中的指纹不一致，已中止注册。请确认上级地址是否正确。",
            code="county_key_mismatch",
        )
    node = response.node
    identity = NodeIdentity(
        node_id=node.node_id,
        name=node.name,
        tier=node.tier,
        short_code=node.short_code,
        parent_url=parent_url,
        county_key=county_key.to_text(),
        created_at=_now(),
    )
    database = NodeDatabase(settings.database_path)
    try:
        releases = NodeCatalogService(NodeCatalogStore(database), identity, _now)
        releases.install(response.release, source=parent_url)
    finally:
        database.close()
    write_identity(settings.config_path, identity)
    return identity


@asynccontextmanager
async def opened(settings: NodeSettings) -> AsyncIterator[NodeReplication]:
    """The node's replication over its database, for one command."""
    identity = read_identity(settings.config_path)
    key: SigningKey = load_private_key(settings.key_path)
    database = NodeDatabase(settings.database_path)
    try:
        releases = NodeCatalogService(NodeCatalogStore(database), identity, _now)
        yield NodeReplication(NodeSyncStore(database), identity, key, releases, _now)
    finally:
        database.close()


async def sync_once(settings: NodeSettings) -> SyncReport:
    """Sync with the parent now."""
    async with opened(settings) as replication:
        return await replication.sync_now()


async def rebuild(settings: NodeSettings) -> ProjectionReport:
    """Drop the materialized case tables and rebuild them from the envelope log."""
    async with opened(settings) as replication:
        await replication.replica.store.reset_projection()
        return await replication.replica.project()
