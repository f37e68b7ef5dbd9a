"""Versioned migrations of the county database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from piccolo.columns import Text
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

from central.db.bulk_sql import Sql
from central.db.engine import COUNTY_TABLES, bind_tables, close_database, make_engine, open_database
from central.db.migrations import (
    MIGRATIONS,
    Migration,
    applied_migrations,
    check_schema,
    migrate,
    missing_columns,
)
from central.db.portal_tables import ensure_portal_schema
from central.db.reconcile_sql import ensure_supervision_schema
from central.db.sync_store import ensure_sync_schema
from shared.errors import ConflictError
from tongban.cli import main

pytestmark = pytest.mark.anyio

NAMES = [m.name for m in MIGRATIONS]


@pytest.fixture
async def engine(tmp_path: Path, central_database_url: str | None) -> AsyncIterator[Engine]:  # type: ignore[type-arg]
    """An engine with its tables bound and its pool started, on an empty database."""
    engine = make_engine(central_database_url, tmp_path / "central.sqlite")
    bind_tables(engine)
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool()
    yield engine
    if not isinstance(engine, PostgresEngine) or engine.pool is not None:
        await close_database(engine)


async def run(engine: Engine, sql: str, params: list[Any] | None = None) -> list[Any]:  # type: ignore[type-arg]
    return list(await engine.run_querystring(Sql(sql, params or [])))


async def create_the_old_way(engine: Engine) -> None:  # type: ignore[type-arg]
    """What ``open_database`` did before migrations: create each table if missing, then the
    composite indexes. Databases in the field were made like this."""
    for table in COUNTY_TABLES:
        await table.create_table(if_not_exists=True).run()  # type: ignore[no-untyped-call]
    await ensure_sync_schema(engine)
    await ensure_supervision_schema(engine)
    await ensure_portal_schema(engine)


async def table_names(engine: Engine) -> set[str]:  # type: ignore[type-arg]
    if isinstance(engine, PostgresEngine):
        sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {str(row["name"]) for row in await run(engine, sql)}


async def describe(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:  # type: ignore[type-arg]
    """Every column (type, nullability, default, key) and index of the tongban tables."""
    schema: dict[str, list[tuple[Any, ...]]] = {}
    if isinstance(engine, PostgresEngine):
        for row in await run(
            engine,
            "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, "
            "column_default FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
        ):
            values = list(row.values())
            schema.setdefault(f"{values[0]} columns", []).append(tuple(values[1:]))
        for row in await run(
            engine,
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() ORDER BY tablename, indexname",
        ):
            schema.setdefault(f"{row['tablename']} indexes", []).append(
                (row["indexname"], row["indexdef"])
            )
    else:
        for name in sorted(await table_names(engine)):
            columns = await run(engine, f"SELECT * FROM pragma_table_info('{name}')")
            schema[f"{name} columns"] = [tuple(c.values()) for c in columns]
            for index in await run(engine, f"SELECT * FROM pragma_index_list('{name}')"):
                parts = await run(engine, f"SELECT * FROM pragma_index_info('{index['name']}')")
                schema.setdefault(f"{name} indexes", []).append(
                    (index["name"], index["unique"], tuple(p["name"] for p in parts))
                )
    return {k: v for k, v in schema.items() if not k.startswith("schema_migration ")}


async def records(engine: Engine) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    rows = await run(engine, "SELECT name, applied_at FROM schema_migration ORDER BY name")
    return [(str(r["name"]), str(r["applied_at"])) for r in rows]


async def test_a_fresh_database_gets_every_migration_and_every_table(engine: Engine) -> None:  # type: ignore[type-arg]
    report = await migrate(engine)

    assert [m.name for m in report.applied] == NAMES and not report.adopted
    assert await applied_migrations(engine) == NAMES
    assert {t._meta.tablename for t in COUNTY_TABLES} <= await table_names(engine)
    assert await missing_columns(engine, COUNTY_TABLES) == []
    for _, applied_at in await records(engine):
        assert datetime.fromisoformat(applied_at).tzinfo is not None


async def test_a_second_run_does_nothing(engine: Engine) -> None:  # type: ignore[type-arg]
    await migrate(engine)
    before = (await records(engine), await describe(engine))

    again = await migrate(engine)

    assert again.applied == () and not again.adopted and again.known == len(MIGRATIONS)
    assert (await records(engine), await describe(engine)) == before


async def test_migrations_build_exactly_the_schema_the_code_declares(engine: Engine) -> None:  # type: ignore[type-arg]
    await create_the_old_way(engine)
    declared = await describe(engine)
    for table in COUNTY_TABLES:
        await engine.run_ddl(f'DROP TABLE "{table._meta.tablename}"')
    assert await describe(engine) == {}

    await migrate(engine)

    # Compared key by key so a difference names its table.
    migrated = await describe(engine)
    assert sorted(migrated) == sorted(declared)
    for key, value in declared.items():
        assert migrated[key] == value, key


async def test_a_database_made_before_migrations_is_adopted_with_its_rows(engine: Engine) -> None:  # type: ignore[type-arg]
    await create_the_old_way(engine)
    # A development build before the county window had no casework tables, and one had an index
    # that was dropped since.
    await engine.run_ddl('DROP TABLE "casework_request"')
    await engine.run_ddl("CREATE INDEX sync_log_client_id ON sync_log (client_id)")
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    await run(
        engine,
        "INSERT INTO catalog_release (version, content_hash, body, published_at, published_by) "
        "VALUES ({}, {}, {}, {}, {})",
        [1, "ab" * 32, '{"items": []}', now, "管理员"],
    )
    await run(
        engine,
        "INSERT INTO sync_head (origin, seq, hash, hlc_wall, hlc_counter) "
        "VALUES ({}, {}, {}, {}, {})",
        ["zhen-a", 7, b"\x00\xff" * 16, 2**53 - 1, 3],
    )
    await run(
        engine,
        "INSERT INTO county_account (username, name, roles, home_node, department, "
        "password_hash, active, created_at, password_changed_at) "
        "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
        ["wang", "王五", "clerk", "county", None, "scrypt$x", True, now, now],
    )
    tables_before = await table_names(engine)

    report = await migrate(engine)
    await check_schema(engine, COUNTY_TABLES)

    assert report.adopted and [m.name for m in report.applied] == NAMES
    assert await table_names(engine) == tables_before | {"casework_request", "schema_migration"}
    release = await run(engine, "SELECT version, content_hash, body FROM catalog_release")
    assert [tuple(r.values()) for r in release] == [(1, "ab" * 32, '{"items": []}')]
    head = await run(engine, "SELECT origin, seq, hash, hlc_wall FROM sync_head")
    assert [tuple(r.values()) for r in head] == [("zhen-a", 7, b"\x00\xff" * 16, 2**53 - 1)]
    account = await run(engine, "SELECT username, name, active FROM county_account")
    assert [tuple(r.values()) for r in account] == [("wang", "王五", True)]
    indexes = await describe(engine)
    assert not any("sync_log_client_id" in str(value) for value in indexes.values())
    assert (await migrate(engine)).applied == ()


async def test_a_database_from_newer_code_is_refused_untouched(engine: Engine) -> None:  # type: ignore[type-arg]
    await migrate(engine)
    await run(
        engine,
        "INSERT INTO schema_migration (name, applied_at) VALUES ({}, {})",
        ["m999_from_the_future", datetime.now(UTC).isoformat()],
    )
    before = (await records(engine), await describe(engine))
    pending = Migration("m002_pending", "测试", create_table("never_created"))

    with pytest.raises(ConflictError) as refused:
        await migrate(engine, (*MIGRATIONS, pending))

    assert refused.value.code == "schema_too_new"
    assert "m999_from_the_future" in refused.value.message and "更新版本" in refused.value.message
    assert (await records(engine), await describe(engine)) == before
    await close_database(engine)
    with pytest.raises(ConflictError, match="m999_from_the_future"):
        await open_database(engine)
    # A refused start leaves no PostgreSQL pool behind.
    assert getattr(engine, "pool", None) is None


def create_table(name: str, *, alter: str | None = None) -> Any:
    """A migration step creating one table (and adding a column to another when asked)."""

    async def apply(engine: Engine) -> None:  # type: ignore[type-arg]
        await engine.run_ddl(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, note TEXT)")
        if alter is not None:
            await engine.run_ddl(f"ALTER TABLE {alter} ADD COLUMN from_{name} TEXT")

    return apply


async def test_a_failing_migration_leaves_nothing_half_applied(engine: Engine) -> None:  # type: ignore[type-arg]
    async def half_then_fail(engine: Engine) -> None:  # type: ignore[type-arg]
        await create_table("half_made", alter="catalog_release")(engine)
        await run(engine, "INSERT INTO half_made (id, note) VALUES (1, 'x')")
        await run(engine, "INSERT INTO sync_cursor (name, value) VALUES ('half', 1)")
        raise RuntimeError("迁移中途失败")

    later = Migration("m003_later", "测试", create_table("made_later"))
    broken = (*MIGRATIONS, Migration("m002_broken", "测试", half_then_fail), later)

    with pytest.raises(RuntimeError, match="迁移中途失败"):
        await migrate(engine, broken)

    # DDL and rows of the failed migration are rolled back on both backends; the baseline,
    # committed in its own transaction before, stays; nothing after the failure ran.
    assert await applied_migrations(engine) == NAMES
    assert not {"half_made", "made_later"} & await table_names(engine)
    assert not any("from_half_made" in str(v) for v in (await describe(engine)).values())
    assert await run(engine, "SELECT * FROM sync_cursor") == []

    fixed = Migration("m002_broken", "测试", create_table("half_made", alter="catalog_release"))
    report = await migrate(engine, (*MIGRATIONS, fixed, later))

    assert [m.name for m in report.applied] == ["m002_broken", "m003_later"]
    assert {"half_made", "made_later"} <= await table_names(engine)


async def test_two_processes_starting_together_apply_each_migration_once(
    engine: Engine,  # type: ignore[type-arg]
    tmp_path: Path,
    central_database_url: str | None,
) -> None:
    other = make_engine(central_database_url, tmp_path / "central.sqlite")
    if isinstance(other, PostgresEngine):
        await other.start_connection_pool()
    try:
        reports = await asyncio.gather(migrate(engine), migrate(other))
    finally:
        await close_database(other)

    applied = [m.name for report in reports for m in report.applied]
    assert sorted(applied) == sorted(NAMES)
    assert [name for name, _ in await records(engine)] == sorted(NAMES)


class Unmigrated(Table, tablename="test_unmigrated"):
    """A table class no migration creates."""

    note = Text()


async def test_a_table_changed_without_a_migration_is_named_at_start(engine: Engine) -> None:  # type: ignore[type-arg]
    await migrate(engine)
    await engine.run_ddl('ALTER TABLE "node_entry" DROP COLUMN "enrolled_at"')

    with pytest.raises(ConflictError) as incomplete:
        await check_schema(engine, (*COUNTY_TABLES, Unmigrated))

    assert incomplete.value.code == "schema_incomplete"
    assert "node_entry.enrolled_at" in incomplete.value.message
    assert "test_unmigrated" in incomplete.value.message


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5).flatmap(lambda k: st.tuples(st.just(k), st.integers(0, k))))
def test_upgrading_from_any_older_version_applies_exactly_the_rest_in_order(
    sizes: tuple[int, int],
) -> None:
    known, installed = sizes
    # Each step alters the previous step's table, so any other order would fail.
    steps = tuple(
        Migration(
            f"m{i:03}_step",
            "测试",
            create_table(f"step_{i}", alter=f"step_{i - 1}" if i > 1 else None),
        )
        for i in range(1, known + 1)
    )

    async def scenario(path: Path) -> None:
        engine = make_engine(None, path)
        first = await migrate(engine, steps[:installed])
        upgrade = await migrate(engine, steps)

        assert [m.name for m in first.applied] == [m.name for m in steps[:installed]]
        assert [m.name for m in upgrade.applied] == [m.name for m in steps[installed:]]
        assert await applied_migrations(engine) == [m.name for m in steps]
        assert {f"step_{i}" for i in range(1, known + 1)} <= await table_names(engine)
        assert (await migrate(engine, steps)).applied == ()
        if known > 1:
            with pytest.raises(ConflictError):
                await migrate(engine, steps[: known - 1])

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(scenario(Path(folder) / "county.sqlite"))


def test_the_migrate_command_reports_what_it_did(
    tmp_path: Path,
    central_database_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if central_database_url:
        monkeypatch.setenv("CENTRAL_DATABASE_URL", central_database_url)
    else:
        monkeypatch.delenv("CENTRAL_DATABASE_URL", raising=False)
    data = str(tmp_path / "central")

    assert main(["central", "migrate", "--data", data]) == 0
    first = capsys.readouterr().out
    assert main(["central", "migrate", "--data", data]) == 0
    second = capsys.readouterr().out

    assert all(f"已应用迁移 {name}" in first for name in NAMES) and "接管" not in first
    assert "已是最新" in second and "已应用迁移" not in second

    async def from_the_future() -> None:
        engine = make_engine(central_database_url, tmp_path / "central" / "central.sqlite")
        await open_database(engine)
        await run(
            engine,
            "INSERT INTO schema_migration (name, applied_at) VALUES ({}, {})",
            ["m999_from_the_future", datetime.now(UTC).isoformat()],
        )
        await close_database(engine)

    asyncio.run(from_the_future())
    assert main(["central", "migrate", "--data", data]) == 1
    assert "m999_from_the_future" in capsys.readouterr().err
