"""Catalog releases at the county: publish a checked catalog, read the current one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from central.db.catalog_store import CatalogStore, StoredRelease
from shared.catalog import Catalog, decode_catalog, encode_catalog
from shared.digest import sha256_hex
from shared.errors import NotFoundError
from shared.guide import GuideEntry, GuidePage, county_guide
from sync.releases import ReleaseDocument


@dataclass(frozen=True)
class CurrentCatalog:
    """The catalog in force and the release it came from."""

    version: int
    content_hash: str
    published_at: datetime
    body: bytes
    catalog: Catalog


class CatalogService:
    """Publishes catalog releases and serves the one in force."""

    def __init__(self, store: CatalogStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._cache: CurrentCatalog | None = None

    async def current(self) -> CurrentCatalog | None:
        """The newest release, decoded once per version."""
        latest = await self._store.latest()
        if latest is None:
            return None
        cached = self._cache
        if cached is None or cached.version != latest.version:
            cached = self._cache = _decoded(latest)
        return cached

    async def publish(self, catalog: Catalog, *, by: str) -> CurrentCatalog:
        """Check the catalog and store it as the next release.

        Publishing content identical to the release in force creates no new version, so a
        repeated import is harmless.

        Raises:
            ValidationError: the catalog has problems; every one is listed.
        """
        catalog.check()
        body = encode_catalog(catalog)
        content_hash = sha256_hex(body)
        latest = await self._store.latest()
        if latest is not None and latest.content_hash == content_hash:
            return _decoded(latest)
        release = StoredRelease(
            version=(latest.version + 1) if latest else 1,
            content_hash=content_hash,
            body=body,
            published_at=self._clock(),
            published_by=by,
        )
        await self._store.append(release)
        return _decoded(release)

    async def release(self) -> ReleaseDocument:
        """The release in force, exactly as published, for the nodes to fetch.

        Raises:
            NotFoundError: nothing has been published yet.
        """
        current = await self.current()
        if current is None:
            raise NotFoundError("尚未发布事项目录。", code="catalog_missing")
        return ReleaseDocument(
            version=current.version,
            content_hash=current.content_hash,
            published_at=current.published_at,
            body=current.body.decode("utf-8"),
        )


def _decoded(release: StoredRelease) -> CurrentCatalog:
    return CurrentCatalog(
        version=release.version,
        content_hash=release.content_hash,
        published_at=release.published_at,
        body=release.body,
        catalog=decode_catalog(release.body),
    )


class GuideService:
    """The county-wide service guide (办事指南) for the portal and the API."""

    def __init__(self, catalog: CatalogService) -> None:
        self._catalog = catalog

    async def entries(self, query: str = "") -> GuidePage:
        """Every county item matching ``query``."""
        current = await self._catalog.current()
        if current is None:
            return GuidePage(catalog_version=None, entries=())
        return GuidePage(
            catalog_version=current.version, entries=county_guide(current.catalog, query)
        )

    async def entry(self, code: str) -> GuideEntry:
        """One item's guide entry.

        Raises:
            NotFoundError: no catalog yet, or no such item.
        """
        current = await self._catalog.current()
        if current is None:
            raise NotFoundError("尚未发布事项目录。", code="catalog_missing")
        item = current.catalog.item(code)
        return next(e for e in county_guide(current.catalog) if e.code == item.code)
