"""Versioned, recorded migrations of the county database, on SQLite and PostgreSQL.

Piccolo's own ``piccolo migrations`` is not used: it finds its engine through a global
``piccolo_conf`` module, while the county binds its tables to an engine built from settings at
start-up (several instances share one process in tests), and it has no way to refuse a database
written by a newer tongban. This runner is small instead:

* ``schema_migration`` records each applied migration's name and when it ran;
* pending migrations run in order, each in its own transaction together with its record, so a
  migration that fails leaves nothing of itself behind. Both backends roll DDL back:
  PostgreSQL's DDL is transactional, and SQLite's ``CREATE``/``ALTER``/``DROP`` are too (only
  statements that cannot run inside a transaction at all, such as ``VACUUM`` or changing
  ``journal_mode``, are not allowed in a migration);
* writers are serialised while migrating (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on
  PostgreSQL) and re-read the record under the lock, so a service and its worker starting
  together apply each migration once;
* a database that records a migration this code does not know was written by a newer tongban and
  is refused untouched;
* the first migration is the schema as tongban 0.1.0 created it (:mod:`central.db.baseline_schema`),
  idempotent, so a database created before migrations is adopted with its rows.

A new migration is a function appended to :data:`MIGRATIONS` with the next number. It must spell
out its own DDL (never ``create_table()`` of a class that may change later) and work on both
backends; a migration is never edited or removed once released.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from central.db.baseline_schema import baseline_statements
from central.db.bulk_sql import Sql
from shared.errors import ConflictError

_MIGRATION_LOCK_KEY = 0x7470_6E62_6D67  # PostgreSQL advisory lock id ("tpnbmg")
_RECORD_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
)
_FIRST_TABLE = "catalog_release"  # created by every tongban since 0.1.0's ``central init``


@dataclass(frozen=True)
class Migration:
    """One step of the schema: ``apply`` runs inside the transaction that records ``name``."""

    name: str
    summary: str
    apply: Callable[[Engine], Awaitable[None]]  # type: ignore[type-arg]


@dataclass(frozen=True)
class MigrationReport:
    """What one :func:`migrate` call did."""

    applied: tuple[Migration, ...]
    adopted: bool
    """The database predates migrations: the baseline recorded tables that already existed."""
    known: int
    """How many migrations this code knows (all of them are applied after the call)."""


async def _m001_baseline(engine: Engine) -> None:  # type: ignore[type-arg]
    for statement in baseline_statements(postgres=isinstance(engine, PostgresEngine)):
        await engine.run_ddl(statement)


async def _m002_perf_actor(engine: Engine) -> None:  # type: ignore[type-arg]
    count = "BIGINT" if isinstance(engine, PostgresEngine) else "INTEGER"
    await engine.run_ddl(
        'CREATE TABLE IF NOT EXISTS "perf_actor" ('
        "\"case_id\" TEXT PRIMARY KEY NOT NULL DEFAULT '', "
        f'"seen_events" {count} NOT NULL DEFAULT 0, '
        f'"seen_hlc_wall" {count} NOT NULL DEFAULT 0, '
        f'"seen_hlc_counter" {count} NOT NULL DEFAULT 0, '
        '"accepted_node" TEXT DEFAULT null, "accepted_by" TEXT DEFAULT null, '
        '"decided_node" TEXT DEFAULT null, "decided_by" TEXT DEFAULT null)'
    )


async def _m003_supervision_wd_due(engine: Engine) -> None:  # type: ignore[type-arg]
    # Written to find either shape: a database made by create_table() of a newer class already
    # has wd_due. The next reconciliation fills wd_due (NULL differs from any value).
    present = await _column_names(engine, "supervision_case")
    number = "BIGINT" if isinstance(engine, PostgresEngine) else "INTEGER"
    if "wd_due" not in present:
        await engine.run_ddl(
            f'ALTER TABLE "supervision_case" ADD COLUMN "wd_due" {number} DEFAULT null'
        )
    for gone in ("remaining_days", "overdue_days"):
        if gone in present:
            await engine.run_ddl(f'ALTER TABLE "supervision_case" DROP COLUMN "{gone}"')


async def _column_names(engine: Engine, table: str) -> set[str]:  # type: ignore[type-arg]
    if isinstance(engine, PostgresEngine):
        sql = (
            "SELECT column_name AS c FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = {}"
        )
    else:
        sql = "SELECT name AS c FROM pragma_table_info({})"
    return {str(row["c"]) for row in await _run(engine, sql, [table])}


MIGRATIONS: tuple[Migration, ...] = (
    Migration("m001_baseline", "通办 0.1.0 的县中心数据库结构（基线）", _m001_baseline),
    Migration("m002_perf_actor", "绩效：记录每件办件的受理人与决定人", _m002_perf_actor),
    Migration(
        "m003_supervision_wd_due",
        "电子监察：只保存到期日的工作日序号，剩余与超期天数读取时计算（对账不再每天重写全部办件）",
        _m003_supervision_wd_due,
    ),
)
"""Every migration this version knows, in the order they apply."""


async def _run(engine: Engine, sql: str, params: Sequence[Any] = ()) -> list[Any]:  # type: ignore[type-arg]
    return list(await engine.run_querystring(Sql(sql, params)))


async def _table_exists(engine: Engine, name: str) -> bool:  # type: ignore[type-arg]
    if isinstance(engine, PostgresEngine):
        rows = await _run(engine, "SELECT to_regclass({}) IS NOT NULL AS found", [name])
        return bool(rows[0]["found"])
    rows = await _run(
        engine, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = {}", [name]
    )
    return bool(rows)


async def _recorded(engine: Engine) -> list[str]:  # type: ignore[type-arg]
    rows = await _run(engine, "SELECT name FROM schema_migration ORDER BY applied_at, name")
    return [str(row["name"]) for row in rows]


async def applied_migrations(engine: Engine) -> list[str]:  # type: ignore[type-arg]
    """Names recorded in the database, oldest first (empty before the first migration)."""
    if not await _table_exists(engine, "schema_migration"):
        return []
    return await _recorded(engine)


def _refuse_unknown(recorded: Sequence[str], known: Sequence[Migration]) -> None:
    names = {m.name for m in known}
    unknown = [name for name in recorded if name not in names]
    if unknown:
        raise ConflictError(
            "县中心数据库由更新版本的通办写入（本版本不认识的迁移："
            + "、".join(unknown)
            + "）。请安装不低于该版本的通办后再启动，切勿删除或改写数据库。",
            code="schema_too_new",
        )


@asynccontextmanager
async def _migrating(engine: Engine) -> AsyncIterator[None]:  # type: ignore[type-arg]
    """One write transaction that holds every other migrating process off until it ends."""
    if isinstance(engine, SQLiteEngine):
        async with engine.transaction(transaction_type=TransactionType.immediate):
            yield
        return
    async with engine.transaction():
        await _run(engine, f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
        yield


async def migrate(
    engine: Engine,  # type: ignore[type-arg]
    migrations: Sequence[Migration] = MIGRATIONS,
) -> MigrationReport:
    """Apply the pending migrations in order; refuse a database from a newer tongban.

    Call with the tables bound and, on PostgreSQL, the pool started. An up-to-date database is
    only read, so calling this at every start costs one or two queries.

    Raises:
        ConflictError: the database records a migration not in ``migrations``
            (``schema_too_new``); nothing is changed.
        Exception: whatever a failing migration raised; that migration and every later one are
            not applied, those before it stay applied.
    """
    recorded = await applied_migrations(engine)
    _refuse_unknown(recorded, migrations)
    if all(m.name in recorded for m in migrations):
        return MigrationReport(applied=(), adopted=False, known=len(migrations))
    applied: list[Migration] = []
    adopted = False
    for migration in migrations:
        async with _migrating(engine):
            # Read again under the lock: another process may have migrated since, even with newer
            # code. The record table is created first because that DDL also makes PostgreSQL see
            # tables committed while this transaction waited for the lock.
            await engine.run_ddl(_RECORD_TABLE)
            recorded = await _recorded(engine)
            _refuse_unknown(recorded, migrations)
            if migration.name in recorded:
                continue
            if not recorded and not applied:
                adopted = await _table_exists(engine, _FIRST_TABLE)
            await migration.apply(engine)
            await _run(
                engine,
                "INSERT INTO schema_migration (name, applied_at) VALUES ({}, {})",
                [migration.name, datetime.now(UTC).isoformat()],
            )
        applied.append(migration)
    return MigrationReport(applied=tuple(applied), adopted=adopted, known=len(migrations))


async def missing_columns(
    engine: Engine,  # type: ignore[type-arg]
    tables: Sequence[type[Table]],
) -> list[str]:
    """``table.column`` (or ``table``) the code declares and the database lacks."""
    if isinstance(engine, PostgresEngine):
        sql = (
            "SELECT table_name AS t, column_name AS c FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
    else:
        sql = (
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m "
            "JOIN pragma_table_info(m.name) p WHERE m.type = 'table'"
        )
    present: dict[str, set[str]] = {}
    for row in await _run(engine, sql):
        present.setdefault(str(row["t"]), set()).add(str(row["c"]))
    missing: list[str] = []
    for table in tables:
        name = table._meta.tablename
        if name not in present:
            missing.append(name)
            continue
        columns = (column._meta.db_column_name for column in table._meta.columns)
        missing.extend(f"{name}.{column}" for column in columns if column not in present[name])
    return missing


async def check_schema(engine: Engine, tables: Sequence[type[Table]]) -> None:  # type: ignore[type-arg]
    """Refuse to run on a database that lacks a table or column the code uses.

    After :func:`migrate` this fails only when a table class changed without a migration, so the
    mistake shows at start-up instead of as a failing query in the middle of someone's work.

    Raises:
        ConflictError: ``schema_incomplete``, naming every missing table and column.
    """
    missing = await missing_columns(engine, tables)
    if missing:
        raise ConflictError(
            "县中心数据库缺少本版本使用的表或列："
            + "、".join(missing)
            + "。代码中的表定义已变更但没有对应的迁移（central/db/migrations.py）。",
            code="schema_incomplete",
        )
