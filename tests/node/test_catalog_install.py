"""A node installs only county-signed releases, forward only, never half-way."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from node.identity import read_identity
from node.services.catalog import NodeCatalogService
from node.settings import NodeSettings
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from shared.catalog import Catalog
from shared.errors import ConflictError, InvalidError, SignatureInvalidError, ValidationError
from shared.registry import COUNTY_NODE_ID
from shared.signing import SigningKey
from tests.conftest import FIXED_NOW
from tests.factories import make_node, registry_for, signed_release


@pytest.fixture
def bare(tmp_path, county_key: SigningKey) -> NodeSettings:  # type: ignore[no-untyped-def]
    return make_node(tmp_path / "bare", "zhen-shifan", county_key, None)


@pytest.fixture
def service(bare: NodeSettings) -> Iterator[NodeCatalogService]:
    database = NodeDatabase(bare.database_path)
    yield NodeCatalogService(
        NodeCatalogStore(database), read_identity(bare.config_path), lambda: FIXED_NOW
    )
    database.close()


def release(county_key: SigningKey, catalog: Catalog, version: int) -> bytes:
    return signed_release(county_key, catalog, registry_for({COUNTY_NODE_ID: county_key}), version)


def test_older_release_is_refused_and_newer_accepted(
    service: NodeCatalogService, county_key: SigningKey, demo_catalog: Catalog
) -> None:
    assert service.install(release(county_key, demo_catalog, 2), source="parent") == 2
    smaller = msgspec.structs.replace(demo_catalog, items=demo_catalog.items[:3])
    with pytest.raises(ConflictError) as caught:
        service.install(release(county_key, smaller, 1), source="parent")
    assert caught.value.code == "catalog_rollback"
    assert service.version() == 2
    assert service.install(release(county_key, smaller, 3), source="parent") == 3
    assert service.catalog_for(2) == demo_catalog, "older versions stay available for old cases"


def test_same_release_again_is_harmless(
    service: NodeCatalogService, county_key: SigningKey, demo_catalog: Catalog
) -> None:
    signed = release(county_key, demo_catalog, 1)
    assert service.install(signed, source="parent") == 1
    assert service.install(signed, source="parent") is None


def test_release_signed_by_another_key_is_refused(
    service: NodeCatalogService, demo_catalog: Catalog
) -> None:
    impostor = SigningKey.generate()
    with pytest.raises(SignatureInvalidError):
        service.install(release(impostor, demo_catalog, 1), source="usb")
    assert service.current() is None


def test_damaged_or_invalid_releases_leave_nothing_behind(
    service: NodeCatalogService, county_key: SigningKey, demo_catalog: Catalog
) -> None:
    with pytest.raises(InvalidError):
        service.install(b"{not json", source="usb")
    broken = msgspec.structs.replace(demo_catalog, departments=())
    with pytest.raises(ValidationError):
        service.install(release(county_key, broken, 1), source="usb")
    assert service.current() is None


def test_installed_releases_survive_a_restart(
    bare: NodeSettings, county_key: SigningKey, demo_catalog: Catalog
) -> None:
    database = NodeDatabase(bare.database_path)
    identity = read_identity(bare.config_path)
    NodeCatalogService(NodeCatalogStore(database), identity, lambda: FIXED_NOW).install(
        release(county_key, demo_catalog, 4), source="parent"
    )
    reopened = NodeCatalogService(NodeCatalogStore(database), identity, lambda: FIXED_NOW)
    assert reopened.version() == 4 and reopened.catalog_for(4) == demo_catalog
    database.close()
