"""The node database: migrations, refusal of newer schemas, all-or-nothing writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.storage.database import NodeDatabase
from node.storage.migrations import known_migration_names
from shared.errors import ConflictError


def test_migrations_apply_once_and_record_themselves(tmp_path: Path) -> None:
    NodeDatabase(tmp_path / "n.sqlite").close()
    database = NodeDatabase(tmp_path / "n.sqlite")
    names = database.read(lambda db: [r["name"] for r in db["_sqlite_migrations"].rows])
    assert names == known_migration_names()
    assert database.read(lambda db: db["catalog_release"].exists())
    assert database.read(lambda db: db.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
    database.close()


def test_database_from_a_newer_version_is_refused_not_moved(tmp_path: Path) -> None:
    database = NodeDatabase(tmp_path / "n.sqlite")
    database.write(
        lambda db: db.table("_sqlite_migrations").insert(
            {"migration_set": "node", "name": "m999_future", "applied_at": "2030-01-01"}
        )
    )
    database.close()
    with pytest.raises(ConflictError) as caught:
        NodeDatabase(tmp_path / "n.sqlite")
    assert caught.value.code == "schema_too_new"
    assert (tmp_path / "n.sqlite").exists()


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    database = NodeDatabase(tmp_path / "n.sqlite")

    def half_then_fail(db):  # type: ignore[no-untyped-def]
        db["catalog_release"].insert(
            {
                "version": 1,
                "content_hash": "h",
                "body": "{}",
                "published_at": "",
                "received_at": "",
                "source": "",
            }
        )
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        database.write(half_then_fail)
    assert database.read(lambda db: db["catalog_release"].count) == 0
    database.close()
