"""Operator commands for a node, called by the ``tongban`` command line."""

from __future__ import annotations

from datetime import UTC, datetime

from node.identity import NodeIdentity, read_identity, write_identity
from node.services.catalog import HeldCatalog, NodeCatalogService
from node.settings import NodeSettings
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from shared.delegation import Tier
from shared.errors import InvalidError
from sync.keys import ensure_private_key
from sync.releases import fetch_release


def init_node(
    settings: NodeSettings,
    *,
    node_id: str,
    name: str,
    tier: Tier,
    short_code: str,
    parent_url: str,
) -> NodeIdentity:
    """Create the data folder, identity file, database and node key (0600).

    Raises:
        InvalidError: the identity is invalid or the folder already holds a node.
    """
    identity = NodeIdentity(
        node_id=node_id,
        name=name,
        tier=tier,
        short_code=short_code,
        parent_url=parent_url,
        created_at=datetime.now(UTC),
    )
    if settings.config_path.exists():
        raise InvalidError(f"该数据目录已初始化为节点：{settings.data_dir}", code="node_exists")
    write_identity(settings.config_path, identity)
    ensure_private_key(settings.key_path)
    NodeDatabase(settings.database_path).close()
    return identity


async def pull_catalog(settings: NodeSettings) -> HeldCatalog | None:
    """Fetch the parent's catalog release and install it if it is newer.

    Returns:
        The catalog now in force, or None when neither side has one.

    Raises:
        UnavailableError: the parent cannot be reached (the node keeps its current catalog).
        ConflictError: the parent offers an older release than the node holds.
    """
    identity = read_identity(settings.config_path)
    database = NodeDatabase(settings.database_path)
    try:
        service = NodeCatalogService(
            NodeCatalogStore(database), identity, lambda: datetime.now(UTC)
        )
        document = await fetch_release(identity.parent_url)
        if document is None:
            return service.current()
        held = service.current()
        if held is not None and held.version == document.version:
            return held
        return service.install_document(document, source=identity.parent_url)
    finally:
        database.close()
