"""The county app on SQLite and PostgreSQL: health, guide pages, catalog API, releases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from central.app import create_app
from central.commands import county_key_path, import_catalog
from central.settings import CentralSettings
from shared.catalog import Catalog
from sync.keys import load_private_key
from sync.releases import decode_release, open_release
from tests.conftest import FIXED_NOW


@pytest.fixture
def settings(tmp_path: Path, central_database_url: str | None) -> CentralSettings:
    return CentralSettings(data_dir=tmp_path / "central", database_url=central_database_url)


@pytest.fixture
def client(settings: CentralSettings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(settings, clock=lambda: FIXED_NOW)) as test_client:
        yield test_client


@pytest.fixture
def published(settings: CentralSettings, tmp_path: Path, demo_catalog_bytes: bytes) -> None:
    import asyncio

    path = tmp_path / "catalog.json"
    path.write_bytes(demo_catalog_bytes)
    asyncio.run(import_catalog(settings, path, by="test"))


def test_healthz_reports_backend_and_no_catalog(
    client: TestClient, settings: CentralSettings
) -> None:  # type: ignore[type-arg]
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["service"] == "central"
    assert body["database"] == {"backend": settings.backend, "ok": True, "detail": "ok"}
    assert body["catalog_version"] is None


def test_home_page_without_catalog_says_so_in_chinese(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.get("/")
    assert response.status_code == 200
    assert "尚未收到事项目录" in response.text
    assert '<html lang="zh-CN">' in response.text


@pytest.mark.usefixtures("published")
def test_home_page_lists_every_county_item(client: TestClient, demo_catalog: Catalog) -> None:  # type: ignore[type-arg]
    response = client.get("/")
    assert response.status_code == 200
    for item in demo_catalog.items:
        assert item.name in response.text
    assert f"共 {len(demo_catalog.items)} 项" in response.text
    assert client.get("/healthz").json()["catalog_version"] == 1


@pytest.mark.usefixtures("published")
def test_search_filters_by_name_and_code(client: TestClient) -> None:  # type: ignore[type-arg]
    names = [
        e["name"] for e in client.get("/api/v1/catalog/items", params={"q": "婚"}).json()["entries"]
    ]
    assert names and all("婚" in n for n in names)
    by_code = client.get("/api/v1/catalog/items", params={"q": "X07"}).json()["entries"]
    assert [e["code"] for e in by_code] == ["X07"]
    none = client.get("/", params={"q": "不存在的事项"})
    assert "没有找到" in none.text


@pytest.mark.usefixtures("published")
def test_item_page_shows_materials_and_limits(client: TestClient, demo_catalog: Catalog) -> None:  # type: ignore[type-arg]
    item = demo_catalog.item("X02")
    response = client.get("/items/X02")
    assert response.status_code == 200
    assert item.name in response.text
    for material in item.materials:
        assert material.name in response.text
    entry = client.get("/api/v1/catalog/items/X02").json()
    assert entry["promised"] == f"{item.promised.days}个工作日"  # type: ignore[union-attr]


@pytest.mark.usefixtures("published")
def test_unknown_item_is_problem_details_on_api_and_chinese_page(client: TestClient) -> None:  # type: ignore[type-arg]
    api = client.get("/api/v1/catalog/items/NOPE")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["code"] == "catalog_item_not_found"
    page = client.get("/items/NOPE", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "事项目录中没有编号为 NOPE 的事项" in page.text


@pytest.mark.usefixtures("published")
def test_release_endpoint_serves_the_signed_release(
    client: TestClient,
    settings: CentralSettings,
    demo_catalog: Catalog,  # type: ignore[type-arg]
) -> None:
    release = decode_release(client.get("/api/v1/catalog/release").content)
    county_key = load_private_key(county_key_path(settings)).public_key
    content = open_release(release, county_key, current_version=None)
    assert content.version == 1 and release.version == 1
    assert content.catalog == demo_catalog
    county = content.registry.get("county")
    assert county is not None and county.public_key == county_key.to_text()


def test_release_endpoint_without_catalog_is_404(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.get("/api/v1/catalog/release")
    assert response.status_code == 404
    assert response.json()["code"] == "catalog_missing"


def test_english_is_available_and_remembered(client: TestClient) -> None:  # type: ignore[type-arg]
    first = client.get("/", params={"lang": "en"})
    assert '<html lang="en">' in first.text
    assert "Service guide" in first.text
    assert first.cookies.get("tongban_lang") == "en"
    again = client.get("/")
    assert '<html lang="en">' in again.text


def test_openapi_schema_lists_the_api(client: TestClient) -> None:  # type: ignore[type-arg]
    schema = client.get("/schema/openapi.json").json()
    assert "/api/v1/catalog/items" in schema["paths"]
    assert "/api/v1/catalog/release" in schema["paths"]
