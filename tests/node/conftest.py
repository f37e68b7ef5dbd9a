"""Node fixtures: initialised data folders holding a signed demo release."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from litestar.testing import TestClient

from node.app import create_app
from node.settings import NodeSettings
from shared.catalog import Catalog
from shared.signing import SigningKey
from sync.parent import ParentProbe
from tests.conftest import FIXED_NOW
from tests.factories import make_node


async def parent_down(url: str, now: datetime) -> ParentProbe:
    return ParentProbe(url=url, reachable=False, checked_at=now, error="ConnectError")


@pytest.fixture(scope="session")
def county_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def township(tmp_path: Path, county_key: SigningKey, demo_catalog: Catalog) -> NodeSettings:
    return make_node(tmp_path / "township", "zhen-shifan", county_key, demo_catalog)


@pytest.fixture
def community(tmp_path: Path, county_key: SigningKey, demo_catalog: Catalog) -> NodeSettings:
    return make_node(tmp_path / "community", "she-dongcun", county_key, demo_catalog)


@pytest.fixture
def township_client(township: NodeSettings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(township, clock=lambda: FIXED_NOW, prober=parent_down)
    with TestClient(app) as client:
        yield client
