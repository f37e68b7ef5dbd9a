"""Catalog releases in the county database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from central.db.tables import CatalogRelease
from shared.errors import ConflictError


@dataclass(frozen=True)
class StoredRelease:
    """A catalog release as stored: the exact published bytes and their identity."""

    version: int
    content_hash: str
    body: bytes
    published_at: datetime
    published_by: str


class CatalogStore:
    """Read and append catalog releases; releases are never changed once written."""

    async def latest(self) -> StoredRelease | None:
        """The release with the highest version, if any."""
        row = (
            await CatalogRelease.select()
            .order_by(CatalogRelease.version, ascending=False)
            .first()
            .run()
        )
        return _to_release(row) if row else None

    async def get(self, version: int) -> StoredRelease | None:
        """One release by version."""
        row = await CatalogRelease.select().where(CatalogRelease.version == version).first().run()
        return _to_release(row) if row else None

    async def append(self, release: StoredRelease) -> None:
        """Store a new release.

        Raises:
            ConflictError: that version already exists (releases are immutable).
        """
        if await CatalogRelease.exists().where(CatalogRelease.version == release.version).run():
            raise ConflictError(f"目录版本 {release.version} 已存在，已发布的版本不能修改。")
        await CatalogRelease.insert(
            CatalogRelease(
                version=release.version,
                content_hash=release.content_hash,
                body=release.body.decode("utf-8"),
                published_at=release.published_at,
                published_by=release.published_by,
            )
        ).run()


def _to_release(row: dict[str, object]) -> StoredRelease:
    published_at = row["published_at"]
    assert isinstance(published_at, datetime)
    return StoredRelease(
        version=int(str(row["version"])),
        content_hash=str(row["content_hash"]),
        body=str(row["body"]).encode("utf-8"),
        published_at=published_at,
        published_by=str(row["published_by"]),
    )
