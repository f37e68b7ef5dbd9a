"""Database engine for the county centre: SQLite by default, PostgreSQL when configured.

Tables are bound to the engine at start-up rather than through a global ``piccolo_conf``, so
tests and several instances in one process can each use their own database. The schema is
built and upgraded by the migrations in :mod:`central.db.migrations`, applied on every open.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.table import Table

from central.db.account_tables import ACCOUNT_TABLES
from central.db.casework_tables import CASEWORK_TABLES
from central.db.catalog_admin_tables import CATALOG_ADMIN_TABLES
from central.db.migrations import MigrationReport, check_schema, migrate
from central.db.node_contact_tables import NODE_CONTACT_TABLES
from central.db.performance_tables import PERFORMANCE_TABLES
from central.db.portal_tables import PORTAL_TABLES
from central.db.registry_tables import REGISTRY_TABLES
from central.db.supervision_tables import SUPERVISION_TABLES
from central.db.tables import ALL_TABLES


@dataclass(frozen=True)
class DatabaseState:
    """What ``/healthz`` reports about the database."""

    backend: str
    ok: bool
    detail: str


def make_engine(database_url: str | None, sqlite_path: Path) -> Engine:  # type: ignore[type-arg]
    """Engine for a PostgreSQL URL, or for the SQLite file when no URL is given."""
    if database_url:
        # No extensions: the county role need not be allowed to CREATE EXTENSION.
        return PostgresEngine(config={"dsn": database_url}, extensions=())
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteEngine(path=str(sqlite_path))


def backend_name(engine: Engine) -> str:  # type: ignore[type-arg]
    """``postgresql`` or ``sqlite``."""
    return "postgresql" if isinstance(engine, PostgresEngine) else "sqlite"


COUNTY_TABLES: tuple[type[Table], ...] = (
    *ALL_TABLES,
    *REGISTRY_TABLES,
    *ACCOUNT_TABLES,
    *CATALOG_ADMIN_TABLES,
    *SUPERVISION_TABLES,
    *PORTAL_TABLES,
    *PERFORMANCE_TABLES,
    *NODE_CONTACT_TABLES,
    *CASEWORK_TABLES,
)
"""Every Piccolo table of the county database; their tables are created by migrations."""


def bind_tables(engine: Engine) -> None:  # type: ignore[type-arg]
    """Point every table at this engine."""
    for table in COUNTY_TABLES:
        table._meta.db = engine


async def open_database(engine: Engine) -> MigrationReport:  # type: ignore[type-arg]
    """Start pools, set SQLite pragmas and apply pending migrations.

    Raises:
        ConflictError: the database was written by a newer tongban (``schema_too_new``) or lacks
            a table or column this code uses (``schema_incomplete``); the pool is closed again.
    """
    bind_tables(engine)
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool()
    else:
        # WAL lets readers proceed while the single writer commits.
        await engine.run_ddl("PRAGMA journal_mode=WAL")
    try:
        report = await migrate(engine)
        await check_schema(engine, COUNTY_TABLES)
    except BaseException:
        await close_database(engine)
        raise
    return report


async def close_database(engine: Engine) -> None:  # type: ignore[type-arg]
    """Release pooled connections."""
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()


async def database_state(engine: Engine) -> DatabaseState:  # type: ignore[type-arg]
    """Probe the database with a trivial query; never raises."""
    backend = backend_name(engine)
    try:
        rows = await engine.run_ddl("SELECT 1 AS ok")
    except Exception as exc:  # noqa: BLE001 - health must report, not crash
        return DatabaseState(backend=backend, ok=False, detail=type(exc).__name__)
    return DatabaseState(backend=backend, ok=bool(rows), detail="ok")
