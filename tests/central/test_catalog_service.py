"""Publishing catalog releases at the county (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from central.db.catalog_store import CatalogStore, StoredRelease
from central.db.engine import close_database, make_engine, open_database
from central.services.catalog import CatalogService
from shared.catalog import Catalog
from shared.errors import ConflictError, ValidationError
from tests.conftest import FIXED_NOW

pytestmark = pytest.mark.anyio


@pytest.fixture
async def service(tmp_path: Path, central_database_url: str | None):  # type: ignore[no-untyped-def]
    engine = make_engine(central_database_url, tmp_path / "central.sqlite")
    await open_database(engine)
    yield CatalogService(CatalogStore(), lambda: FIXED_NOW)
    await close_database(engine)


async def test_publish_numbers_releases_and_is_idempotent(
    service: CatalogService, demo_catalog: Catalog
) -> None:
    first = await service.publish(demo_catalog, by="admin")
    again = await service.publish(demo_catalog, by="admin")
    assert (first.version, again.version) == (1, 1)
    changed = msgspec.structs.replace(demo_catalog, items=demo_catalog.items[:-1])
    second = await service.publish(changed, by="admin")
    assert second.version == 2
    current = await service.current()
    assert current is not None and current.version == 2
    assert len(current.catalog.items) == len(demo_catalog.items) - 1


async def test_invalid_catalog_is_refused_with_every_problem_and_nothing_changes(
    service: CatalogService, demo_catalog: Catalog
) -> None:
    await service.publish(demo_catalog, by="admin")
    broken_item = msgspec.structs.replace(demo_catalog.items[0], code="", name="")
    broken = msgspec.structs.replace(demo_catalog, items=(broken_item, *demo_catalog.items[1:]))
    with pytest.raises(ValidationError) as caught:
        await service.publish(broken, by="admin")
    assert len(caught.value.problems) >= 2
    current = await service.current()
    assert current is not None and current.version == 1


async def test_releases_are_immutable(service: CatalogService, demo_catalog: Catalog) -> None:
    await service.publish(demo_catalog, by="admin")
    store = CatalogStore()
    with pytest.raises(ConflictError):
        await store.append(
            StoredRelease(
                version=1, content_hash="x", body=b"{}", published_at=FIXED_NOW, published_by="x"
            )
        )
