"""Builders shared by the test suites: registries, signed releases, initialised nodes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from node.identity import NodeIdentity, write_identity
from node.services.catalog import NodeCatalogService
from node.settings import NodeSettings
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from shared.calendar import official_calendar
from shared.catalog import Catalog
from shared.delegation import Tier
from shared.registry import COUNTY_NODE_ID, NodeRecord, Registry
from shared.signing import SigningKey
from sync.keys import ensure_private_key
from sync.releases import ReleaseContent, encode_release, make_release

PUBLISHED = datetime(2026, 3, 1, tzinfo=UTC)

TREE = (
    (COUNTY_NODE_ID, "示范县政务服务中心", Tier.COUNTY, None, "XZX"),
    ("zhen-shifan", "示范镇便民服务中心", Tier.TOWNSHIP, COUNTY_NODE_ID, "SFZ"),
    ("she-dongcun", "东村社区便民服务站", Tier.COMMUNITY, "zhen-shifan", "DCS"),
)


def registry_for(keys: dict[str, SigningKey]) -> Registry:
    """The demo tree with the given node keys (nodes without a key are not enrolled yet)."""
    return Registry(
        nodes=tuple(
            NodeRecord(
                node_id=node_id,
                name=name,
                tier=tier,
                parent=parent,
                short_code=code,
                public_key=keys[node_id].public_key.to_text() if node_id in keys else "",
            )
            for node_id, name, tier, parent, code in TREE
        )
    )


def signed_release(
    county_key: SigningKey, catalog: Catalog, registry: Registry, version: int = 1
) -> bytes:
    """A release as the county would publish it."""
    content = ReleaseContent(
        version=version,
        published_at=PUBLISHED,
        catalog=catalog,
        calendar=official_calendar().to_years(),
        registry=registry,
    )
    return encode_release(make_release(county_key, content))


def make_node(
    data_dir: Path,
    node_id: str,
    county_key: SigningKey,
    catalog: Catalog | None,
    *,
    parent_url: str = "http://parent.invalid:8700",
) -> NodeSettings:
    """An initialised node folder, as ``tongban node init`` leaves it (release optional)."""
    settings = NodeSettings(data_dir=data_dir, sync_interval=0)
    key = ensure_private_key(settings.key_path)
    record = next(entry for entry in TREE if entry[0] == node_id)
    identity = NodeIdentity(
        node_id=node_id,
        name=record[1],
        tier=record[2],
        short_code=record[4],
        parent_url=parent_url,
        county_key=county_key.public_key.to_text(),
        created_at=PUBLISHED,
    )
    write_identity(settings.config_path, identity)
    database = NodeDatabase(settings.database_path)
    try:
        if catalog is not None:
            releases = NodeCatalogService(NodeCatalogStore(database), identity, lambda: PUBLISHED)
            keys = {COUNTY_NODE_ID: county_key, node_id: key}
            releases.install(signed_release(county_key, catalog, registry_for(keys)), source="test")
    finally:
        database.close()
    return settings
