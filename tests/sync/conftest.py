"""The ``store`` fixture: every SyncStore implementation, for the shared contract suite.

Each backend is an async context manager factory taking the test's tmp_path and returning a
fresh, empty store. Backends register themselves in BACKENDS (one line each).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import anyio
import pytest

from central.db.engine import close_database, make_engine, open_database
from central.db.sync_store import PiccoloSyncStore, ensure_sync_schema
from node.storage.database import NodeDatabase
from node.storage.sync_store import NodeSyncStore
from sync.memory_store import MemoryStore
from sync.store import SyncStore

Backend = Callable[[Path, pytest.FixtureRequest], AbstractAsyncContextManager[SyncStore]]


@asynccontextmanager
async def memory_backend(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[SyncStore]:
    yield MemoryStore()


@asynccontextmanager
async def node_backend(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[SyncStore]:
    database = NodeDatabase(tmp_path / "node.sqlite")
    try:
        yield NodeSyncStore(database)
    finally:
        database.close()


@asynccontextmanager
async def _central_store(database_url: str | None, tmp_path: Path) -> AsyncIterator[SyncStore]:
    engine = make_engine(database_url, tmp_path / "central.sqlite")
    await open_database(engine)
    await ensure_sync_schema(engine)
    try:
        yield PiccoloSyncStore(engine)
    finally:
        await close_database(engine)


@asynccontextmanager
async def central_sqlite_backend(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[SyncStore]:
    async with _central_store(None, tmp_path) as opened:
        yield opened


@asynccontextmanager
async def central_postgres_backend(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[SyncStore]:
    # postgres_database runs asyncio.run(), which cannot nest in this fixture's running loop.
    url = await anyio.to_thread.run_sync(request.getfixturevalue, "postgres_database")
    async with _central_store(str(url), tmp_path) as opened:
        yield opened


BACKENDS: dict[str, Backend] = {"memory": memory_backend, "node": node_backend}
BACKENDS["central-sqlite"] = central_sqlite_backend
BACKENDS["central-postgres"] = central_postgres_backend
BACKEND_PARAMS = [pytest.param("memory", id="memory"), pytest.param("node", id="node")]
BACKEND_PARAMS += [
    pytest.param("central-sqlite", id="central-sqlite"),
    pytest.param("central-postgres", id="central-postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKEND_PARAMS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SyncStore]:
    async with BACKENDS[request.param](tmp_path, request) as opened:
        yield opened
