"""Fixtures shared by the whole suite: backends, catalog data, clocks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from shared.catalog import Catalog, decode_catalog

POSTGRES_URL = os.environ.get("TONGBAN_TEST_POSTGRES_URL", "")
REDIS_URL = os.environ.get("TONGBAN_TEST_REDIS_URL", "")
REQUIRE_SERVICES = os.environ.get("TONGBAN_TEST_REQUIRE_SERVICES") == "1"

FIXED_NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in China


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip service-backed tests without their server, unless CI demands the services."""
    missing = {"postgres": not POSTGRES_URL, "redis": not REDIS_URL}
    for item in items:
        for marker, absent in missing.items():
            if absent and marker in item.keywords:
                if REQUIRE_SERVICES:
                    raise pytest.UsageError(f"{marker} tests are required but no URL is set")
                item.add_marker(pytest.mark.skip(reason=f"set TONGBAN_TEST_{marker.upper()}_URL"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def demo_catalog_bytes() -> bytes:
    return (files("tongban") / "demo_catalog.json").read_bytes()


@pytest.fixture(scope="session")
def demo_catalog(demo_catalog_bytes: bytes) -> Catalog:
    return decode_catalog(demo_catalog_bytes)


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import asyncio

    import asyncpg

    name = f"tongban_test_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(POSTGRES_URL)

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(POSTGRES_URL)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def central_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None selects SQLite in the data folder; otherwise a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_database"))
