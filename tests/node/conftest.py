"""Node fixtures: an initialised data folder holding the demo catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from node.app import create_app
from node.commands import init_node
from node.identity import read_identity
from node.services.catalog import NodeCatalogService
from node.settings import NodeSettings
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from shared.delegation import Tier
from sync.parent import ParentProbe
from tests.conftest import FIXED_NOW


def make_node(data_dir: Path, tier: Tier, node_id: str, name: str, code: str) -> NodeSettings:
    settings = NodeSettings(data_dir=data_dir)
    init_node(
        settings,
        node_id=node_id,
        name=name,
        tier=tier,
        short_code=code,
        parent_url="http://parent.invalid:8700",
    )
    return settings


def install(settings: NodeSettings, body: bytes, version: int = 1) -> None:
    database = NodeDatabase(settings.database_path)
    try:
        service = NodeCatalogService(
            NodeCatalogStore(database), read_identity(settings.config_path), lambda: FIXED_NOW
        )
        service.install(version, body, published_at=FIXED_NOW, source="test")
    finally:
        database.close()


async def parent_down(url: str, now):  # type: ignore[no-untyped-def]
    return ParentProbe(url=url, reachable=False, checked_at=now, error="ConnectError")


@pytest.fixture
def township(tmp_path: Path) -> NodeSettings:
    return make_node(
        tmp_path / "township", Tier.TOWNSHIP, "zhen-shifan", "示范镇便民服务中心", "SFZ"
    )


@pytest.fixture
def community(tmp_path: Path) -> NodeSettings:
    return make_node(
        tmp_path / "community", Tier.COMMUNITY, "she-dongcun", "东村社区便民服务站", "DCS"
    )


@pytest.fixture
def township_client(township: NodeSettings, demo_catalog_bytes: bytes) -> Iterator[TestClient]:  # type: ignore[type-arg]
    install(township, demo_catalog_bytes)
    app = create_app(township, clock=lambda: FIXED_NOW, prober=parent_down)
    with TestClient(app) as client:
        yield client
