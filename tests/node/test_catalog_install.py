"""A node installs catalog releases forward only, and never half-way."""

from __future__ import annotations

import msgspec
import pytest

from node.identity import read_identity
from node.services.catalog import NodeCatalogService
from node.settings import NodeSettings
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from shared.catalog import Catalog, encode_catalog
from shared.errors import ConflictError, InvalidError, ValidationError
from sync.releases import ReleaseDocument
from tests.conftest import FIXED_NOW


@pytest.fixture
def service(township: NodeSettings):  # type: ignore[no-untyped-def]
    database = NodeDatabase(township.database_path)
    yield NodeCatalogService(
        NodeCatalogStore(database), read_identity(township.config_path), lambda: FIXED_NOW
    )
    database.close()


def test_older_release_is_refused_and_newer_accepted(
    service: NodeCatalogService, demo_catalog: Catalog, demo_catalog_bytes: bytes
) -> None:
    service.install(2, demo_catalog_bytes, published_at=FIXED_NOW, source="parent")
    smaller = encode_catalog(msgspec.structs.replace(demo_catalog, items=demo_catalog.items[:3]))
    with pytest.raises(ConflictError) as caught:
        service.install(1, smaller, published_at=FIXED_NOW, source="parent")
    assert caught.value.code == "catalog_rollback"
    held = service.current()
    assert (
        held is not None
        and held.version == 2
        and len(held.catalog.items) == len(demo_catalog.items)
    )
    service.install(3, smaller, published_at=FIXED_NOW, source="parent")
    assert service.current().version == 3  # type: ignore[union-attr]


def test_same_release_again_is_harmless(
    service: NodeCatalogService, demo_catalog_bytes: bytes
) -> None:
    service.install(1, demo_catalog_bytes, published_at=FIXED_NOW, source="parent")
    again = service.install(1, demo_catalog_bytes, published_at=FIXED_NOW, source="parent")
    assert again.version == 1


def test_different_body_under_a_held_version_is_refused(
    service: NodeCatalogService, demo_catalog: Catalog, demo_catalog_bytes: bytes
) -> None:
    service.install(1, demo_catalog_bytes, published_at=FIXED_NOW, source="parent")
    other = encode_catalog(msgspec.structs.replace(demo_catalog, items=demo_catalog.items[:2]))
    with pytest.raises(ConflictError):
        service.install(1, other, published_at=FIXED_NOW, source="parent")


def test_damaged_or_invalid_catalogs_leave_nothing_behind(
    service: NodeCatalogService, demo_catalog: Catalog
) -> None:
    with pytest.raises(InvalidError):
        service.install(1, b"{not json", published_at=FIXED_NOW, source="usb")
    broken = encode_catalog(msgspec.structs.replace(demo_catalog, departments=()))
    with pytest.raises(ValidationError):
        service.install(1, broken, published_at=FIXED_NOW, source="usb")
    assert service.current() is None


def test_release_with_wrong_hash_is_refused(
    service: NodeCatalogService, demo_catalog_bytes: bytes
) -> None:
    document = ReleaseDocument(
        version=1, content_hash="0" * 64, published_at=FIXED_NOW, body=demo_catalog_bytes.decode()
    )
    with pytest.raises(InvalidError) as caught:
        service.install_document(document, source="parent")
    assert caught.value.code == "release_hash"
    assert service.current() is None
