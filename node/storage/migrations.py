"""Schema of the node database as registered, transactional migrations.

Migrations are applied at start-up. A database written by a newer tongban (a migration this
version does not know) is refused instead of being guessed at: an offline node's records are
the only copy until they reach the parent.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from shared.errors import ConflictError

MIGRATIONS = Migrations("node")


@MIGRATIONS()
def m001_catalog_release(db: Database) -> None:
    """Catalog releases received from the parent, stored as the exact published bytes."""
    db.table("catalog_release").create(
        {
            "version": int,
            "content_hash": str,
            "body": str,
            "published_at": str,
            "received_at": str,
            "source": str,
        },
        pk="version",
    )


def known_migration_names() -> list[str]:
    """Names this version of tongban can apply, in order."""
    return [m.name for m in MIGRATIONS._migrations]


def migrate(db: Database) -> None:
    """Apply pending migrations; refuse a database from a newer version.

    Raises:
        ConflictError: the database has migrations this version does not know.
    """
    known = set(known_migration_names())
    unknown = [m.name for m in MIGRATIONS.applied(db) if m.name not in known]
    if unknown:
        raise ConflictError(
            "节点数据库由更新版本的通办创建（未知迁移："
            + "、".join(unknown)
            + "）。请升级通办后再启动，切勿删除数据库。",
            code="schema_too_new",
        )
    MIGRATIONS.apply(db)
