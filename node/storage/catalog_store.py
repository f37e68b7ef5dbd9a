"""Catalog releases held by a node."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from node.storage.database import NodeDatabase


@dataclass(frozen=True)
class NodeRelease:
    """A catalog release as the node stored it."""

    version: int
    content_hash: str
    body: bytes
    published_at: str
    received_at: str
    source: str


class NodeCatalogStore:
    """Read and append the releases this node has received."""

    def __init__(self, database: NodeDatabase) -> None:
        self._database = database

    def all(self) -> list[NodeRelease]:
        """Every release held, oldest first (cases keep the version they were accepted under)."""

        def query(db: Database) -> list[NodeRelease]:
            return [
                _to_release(r) for r in db.table("catalog_release").rows_where(order_by="version")
            ]

        return self._database.read(query)

    def append(self, release: NodeRelease) -> None:
        """Store a release (the caller has checked it is newer)."""

        def insert(db: Database) -> None:
            db.table("catalog_release").insert(
                {
                    "version": release.version,
                    "content_hash": release.content_hash,
                    "body": release.body.decode("utf-8"),
                    "published_at": release.published_at,
                    "received_at": release.received_at,
                    "source": release.source,
                }
            )

        self._database.write(insert)


def _to_release(row: dict[str, object]) -> NodeRelease:
    return NodeRelease(
        version=int(str(row["version"])),
        content_hash=str(row["content_hash"]),
        body=str(row["body"]).encode("utf-8"),
        published_at=str(row["published_at"]),
        received_at=str(row["received_at"]),
        source=str(row["source"]),
    )
